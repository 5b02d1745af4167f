//! The names people register under, end to end on both registration
//! surfaces (Djoser's `POST /auth/users/` and the Accounts API's
//! `POST /api/auth/register/`) and the three login endpoints.
//!
//! Usernames are stored in Unicode NFKC form, as Django's
//! `normalize_username` stores them, so full-width, mathematical and ligature
//! look-alikes of a taken name are refused as taken, and a login typed in a
//! look-alike form finds the normalised account (as Django's login form
//! does). E-mail addresses follow Django 5.2's `EmailValidator`, which puts
//! no 64-character limit on the local part; the field-level vectors live in
//! `tests/django/email_vectors.json`.

use axum::{body::Body, http::Request};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{TestApp, TestResponse},
};

on_both_backends!(
    look_alike_usernames_are_taken_on_djoser_registration,
    look_alike_usernames_are_taken_on_accounts_registration,
    usernames_are_stored_in_nfkc_form,
    logins_normalise_the_typed_username,
    set_username_stores_the_normal_form_and_compares_the_retype_in_it,
    a_100_character_local_part_registers_on_both_surfaces,
    an_overlong_malformed_address_reports_both_problems,
);

const PW: &str = "a-Sturdy-passphrase-42";
const TAKEN: &str = "A user with that username already exists.";
const DJOSER: &str = "/auth/users/";
const ACCOUNTS: &str = "/api/auth/register/";
/// Full-width and mathematical-script look-alikes of `root2`.
const LOOK_ALIKES: [&str; 2] = ["ｒｏｏｔ２", "𝓻𝓸𝓸𝓽2"];

async fn post(app: &TestApp, path: &str, body: Value) -> TestResponse {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

async fn register(app: &TestApp, path: &str, body: Value) -> TestResponse {
    let mut body = body;
    body["password"] = json!(PW);
    post(app, path, body).await
}

fn text(r: &TestResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

async fn usernames(app: &TestApp) -> String {
    app.db
        .text("SELECT COALESCE(STRING_AGG(username, ',' ORDER BY id), '') FROM auth_user")
        .await
}

async fn look_alikes_are_taken(app: TestApp, path: &str) {
    let r = register(&app, path, json!({"username": "root2"})).await;
    assert_eq!(r.status, 201, "{}", text(&r));
    for name in LOOK_ALIKES {
        let r = register(&app, path, json!({"username": name})).await;
        assert_eq!(r.status, 400, "{name}: {}", text(&r));
        assert_eq!(r.json(), json!({"username": [TAKEN]}), "{name}");
    }
    assert_eq!(
        usernames(&app).await,
        "root2",
        "no look-alike row was added"
    );
}

async fn look_alike_usernames_are_taken_on_djoser_registration(app: TestApp) {
    look_alikes_are_taken(app, DJOSER).await;
}

async fn look_alike_usernames_are_taken_on_accounts_registration(app: TestApp) {
    look_alikes_are_taken(app, ACCOUNTS).await;
}

async fn usernames_are_stored_in_nfkc_form(app: TestApp) {
    let r = register(&app, DJOSER, json!({"username": "ﬁuser"})).await;
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(
        r.json()["username"],
        "fiuser",
        "the answer shows the stored name"
    );
    let r = register(&app, ACCOUNTS, json!({"username": "Ｂｏｂ"})).await;
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(r.json()["username"], "Bob");
    assert_eq!(usernames(&app).await, "fiuser,Bob");

    let r = register(&app, ACCOUNTS, json!({"username": "fiuser"})).await;
    assert_eq!(r.json(), json!({"username": [TAKEN]}), "{}", text(&r));
    // Thirty U+3316 (one character each) become 180 katakana: the length
    // rule applies to what would be stored.
    let r = register(&app, DJOSER, json!({"username": "\u{3316}".repeat(30)})).await;
    assert_eq!(
        r.json(),
        json!({"username": ["Ensure this field has no more than 150 characters."]}),
        "{}",
        text(&r)
    );
    assert_eq!(usernames(&app).await, "fiuser,Bob");
}

async fn logins_normalise_the_typed_username(app: TestApp) {
    let r = register(&app, DJOSER, json!({"username": "root2"})).await;
    assert_eq!(r.status, 201, "{}", text(&r));
    for name in LOOK_ALIKES {
        let creds = json!({"username": name, "password": PW});
        let r = post(&app, "/auth/token/login/", creds.clone()).await;
        assert_eq!(r.status, 200, "token/login as {name}: {}", text(&r));
        assert!(r.json()["auth_token"].is_string());
        let r = post(&app, "/auth/jwt/create/", creds.clone()).await;
        assert_eq!(r.status, 200, "jwt/create as {name}: {}", text(&r));
        let r = post(&app, "/api/auth/login/", creds).await;
        assert_eq!(r.status, 200, "accounts login as {name}: {}", text(&r));
        assert_eq!(r.json()["user"]["username"], "root2");
    }
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"username": "ｒｏｏｔ２", "password": "wrong-password-1"}),
    )
    .await;
    assert_eq!(r.status, 400, "the password still has to match");
}

async fn set_username_stores_the_normal_form_and_compares_the_retype_in_it(app: TestApp) {
    let backend = app.db.backend;
    drop(app);
    let app = TestApp::with_settings(backend, |s| s.djoser.set_username_retype = true).await;
    for name in ["root2", "ann"] {
        let r = register(&app, DJOSER, json!({"username": name})).await;
        assert_eq!(r.status, 201, "{}", text(&r));
    }
    let r = post(
        &app,
        "/auth/token/login/",
        json!({"username": "ann", "password": PW}),
    )
    .await;
    let token = format!("Token {}", r.json()["auth_token"].as_str().unwrap());
    let set = |new: &str, again: &str| {
        let body = json!({"current_password": PW, "new_username": new, "re_new_username": again});
        let request = Request::post("/auth/users/set_username/")
            .header("content-type", "application/json")
            .header("authorization", token.as_str())
            .body(Body::from(body.to_string()))
            .unwrap();
        app.send(request)
    };
    let r = set("ｒｏｏｔ２", "ｒｏｏｔ２").await;
    assert_eq!(r.json(), json!({"new_username": [TAKEN]}), "{}", text(&r));
    let r = set("ａｎｎ３", "ａｎｎ３").await;
    assert_eq!(
        r.status,
        204,
        "the same look-alike typed twice matches: {}",
        text(&r)
    );
    let r = set("ann4", "ａｎｎ４").await;
    assert_eq!(r.status, 204, "{}", text(&r));
    assert_eq!(usernames(&app).await, "root2,ann4");
}

async fn a_100_character_local_part_registers_on_both_surfaces(app: TestApp) {
    for (name, path) in [("djo", DJOSER), ("acc", ACCOUNTS)] {
        let local = format!("{name}{}", "l".repeat(97));
        assert_eq!(local.len(), 100);
        let r = register(
            &app,
            path,
            json!({"username": name, "email": format!("{local}@Example.COM")}),
        )
        .await;
        assert_eq!(r.status, 201, "{path}: {}", text(&r));
        assert_eq!(r.json()["email"], format!("{local}@example.com"));
        let stored = app
            .db
            .text(&format!(
                "SELECT email FROM auth_user WHERE username = '{name}'"
            ))
            .await;
        assert_eq!(stored, format!("{local}@example.com"), "{path}");
    }
}

async fn an_overlong_malformed_address_reports_both_problems(app: TestApp) {
    // DRF runs every validator of the field: the length cap and the syntax.
    let email = format!("{}@no_underscores.example", "x".repeat(260));
    for path in [DJOSER, ACCOUNTS] {
        let r = register(&app, path, json!({"username": "ann", "email": email})).await;
        assert_eq!(
            r.json(),
            json!({"email": [
                "Ensure this field has no more than 254 characters.",
                "Enter a valid email address."
            ]}),
            "{path}: {}",
            text(&r)
        );
    }
    assert_eq!(usernames(&app).await, "");
}
