//! The Djoser-compatible API at `/auth/`, end to end over HTTP, one module
//! per area. Expected bodies are Djoser 2.3.5's and, for the JWT views,
//! simplejwt's (shared/reference/djoser-wire.md §2, exact strings taken from
//! the pinned packages); doorman's deliberate departures (SPEC §2 "Beyond
//! Djoser", wire notes §9) are named where they are asserted. Mail goes to a
//! real SMTP sink in the test. This file holds the helpers the areas share;
//! those other modules use too are in `support`.

mod activation;
mod auth_headers;
mod email_login;
mod jwt;
mod methods;
mod password;
mod registration;
mod tokens;
mod username;
mod users;

use axum::http::{Method, StatusCode};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::support::{
    TestApp, TestResponse,
    client::{assert_json, call, post, text},
};

// ---------------------------------------------------------------------------
// Djoser: strings, requests, assertions, accounts, mail
// ---------------------------------------------------------------------------

/// Another password every validator accepts, for changes and resets.
pub(crate) const NEW_PW: &str = "another-Solid-phrase-77";
/// The front end's domain in mailed links.
pub(crate) use crate::support::smtp::{app_with_mail, delivered, link_in, mail_app_on};

pub(crate) const REQUIRED: &str = "This field is required.";
pub(crate) const BLANK: &str = "This field may not be blank.";
pub(crate) const NULL: &str = "This field may not be null.";
pub(crate) const BAD_EMAIL: &str = "Enter a valid email address.";
pub(crate) const BAD_USERNAME: &str = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
pub(crate) const TOO_LONG_150: &str = "Ensure this field has no more than 150 characters.";
pub(crate) const USERNAME_TAKEN: &str = "A user with that username already exists.";
pub(crate) const EMAIL_TAKEN: &str = "user with this email address already exists.";
pub(crate) const INVALID_UID: &str = "Invalid user id or user doesn't exist.";
pub(crate) const INVALID_TOKEN: &str = "Invalid token for given user.";
pub(crate) const STALE_TOKEN: &str = "Stale token for given user.";
pub(crate) const PASSWORD_MISMATCH: &str = "The two password fields didn't match.";
pub(crate) const INVALID_PASSWORD: &str = "Invalid password.";
pub(crate) const EMAIL_NOT_FOUND: &str = "User with given email does not exist.";
pub(crate) const INVALID_CREDENTIALS: &str = "Unable to log in with provided credentials.";
pub(crate) const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
pub(crate) const TOO_SHORT: &str =
    "This password is too short. It must contain at least 8 characters.";
pub(crate) const TOO_COMMON: &str = "This password is too common.";
pub(crate) const NUMERIC: &str = "This password is entirely numeric.";
pub(crate) const SIMILAR_USERNAME: &str = "The password is too similar to the username.";

/// Authenticated JSON POST.
pub(crate) async fn post_as(app: &TestApp, auth: &str, path: &str, body: Value) -> TestResponse {
    call(app, Method::POST, path, Some(auth), Some(body)).await
}

/// Authenticated GET.
pub(crate) async fn get_as(app: &TestApp, auth: &str, path: &str) -> TestResponse {
    call(app, Method::GET, path, Some(auth), None).await
}

pub(crate) fn bearer(access: &str) -> String {
    format!("Bearer {access}")
}

/// Asserts Djoser's 204: no body and no content type.
#[track_caller]
pub(crate) fn assert_no_content(r: &TestResponse) {
    assert_eq!(r.status, StatusCode::NO_CONTENT, "body: {}", text(r));
    assert!(r.body.is_empty(), "204 with a body: {}", text(r));
    assert_eq!(r.header("content-type"), None);
}

/// Logs in at `jwt/create/`; `(refresh, access)`.
pub(crate) async fn login_jwt(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let r = post(
        app,
        "/auth/jwt/create/",
        json!({"username": username, "password": password}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "jwt/create: {}", text(&r));
    let body = r.json();
    (
        body["refresh"].as_str().unwrap().to_string(),
        body["access"].as_str().unwrap().to_string(),
    )
}

/// The status `users/me/` answers with these credentials.
pub(crate) async fn me_status(app: &TestApp, auth: &str) -> StatusCode {
    get_as(app, auth, "/auth/users/me/").await.status
}

/// The status `jwt/refresh/` answers for this refresh token.
pub(crate) async fn refresh_status(app: &TestApp, refresh: &str) -> StatusCode {
    post(app, "/auth/jwt/refresh/", json!({ "refresh": refresh }))
        .await
        .status
}

/// The status of a login at `token/login/`.
pub(crate) async fn login_status(app: &TestApp, username: &str, password: &str) -> StatusCode {
    post(
        app,
        "/auth/token/login/",
        json!({"username": username, "password": password}),
    )
    .await
    .status
}

/// Djoser's uid: unpadded base64url of the decimal id.
pub(crate) fn uid_of(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

pub(crate) async fn user_count(app: &TestApp) -> i64 {
    app.db.scalar("SELECT COUNT(*) FROM auth_user").await
}

pub(crate) async fn is_active(app: &TestApp, username: &str) -> bool {
    let n = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM auth_user WHERE username = '{username}' AND is_active"
        ))
        .await;
    n == 1
}

pub(crate) async fn set_flag(app: &TestApp, username: &str, column: &str, value: bool) {
    app.db
        .execute(&format!(
            "UPDATE auth_user SET {column} = {value} WHERE username = '{username}'"
        ))
        .await;
}

pub(crate) async fn token_rows(app: &TestApp, user_id: i64) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT COUNT(*) FROM doorman_token WHERE user_id = {user_id}"
        ))
        .await
}

// ---------------------------------------------------------------------------
// Sessions: DRF and simplejwt bodies, users
// ---------------------------------------------------------------------------

pub(crate) const INVALID_TOKEN_HEADER: &str = "Invalid token.";
pub(crate) const ALLOW_DETAIL: &str = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS";

/// simplejwt's 401 for a bad bearer token.
pub(crate) fn bad_bearer(message: &str) -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
    })
}

/// A 401 with the challenge header.
#[track_caller]
pub(crate) fn assert_401(r: &TestResponse, body: Value) {
    assert_json(r, StatusCode::UNAUTHORIZED, body);
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""));
}

pub(crate) fn token_not_valid(detail: &str) -> Value {
    json!({"detail": detail, "code": "token_not_valid"})
}

pub(crate) async fn user_exists(app: &TestApp, id: i64) -> bool {
    app.db
        .scalar(&format!("SELECT COUNT(*) FROM auth_user WHERE id = {id}"))
        .await
        == 1
}

pub(crate) fn user_body(id: i64, username: &str) -> Value {
    json!({"email": format!("{username}@example.com"), "id": id, "username": username})
}
