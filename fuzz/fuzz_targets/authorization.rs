//! The `Authorization` header as simplejwt and DRF read it: any bytes
//! give a credential, no credential or a refusal, never a panic; a
//! credential is one word of the header.
#![no_main]

use doorman::http::auth::{Credential, credential};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &[u8]| {
    let types = ["Bearer".to_string(), "JWT".to_string()];
    if let Ok(Some(found)) = credential(value, &types) {
        let word = match found {
            Credential::Jwt(token) => token,
            Credential::Token(key) => key,
        };
        assert!(!word.is_empty());
        assert!(!word.bytes().any(|b| b.is_ascii_whitespace()));
    }
});
