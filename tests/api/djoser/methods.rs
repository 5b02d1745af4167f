//! Methods: DRF's rule that an anonymous caller gets 401 before 405, and
//! OPTIONS and HEAD on `users/me/`.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{ALLOW_DETAIL, NOT_PROVIDED, assert_401, user_exists};
use crate::{
    on_both_backends,
    support::{
        TestApp,
        accounts::{login_token, register},
        client::{assert_json, call, text, token},
        people::PW,
    },
};

on_both_backends!(
    unsupported_methods_are_401_for_anonymous_and_405_for_users,
    options_and_head_on_users_me_are_answered,
);

// ---------------------------------------------------------------------------
// Methods: DRF's 401-before-405 rule, OPTIONS and HEAD
// ---------------------------------------------------------------------------

async fn unsupported_methods_are_401_for_anonymous_and_405_for_users(app: TestApp) {
    register(&app, "ann").await;
    let key = token(&login_token(&app, "ann", PW).await);
    let id = app
        .db
        .scalar("SELECT CAST(id AS BIGINT) FROM auth_user")
        .await;
    let cases = [
        (
            Method::PUT,
            "/auth/users/".to_string(),
            "GET, POST, HEAD, OPTIONS",
        ),
        (
            Method::DELETE,
            "/auth/users/".into(),
            "GET, POST, HEAD, OPTIONS",
        ),
        (
            Method::GET,
            "/auth/users/activation/".into(),
            "POST, OPTIONS",
        ),
        (
            Method::GET,
            "/auth/users/set_password/".into(),
            "POST, OPTIONS",
        ),
        (
            Method::GET,
            "/auth/users/reset_password/".into(),
            "POST, OPTIONS",
        ),
        (Method::POST, "/auth/users/me/".into(), ALLOW_DETAIL),
        (Method::POST, format!("/auth/users/{id}/"), ALLOW_DETAIL),
        (Method::GET, "/auth/token/logout/".into(), "POST, OPTIONS"),
    ];
    for (method, path, allow) in cases {
        let anonymous = call(&app, method.clone(), &path, None, None).await;
        assert_401(&anonymous, json!({"detail": NOT_PROVIDED}));
        let r = call(&app, method.clone(), &path, Some(&key), None).await;
        assert_json(
            &r,
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "detail": format!("Method \"{method}\" not allowed.") }),
        );
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
    // Public views answer 405 straight away.
    for path in [
        "/auth/token/login/",
        "/auth/jwt/create/",
        "/auth/jwt/refresh/",
    ] {
        let r = call(&app, Method::GET, path, None, None).await;
        assert_json(
            &r,
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"detail": "Method \"GET\" not allowed."}),
        );
        assert_eq!(r.header("allow"), Some("POST, OPTIONS"), "{path}");
    }
    // The 1.x `me/` has no DELETE.
    let r = call(
        &app,
        Method::DELETE,
        "/auth/me/",
        Some(&key),
        Some(json!({"current_password": PW})),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", text(&r));
    assert!(user_exists(&app, id).await);
}

async fn options_and_head_on_users_me_are_answered(app: TestApp) {
    let id = register(&app, "ann").await;
    let key = token(&login_token(&app, "ann", PW).await);
    // doorman: both are 500s in Djoser 2.3.5 (wire notes §9.1).
    let r = call(&app, Method::OPTIONS, "/auth/users/me/", Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert!(r.json()["name"].is_string(), "DRF metadata: {}", text(&r));
    assert_eq!(r.header("allow"), Some(ALLOW_DETAIL));
    let r = call(&app, Method::HEAD, "/auth/users/me/", Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    let r = call(&app, Method::HEAD, "/auth/users/", Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &app,
        Method::HEAD,
        &format!("/auth/users/{id}/"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    for method in [Method::OPTIONS, Method::HEAD] {
        let r = call(&app, method.clone(), "/auth/users/me/", None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "anonymous {method}");
    }
}
