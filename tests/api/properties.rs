//! Property tests of the parsers that read untrusted input: whatever a
//! client sends, doorman answers with a 4xx (never a 5xx) and the parsers
//! never panic.

use axum::{body::Body, http::Request};
use doorman::security::{django_tokens, hashers, jwt::JwtKeys};
use proptest::prelude::*;
use serde_json::Value;

use crate::support::{Backend, TestApp};

/// Arbitrary JSON values, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("MQ".into())),
        Just(Value::String("a@b.co".into())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((".{0,12}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Bodies shaped like the endpoints' own, with arbitrary values.
fn endpoint_body() -> impl Strategy<Value = Value> {
    let keys = prop::sample::subsequence(
        vec![
            "username",
            "password",
            "email",
            "re_password",
            "uid",
            "token",
            "new_password",
            "re_new_password",
            "current_password",
            "new_username",
            "refresh",
        ],
        0..6,
    );
    (keys, prop::collection::vec(json_value(), 6)).prop_map(|(keys, values)| {
        Value::Object(keys.into_iter().map(String::from).zip(values).collect())
    })
}

const PATHS: &[&str] = &[
    "/auth/users/",
    "/auth/users/activation/",
    "/auth/users/resend_activation/",
    "/auth/users/reset_password/",
    "/auth/users/reset_password_confirm/",
    "/auth/users/reset_username/",
    "/auth/users/reset_username_confirm/",
    "/auth/token/login/",
    "/auth/jwt/create/",
    "/auth/jwt/refresh/",
    "/auth/jwt/verify/",
    "/auth/jwt/blacklist/",
    "/api/auth/register/",
    "/api/auth/login/",
    "/api/auth/token/refresh/",
    "/api/auth/forgot-password/",
    "/api/auth/reset-password-confirm/",
];

#[test]
fn no_body_makes_a_public_endpoint_fail_with_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::new(Backend::Sqlite));
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(body in prop_oneof![endpoint_body(), json_value()], path in prop::sample::select(PATHS), form in any::<bool>())| {
        let (content_type, bytes) = if form {
            let pairs: Vec<(String, String)> = body
                .as_object()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
                .unwrap_or_default();
            ("application/x-www-form-urlencoded", serde_urlencoded::to_string(pairs).unwrap())
        } else {
            ("application/json", body.to_string())
        };
        let request = Request::post(path).header("content-type", content_type).body(Body::from(bytes)).unwrap();
        let response = rt.block_on(app.send(request));
        prop_assert!(response.status.as_u16() < 500, "{} {} -> {} {:?}", path, body, response.status, String::from_utf8_lossy(&response.body));
    });
}

#[test]
fn no_profile_update_fails_with_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let app = rt.block_on(TestApp::with_settings(Backend::Sqlite, move |s| {
        s.media.root = root
    }));
    let token = rt.block_on(async {
        let body = serde_json::json!({"username": "prop", "password": "a-Sturdy-pass-42"});
        let r = app
            .send(
                Request::post("/auth/users/")
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, 201);
        let r = app
            .send(
                Request::post("/auth/token/login/")
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        r.json()["auth_token"].as_str().unwrap().to_string()
    });
    let keys = prop::sample::subsequence(
        vec![
            "phone",
            "address",
            "birth_date",
            "province",
            "bio",
            "roles",
            "profile_picture",
            "groups",
            "username",
        ],
        0..6,
    );
    let body = (keys, prop::collection::vec(json_value(), 6)).prop_map(|(keys, values)| {
        Value::Object(keys.into_iter().map(String::from).zip(values).collect())
    });
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(body in body, put in any::<bool>())| {
        let request = if put { Request::put("/api/auth/profile/") } else { Request::patch("/api/auth/profile/") };
        let request = request
            .header("content-type", "application/json")
            .header("authorization", format!("Token {token}"))
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = rt.block_on(app.send(request));
        prop_assert!(response.status.as_u16() < 500, "{} -> {} {:?}", body, response.status, String::from_utf8_lossy(&response.body));
    });
}

#[test]
fn arbitrary_authorization_headers_never_cause_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::new(Backend::Sqlite));
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(scheme in prop::sample::select(vec!["Token", "token", "Bearer", "bearer", "Basic", ""]), rest in "[ -~]{0,80}")| {
        let value = format!("{scheme} {rest}");
        let Ok(request) = Request::get("/auth/users/me/").header("authorization", value.clone()).body(Body::empty()) else {
            return Ok(());
        };
        let response = rt.block_on(app.send(request));
        prop_assert!(response.status.as_u16() < 500, "{:?} -> {}", value, response.status);
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn uids_round_trip_and_garbage_is_refused_quietly(id in any::<i32>(), garbage in ".{0,64}") {
        prop_assert_eq!(django_tokens::decode_uid(&django_tokens::encode_uid(id)), Some(id));
        let _ = django_tokens::decode_uid(&garbage);
    }

    #[test]
    fn stored_hash_parsing_never_panics(password in ".{0,20}", encoded in prop_oneof![
        ".{0,80}",
        "(pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt|md5|sha1)\\$[0-9a-zA-Z$=+/,.]{0,60}",
    ]) {
        let _ = hashers::verify_password(&password, &encoded, &hashers::Argon2Params::danger_fast_for_tests());
    }

    #[test]
    fn jwt_decoding_never_panics(token in prop_oneof![".{0,120}", "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,43}"]) {
        let keys = JwtKeys::new("k", 300, 86400, 0);
        prop_assert!(keys.decode(&token, None, time::OffsetDateTime::now_utc()).is_err());
    }

    #[test]
    fn reset_tokens_from_anywhere_are_refused(token in ".{0,60}") {
        let generator = django_tokens::TokenGenerator::new("secret", vec![], 259_200);
        let user = django_tokens::TokenUser { id: 1, password_hash: "x", last_login: None, email: "" };
        prop_assert!(!generator.check_token(&user, &token, time::OffsetDateTime::now_utc()));
    }
}
