//! Talking to the app over HTTP: one request, the `Authorization` values,
//! reading and asserting bodies, and the DRF messages more than one area
//! expects.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::{TestApp, TestResponse};

/// DRF's 403 detail.
pub const DENIED: &str = "You do not have permission to perform this action.";

/// Sends one request; a JSON body when `body` is given.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> TestResponse {
    app.request(method, path, auth, body).await
}

/// Anonymous JSON POST.
pub async fn post(app: &TestApp, path: &str, body: Value) -> TestResponse {
    call(app, Method::POST, path, None, Some(body)).await
}

pub async fn json_as(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: &str,
    body: Value,
) -> TestResponse {
    call(app, method, path, Some(auth), Some(body)).await
}

/// The JSON payload of a JWT, read without checking the token.
pub fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON payload")
}

pub fn token(key: &str) -> String {
    format!("Token {key}")
}

pub fn text(r: &TestResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The keys of a JSON object, in the order they were sent.
pub fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Asserts a status and an exact JSON body.
#[track_caller]
pub fn assert_json(r: &TestResponse, status: StatusCode, body: Value) {
    assert_eq!(r.status, status, "body: {}", text(r));
    assert_eq!(r.json(), body);
}
