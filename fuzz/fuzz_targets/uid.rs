//! Django's base64 user id from a reset or activation link: any text
//! decodes to a user id or to nothing, and what decodes round-trips.
#![no_main]

use doorman::security::django_tokens::{decode_uid, encode_uid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Some(id) = decode_uid(text) {
        assert_eq!(decode_uid(&encode_uid(id)), Some(id));
    }
});
