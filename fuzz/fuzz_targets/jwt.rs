//! simplejwt-compatible tokens from an `Authorization` header or a body:
//! no input panics, and none is accepted without our signature (the
//! fuzzer cannot forge HMAC-SHA256, so anything accepted is a bug).
#![no_main]

use doorman::security::jwt::{JwtKeys, SignIn};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fuzz_target!(|token: &str| {
    let keys = JwtKeys::new("fuzz-secret-key-0123456789-abcdefghij", 300, 86_400, 0);
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    assert!(
        keys.decode_access(token, now).is_err(),
        "accepted {token:?}"
    );
    assert!(keys.verify(token, now).is_err(), "verified {token:?}");
    // A real token (of a two-factor login, with its three claims more)
    // with the fuzzer's bytes appended or spliced in is refused too.
    let sign_in = SignIn::new(1_800_000_000, &["pwd", "otp", "mfa"]);
    let pair = keys.issue_pair(7, Some(&sign_in), now);
    if !token.is_empty() {
        let spliced = format!("{}{token}", pair.access);
        assert!(
            keys.decode_access(&spliced, now).is_err(),
            "accepted {spliced:?}"
        );
    }
});
