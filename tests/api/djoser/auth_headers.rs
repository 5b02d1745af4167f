//! The `Authorization` header as DRF and simplejwt read it: malformed headers
//! get their bodies, and bad credentials are refused on public endpoints.

use axum::http::{HeaderValue, Method, StatusCode};
use serde_json::json;

use super::{
    INVALID_TOKEN_HEADER, NOT_PROVIDED, assert_401, bad_bearer, bearer, get_as, login_jwt,
    me_status, user_count,
};
use crate::{
    on_both_backends,
    support::{
        TestApp,
        accounts::{login_token, register},
        client::{call, text, token},
        people::PW,
    },
};

on_both_backends!(
    malformed_authorization_headers_get_drf_and_simplejwt_bodies,
    bad_credentials_on_public_endpoints_are_refused,
);

// ---------------------------------------------------------------------------
// The Authorization header
// ---------------------------------------------------------------------------

async fn malformed_authorization_headers_get_drf_and_simplejwt_bodies(app: TestApp) {
    register(&app, "ann").await;
    let key = login_token(&app, "ann", PW).await;
    let (refresh, access) = login_jwt(&app, "ann", PW).await;
    let two_values = json!({
        "detail": "Authorization header must contain two space-delimited values",
        "code": "bad_authorization_header",
    });
    let cases = [
        (
            "Token".to_string(),
            json!({"detail": "Invalid token header. No credentials provided."}),
        ),
        (
            "Token a b".into(),
            json!({"detail": "Invalid token header. Token string should not contain spaces."}),
        ),
        (
            "Token 0123456789abcdef0123456789abcdef01234567".into(),
            json!({"detail": INVALID_TOKEN_HEADER}),
        ),
        ("Bearer".into(), two_values.clone()),
        ("Bearer a b".into(), two_values),
        ("Bearer garbage".into(), bad_bearer("Token is invalid")),
        (bearer(&refresh), bad_bearer("Token has wrong type")),
        // Schemes nobody reads count as no credentials.
        ("Basic YW5uOnB3".into(), json!({"detail": NOT_PROVIDED})),
        (format!("bearer {access}"), json!({"detail": NOT_PROVIDED})),
        (format!("JWT {access}"), json!({"detail": NOT_PROVIDED})),
    ];
    for (header, body) in cases {
        let r = get_as(&app, &header, "/auth/users/me/").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header}: {}", text(&r));
        assert_401(&r, body);
    }
    let r = call(&app, Method::GET, "/auth/users/me/", None, None).await;
    assert_401(&r, json!({"detail": NOT_PROVIDED}));
    // Bytes that are not UTF-8.
    for (raw, body) in [
        (
            &b"Token \xff\xfe"[..],
            json!({"detail": "Invalid token header. Token string should not contain invalid characters."}),
        ),
        (&b"Bearer \xff\xfe"[..], bad_bearer("Token is invalid")),
    ] {
        let request = axum::http::Request::get("/auth/users/me/")
            .header("authorization", HeaderValue::from_bytes(raw).unwrap())
            .body(axum::body::Body::empty())
            .unwrap();
        assert_401(&app.send(request).await, body);
    }
    // The token scheme word is case-insensitive; Bearer is not.
    for header in [
        format!("token {key}"),
        format!("TOKEN {key}"),
        bearer(&access),
    ] {
        assert_eq!(me_status(&app, &header).await, StatusCode::OK, "{header}");
    }
}

async fn bad_credentials_on_public_endpoints_are_refused(app: TestApp) {
    register(&app, "ann").await;
    let key = token(&login_token(&app, "ann", PW).await);
    let body = json!({"username": "bob", "password": PW, "email": "bob@example.com"});
    for header in ["Token 0123456789abcdef0123456789abcdef01234567", "Token"] {
        let r = call(
            &app,
            Method::POST,
            "/auth/users/",
            Some(header),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header}: {}", text(&r));
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""));
    }
    let r = call(
        &app,
        Method::POST,
        "/auth/users/",
        Some("Bearer garbage"),
        Some(body.clone()),
    )
    .await;
    assert_401(&r, bad_bearer("Token is invalid"));
    assert_eq!(user_count(&app).await, 1, "nobody registered");
    let r = call(
        &app,
        Method::POST,
        "/auth/token/login/",
        Some("Token 0123456789abcdef0123456789abcdef01234567"),
        Some(json!({"username": "ann", "password": PW})),
    )
    .await;
    assert_401(&r, json!({"detail": INVALID_TOKEN_HEADER}));
    let r = call(
        &app,
        Method::POST,
        "/auth/users/reset_password/",
        Some("Bearer garbage"),
        Some(json!({"email": "ann@example.com"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Good credentials are fine on public endpoints: a signed-in caller may
    // register someone.
    let r = call(&app, Method::POST, "/auth/users/", Some(&key), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    assert_eq!(user_count(&app).await, 2);
}
