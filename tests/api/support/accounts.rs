//! Users made in one call, each returning its id (and an `Authorization`
//! value when signed in): through Djoser's registration and token login, or
//! straight through the domain. All have the password [`PW`].

use axum::http::StatusCode;
use doorman::domain::{
    password::Password,
    users::{NewUser, Username},
};
use serde_json::json;

use super::{
    TestApp,
    client::{post, text, token},
    people::PW,
};

/// Registers `username` with `username@example.com` and [`PW`]; the new id.
pub async fn register(app: &TestApp, username: &str) -> i64 {
    let r = post(
        app,
        "/auth/users/",
        json!({"username": username, "email": format!("{username}@example.com"), "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "register: {}", text(&r));
    r.json()["id"].as_i64().unwrap()
}

/// Logs in at `token/login/`; the opaque key.
pub async fn login_token(app: &TestApp, username: &str, password: &str) -> String {
    let r = post(
        app,
        "/auth/token/login/",
        json!({"username": username, "password": password}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "login: {}", text(&r));
    r.json()["auth_token"].as_str().unwrap().to_string()
}

/// A superuser logged in with an opaque token; `(id, Authorization value)`.
pub async fn admin(app: &TestApp, name: &str) -> (i64, String) {
    let user = app
        .state
        .users
        .create(NewUser {
            username: Username::parse(name).unwrap(),
            email: None,
            first_name: String::new(),
            last_name: String::new(),
            password: Some(doorman::domain::password::Password::new(PW.to_string())),
            is_active: true,
            is_staff: true,
            is_superuser: true,
        })
        .await
        .unwrap();
    (i64::from(user.id), token(&login_token(app, name, PW).await))
}

/// A registered user and their `Authorization` value.
pub async fn member(app: &TestApp, name: &str) -> (i64, String) {
    let id = register(app, name).await;
    (id, token(&login_token(app, name, PW).await))
}

/// A user made through the domain (active, password [`PW`]); their id.
pub async fn make_user(app: &TestApp, username: &str, superuser: bool) -> i64 {
    let user = app
        .state
        .users
        .create(NewUser {
            username: Username::parse(username).unwrap(),
            email: None,
            first_name: String::new(),
            last_name: String::new(),
            password: Some(Password::new(PW.into())),
            is_active: true,
            is_staff: false,
            is_superuser: superuser,
        })
        .await
        .unwrap();
    i64::from(user.id)
}

/// A user and the `Authorization` header of a fresh `token/login/` key.
pub async fn signed_in(app: &TestApp, username: &str, superuser: bool) -> (i64, String) {
    let id = make_user(app, username, superuser).await;
    (id, token(&login_token(app, username, PW).await))
}
