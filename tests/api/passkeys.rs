//! Passkeys through a real WebAuthn ceremony: a software authenticator
//! (support/passkeys.rs) registers a passkey as a second factor, finishes
//! logins with it, and signs in with it alone when that is on; assertions
//! from another origin or used twice are refused; the passkey is renamed
//! and removed, and with it the last factor.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    TestApp, TestResponse,
    accounts::{login_token, register},
    client::{jwt_claims, post, text, token},
    passkeys::{Device, ORIGIN},
    people::PW,
};

crate::on_both_backends!(
    a_passkey_is_a_second_factor,
    a_passkey_alone_signs_in_when_that_is_on,
);

async fn app_like(app: TestApp, passwordless: bool) -> TestApp {
    let backend = app.db.backend;
    drop(app);
    TestApp::with_settings(backend, move |s| {
        s.webauthn.origins = vec![ORIGIN.into()];
        s.webauthn.passwordless = passwordless;
    })
    .await
}

async fn call(app: &TestApp, method: Method, path: &str, auth: &str, body: Value) -> TestResponse {
    app.request(method, path, Some(auth), Some(body)).await
}

/// Registers a passkey on `device` for the caller `auth`; the answer.
async fn add_passkey(app: &TestApp, auth: &str, device: &mut Device, name: &str) -> Value {
    let r = call(
        app,
        Method::POST,
        "/auth/mfa/webauthn/register/options/",
        auth,
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let options = r.json();
    assert!(options["publicKey"]["challenge"].is_string(), "{options}");
    let credential = device.create(ORIGIN, &options).await.unwrap();
    let r = call(
        app,
        Method::POST,
        "/auth/mfa/webauthn/register/",
        auth,
        json!({"name": name, "credential": credential}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    r.json()
}

/// A password login at jwt/create/ that waits for the factor: its token.
async fn waiting(app: &TestApp, name: &str) -> Value {
    let r = post(
        app,
        "/auth/jwt/create/",
        json!({"username": name, "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", text(&r));
    assert_eq!(r.json()["code"], "mfa_required");
    r.json()
}

async fn assertion(app: &TestApp, mfa_token: &Value, device: &mut Device, origin: &str) -> Value {
    let r = post(
        app,
        "/auth/mfa/login/webauthn/options/",
        json!({ "mfa_token": mfa_token }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    device.get(origin, &r.json()).await.unwrap()
}

async fn a_passkey_is_a_second_factor(app: TestApp) {
    let app = app_like(app, false).await;
    register(&app, "uma").await;
    let auth = token(&login_token(&app, "uma", PW).await);
    let mut laptop = Device::default();
    let added = add_passkey(&app, &auth, &mut laptop, "Laptop").await;
    assert_eq!(added["name"], "Laptop");
    assert_eq!(
        added["recovery_codes"].as_array().unwrap().len(),
        10,
        "{added}"
    );
    let codes: Vec<String> = added["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let id = added["id"].as_i64().unwrap();
    let r = app
        .request(Method::GET, "/auth/mfa/", Some(&auth), None)
        .await;
    let status = r.json();
    assert_eq!(status["enabled"], true, "{status}");
    assert_eq!(status["webauthn"][0]["name"], "Laptop", "{status}");

    let wait = waiting(&app, "uma").await;
    assert_eq!(wait["methods"], json!(["webauthn", "recovery_codes"]));
    let credential = assertion(&app, &wait["mfa_token"], &mut laptop, ORIGIN).await;
    let finish = json!({"mfa_token": wait["mfa_token"], "credential": credential});
    let r = post(&app, "/auth/mfa/login/", finish.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let claims = jwt_claims(r.json()["access"].as_str().unwrap());
    assert_eq!(
        claims["amr"],
        json!(["pwd", "hwk", "user", "mfa"]),
        "{claims}"
    );
    assert_eq!(claims["aal"], "aal2");
    // Replayed: at the finished login, and at a new one.
    let r = post(&app, "/auth/mfa/login/", finish).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", text(&r));
    let wait = waiting(&app, "uma").await;
    let _fresh = assertion(&app, &wait["mfa_token"], &mut laptop, ORIGIN).await;
    let r = post(
        &app,
        "/auth/mfa/login/",
        json!({"mfa_token": wait["mfa_token"], "credential": credential}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(
        r.json(),
        json!({"credential": ["The passkey was not accepted."]})
    );
    // From a page of another origin (one the device would serve).
    let wait = waiting(&app, "uma").await;
    let elsewhere = assertion(
        &app,
        &wait["mfa_token"],
        &mut laptop,
        "https://evil.doorman.example.test",
    )
    .await;
    let r = post(
        &app,
        "/auth/mfa/login/",
        json!({"mfa_token": wait["mfa_token"], "credential": elsewhere}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    // Not a credential at all.
    let r = post(
        &app,
        "/auth/mfa/login/",
        json!({"mfa_token": wait["mfa_token"], "credential": {"id": 5}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(
        r.json(),
        json!({"credential": ["Not a WebAuthn credential."]})
    );

    // Rename; nobody else's.
    let path = format!("/auth/mfa/webauthn/{id}/");
    let r = call(
        &app,
        Method::PATCH,
        &path,
        &auth,
        json!({"name": " Phone "}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    assert_eq!(r.json()["name"], "Phone");
    register(&app, "vic").await;
    let vic = token(&login_token(&app, "vic", PW).await);
    let r = call(&app, Method::PATCH, &path, &vic, json!({"name": "mine"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(
        &app,
        Method::DELETE,
        &path,
        &vic,
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Removing it asks again; it was the last factor.
    let r = call(
        &app,
        Method::DELETE,
        &path,
        &auth,
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = call(
        &app,
        Method::DELETE,
        &path,
        &auth,
        json!({"current_password": PW, "code": codes[0]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    let r = app
        .request(Method::GET, "/auth/mfa/", Some(&auth), None)
        .await;
    let status = r.json();
    assert_eq!(
        (
            &status["enabled"],
            &status["recovery_codes"],
            &status["webauthn"]
        ),
        (&json!(false), &Value::Null, &json!([])),
        "{status}"
    );
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "uma", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    // Both changes were mailed.
    for what in ["A passkey was just added", "A passkey was just removed"] {
        let sql = format!(
            "SELECT count(*) FROM doorman_outbox WHERE kind = 'mfa_changed' \
             AND recipient = 'uma@example.com' AND body_text LIKE '%{what}%'"
        );
        assert_eq!(app.db.scalar(&sql).await, 1, "{what}");
    }
}

async fn a_passkey_alone_signs_in_when_that_is_on(app: TestApp) {
    // Off (the default): no such endpoints.
    let off = app_like(app, false).await;
    let r = post(&off, "/auth/passkeys/login/options/", json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", text(&r));
    // Djoser's experimental module is not served (see the README).
    for path in [
        "/auth/webauthn/signup_request/",
        "/auth/webauthn/login_request/",
    ] {
        let r = post(&off, path, json!({"username": "x"})).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let app = app_like(off, true).await;
    register(&app, "wes").await;
    let auth = token(&login_token(&app, "wes", PW).await);
    let mut phone = Device::default();
    add_passkey(&app, &auth, &mut phone, "Phone").await;

    let start = |kind: Option<&str>| {
        let app = &app;
        let body = match kind {
            Some(k) => json!({ "token_type": k }),
            None => json!({}),
        };
        async move {
            let r = post(app, "/auth/passkeys/login/options/", body).await;
            assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
            r.json()
        }
    };
    let options = start(None).await;
    let passkey_token = options["passkey_token"].clone();
    assert_eq!(
        options["publicKey"]["allowCredentials"],
        json!([]),
        "any passkey: {options}"
    );
    let credential = phone.get(ORIGIN, &options).await.unwrap();
    let body = json!({"passkey_token": passkey_token, "credential": credential});
    let r = post(&app, "/auth/passkeys/login/", body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let claims = jwt_claims(r.json()["access"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]), "{claims}");
    assert_eq!(
        claims["user_id"],
        jwt_claims(r.json()["refresh"].as_str().unwrap())["user_id"]
    );
    // The token and the assertion are good once.
    let r = post(&app, "/auth/passkeys/login/", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert!(r.json()["passkey_token"].is_array(), "{}", text(&r));

    let options = start(Some("token")).await;
    let credential = phone.get(ORIGIN, &options).await.unwrap();
    let r = post(
        &app,
        "/auth/passkeys/login/",
        json!({"passkey_token": options["passkey_token"], "credential": credential}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let key = token(r.json()["auth_token"].as_str().unwrap());
    let r = app
        .request(Method::GET, "/auth/mfa/", Some(&key), None)
        .await;
    assert_eq!(r.json()["session"]["aal"], "aal2", "{}", text(&r));
    // Here a passkey is a login of its own: adding one always asks.
    let r = call(
        &app,
        Method::POST,
        "/auth/mfa/webauthn/register/options/",
        &key,
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    let r = post(
        &app,
        "/auth/passkeys/login/options/",
        json!({"token_type": "cookie"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));

    // An inactive account's passkey signs nobody in.
    app.db
        .execute("UPDATE auth_user SET is_active = false WHERE username = 'wes'")
        .await;
    let options = start(None).await;
    let credential = phone.get(ORIGIN, &options).await.unwrap();
    let r = post(
        &app,
        "/auth/passkeys/login/",
        json!({"passkey_token": options["passkey_token"], "credential": credential}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
}
