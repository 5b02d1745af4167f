//! Django's PasswordResetTokenGenerator token from a link: no input
//! panics, and none but the token made for the user checks.
#![no_main]

use doorman::security::django_tokens::{TokenGenerator, TokenUser};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fuzz_target!(|token: &str| {
    let generator = TokenGenerator::new(
        "fuzz-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        vec!["an-older-key".into()],
        259_200,
    );
    let user = TokenUser {
        id: 7,
        password_hash: "argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
        last_login: None,
        email: "someone@example.com",
    };
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    if generator.check_token(&user, token, now) {
        assert_eq!(token, generator.make_token(&user, now));
    }
});
