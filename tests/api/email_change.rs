//! A verified change of address, as a user meets it: `users/change_email/`
//! mails a link to the new address (through a real SMTP server) and a
//! notice to the old one, and nothing changes until the link is followed;
//! the link works once and signs the user out elsewhere; the answer never
//! tells whether an address is registered; and with
//! `users.email_change = "verified"` the other ways to set one's own
//! address are closed.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    TestApp, TestResponse,
    accounts::{login_token, register},
    client::{post, text, token},
    people::PW,
    smtp::{Mail, app_with_mail, delivered, link_in},
};

crate::on_both_backends!(
    a_new_address_applies_once_its_link_is_followed,
    the_answer_does_not_tell_whether_an_address_is_taken,
    verified_changes_close_the_other_ways,
);

const LINK: &str = "#/email/change/confirm/";

async fn call(app: &TestApp, method: Method, path: &str, auth: &str, body: Value) -> TestResponse {
    app.request(method, path, Some(auth), Some(body)).await
}

async fn email_of(app: &TestApp, name: &str) -> String {
    app.db
        .text(&format!(
            "SELECT email FROM auth_user WHERE username = '{name}'"
        ))
        .await
}

fn to<'a>(mails: &'a [Mail], address: &str) -> Vec<&'a Mail> {
    let address = format!("<{address}>");
    mails.iter().filter(|m| m.to == address).collect()
}

async fn a_new_address_applies_once_its_link_is_followed(app: TestApp) {
    let (app, sink) = app_with_mail(app, |s| {
        s.users.email_change = doorman::config::EmailChange::Verified;
    })
    .await;
    register(&app, "olga").await;
    let auth = token(&login_token(&app, "olga", PW).await);
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "olga", "password": PW}),
    )
    .await;
    let elsewhere = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    // A reset link mailed before the change.
    let r = post(
        &app,
        "/auth/users/reset_password/",
        json!({"email": "olga@example.com"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let r = call(
        &app,
        Method::POST,
        "/auth/users/change_email/",
        &auth,
        json!({"new_email": "olga.new@example.com", "current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    assert_eq!(email_of(&app, "olga").await, "olga@example.com", "not yet");
    let mails = delivered(&app, &sink).await;
    let reset = to(&mails, "olga@example.com")
        .into_iter()
        .find(|m| m.text.contains("#/password/reset/confirm/"))
        .expect("the reset mail")
        .clone();
    let notice = to(&mails, "olga@example.com")
        .into_iter()
        .find(|m| m.text.contains("olga.new@example.com"))
        .expect("a notice to the old address")
        .clone();
    assert!(
        notice.text.contains("If this was not you"),
        "{}",
        notice.text
    );
    let new = to(&mails, "olga.new@example.com");
    assert_eq!(new.len(), 1, "{mails:?}");
    assert_eq!(new[0].subject, "Confirm your new address on Example");
    let (uid, link_token) = link_in(new[0], LINK);

    let confirm = |uid: String, t: String| {
        let app = &app;
        let auth = auth.clone();
        async move {
            call(
                app,
                Method::POST,
                "/auth/users/change_email_confirm/",
                &auth,
                json!({"uid": uid, "token": t}),
            )
            .await
        }
    };
    let r = confirm(uid.clone(), "0".repeat(40)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"token": ["Invalid token for given user."]})
    );
    let r = confirm("Mg".into(), link_token.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "another user's uid");
    let r = confirm(uid.clone(), link_token.clone()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    assert_eq!(email_of(&app, "olga").await, "olga.new@example.com");
    // Once.
    let r = confirm(uid.clone(), link_token.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    // Signed out elsewhere; the confirming token stays.
    let me = |a: String| {
        let app = &app;
        async move {
            app.request(Method::GET, "/auth/users/me/", Some(&a), None)
                .await
                .status
        }
    };
    assert_eq!(me(elsewhere).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(auth.clone()).await, StatusCode::OK);
    // The reset link made from the old address is dead.
    let (uid, reset_token) = link_in(&reset, "#/password/reset/confirm/");
    let r = post(
        &app,
        "/auth/users/reset_password_confirm/",
        json!({"uid": uid, "token": reset_token, "new_password": "another-Sturdy-one-77"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(
        app.db
            .scalar(
                "SELECT count(*) FROM doorman_audit WHERE kind IN \
                 ('email_change_requested', 'email_changed')"
            )
            .await,
        2
    );
    // The new address signs in.
    let r = post(
        &app,
        "/auth/users/reset_password/",
        json!({"email": "olga.new@example.com"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let mails = delivered(&app, &sink).await;
    assert_eq!(to(&mails, "olga.new@example.com").len(), 2);
}

async fn the_answer_does_not_tell_whether_an_address_is_taken(app: TestApp) {
    let (app, sink) = app_with_mail(app, |_| {}).await;
    register(&app, "paul").await;
    register(&app, "rita").await;
    let auth = token(&login_token(&app, "paul", PW).await);
    let ask = |body: Value| {
        let app = &app;
        let auth = auth.clone();
        async move { call(app, Method::POST, "/auth/users/change_email/", &auth, body).await }
    };
    let r = ask(json!({"new_email": "rita@example.com", "current_password": PW})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    let r = ask(json!({"new_email": "RITA@example.com", "current_password": PW})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    let mails = delivered(&app, &sink).await;
    assert!(mails.is_empty(), "nothing for a taken address: {mails:?}");

    let r = ask(json!({"new_email": "not an address", "current_password": PW})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert!(r.json()["new_email"].is_array(), "{}", text(&r));
    let r = ask(json!({"new_email": "x@example.com", "current_password": "wrong"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(r.json(), json!({"current_password": ["Invalid password."]}));
    // A credential that did not sign in lately sends the password.
    let r = post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "paul", "password": PW}),
    )
    .await;
    let jwt = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    let r = call(
        &app,
        Method::POST,
        "/auth/users/change_email/",
        &jwt,
        json!({"new_email": "x@example.com"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(&r));
    assert_eq!(r.json()["code"], "reauthentication_required");
    let r = app
        .request(
            Method::POST,
            "/auth/users/change_email/",
            None,
            Some(json!({"new_email": "x@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Two requests: only the latest link applies. The address taken in
    // between (Djoser's immediate PATCH, the default) is refused.
    ask(json!({"new_email": "first@example.com", "current_password": PW})).await;
    ask(json!({"new_email": "second@example.com", "current_password": PW})).await;
    let mails = delivered(&app, &sink).await;
    let (uid, first) = link_in(to(&mails, "first@example.com")[0], LINK);
    let (_, second) = link_in(to(&mails, "second@example.com")[0], LINK);
    let confirm = |t: String| {
        let app = &app;
        let uid = uid.clone();
        async move {
            post(
                app,
                "/auth/users/change_email_confirm/",
                json!({"uid": uid, "token": t}),
            )
            .await
        }
    };
    assert_eq!(confirm(first).await.status, StatusCode::BAD_REQUEST);
    let rita = token(&login_token(&app, "rita", PW).await);
    let r = call(
        &app,
        Method::PATCH,
        "/auth/users/me/",
        &rita,
        json!({"email": "second@example.com"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let r = confirm(second.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(
        r.json(),
        json!({"email": ["user with this email address already exists."]})
    );
    assert_eq!(email_of(&app, "paul").await, "paul@example.com");
}

async fn verified_changes_close_the_other_ways(app: TestApp) {
    let backend = app.db.backend;
    drop(app);
    let app = TestApp::with_settings(backend, |s| {
        s.users.email_change = doorman::config::EmailChange::Verified;
    })
    .await;
    register(&app, "sara").await;
    let auth = token(&login_token(&app, "sara", PW).await);
    let patch = |body: Value| {
        let app = &app;
        let auth = auth.clone();
        async move { call(app, Method::PATCH, "/auth/users/me/", &auth, body).await }
    };
    let r = patch(json!({"email": "elsewhere@example.com"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert_eq!(
        r.json(),
        json!({"email": ["Change your address at users/change_email/: it applies once the new address confirms it."]})
    );
    let r = patch(json!({"email": "sara@example.com", "first_name": "Sara"})).await;
    assert_eq!(r.status, StatusCode::OK, "the same address: {}", text(&r));
    assert_eq!(email_of(&app, "sara").await, "sara@example.com");

    // Addresses as the login: set_email/ is closed too.
    let backend = app.db.backend;
    drop(app);
    let app = TestApp::with_settings(backend, |s| {
        s.users.email_change = doorman::config::EmailChange::Verified;
        s.users.login_field = doorman::config::LoginField::Email;
    })
    .await;
    let r = post(
        &app,
        "/auth/users/",
        json!({"email": "tom@example.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"email": "tom@example.com", "password": PW}),
    )
    .await;
    let auth = token(r.json()["auth_token"].as_str().unwrap());
    let r = call(
        &app,
        Method::POST,
        "/auth/users/set_email/",
        &auth,
        json!({"new_email": "tom2@example.com", "current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", text(&r));
    assert!(r.json()["new_email"].is_array(), "{}", text(&r));
    assert_eq!(
        app.db
            .text("SELECT email FROM auth_user WHERE email LIKE 'tom%'")
            .await,
        "tom@example.com"
    );
}
