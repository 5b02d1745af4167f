//! Requests from a chosen client address and the `[rate_limit]`
//! settings tests turn on, shared by the rate-limit and lockout tests.

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Method, Request, StatusCode},
};
use doorman::config::{Limit, Rate, Settings};
use serde_json::{Value, json};

use super::{TestApp, TestResponse};

pub fn rate(text: &str) -> Limit {
    Limit(Rate::parse(text).unwrap())
}

/// Limits off but the ones a test turns on.
pub fn only(s: &mut Settings, set: impl FnOnce(&mut doorman::config::RateLimitSettings)) {
    let r = &mut s.rate_limit;
    for limit in [
        &mut r.login_failures_per_account,
        &mut r.login_failures_per_address,
        &mut r.logins_per_address,
        &mut r.registrations_per_address,
        &mut r.mail_per_address,
        &mut r.mail_per_recipient,
        &mut r.confirms_per_address,
        &mut r.refreshes_per_address,
        &mut r.requests_per_address,
    ] {
        *limit = Limit(None);
    }
    r.enabled = true;
    set(r);
}

/// `POST path` with a JSON body from `from`, with extra headers.
pub async fn post_from(
    app: &TestApp,
    from: &str,
    path: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> TestResponse {
    let ip: IpAddr = from.parse().unwrap();
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let mut request = builder.body(Body::from(body.to_string())).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
    app.send(request).await
}

pub async fn login_from(app: &TestApp, from: &str, username: &str, password: &str) -> StatusCode {
    post_from(
        app,
        from,
        "/auth/jwt/create/",
        json!({"username": username, "password": password}),
        &[],
    )
    .await
    .status
}

pub fn assert_throttled(r: &TestResponse) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(wait >= 1);
    let unit = if wait == 1 { "second" } else { "seconds" };
    assert_eq!(
        r.json(),
        json!({"detail": format!("Request was throttled. Expected available in {wait} {unit}.")})
    );
}
