//! The takeover, proved against real Django: Django 5.2 with DRF,
//! simplejwt's blacklist, Djoser 2.3.5 and the seed's accounts app
//! (`tests/django/site`) migrates a database, doorman migrates the same
//! database and serves it with the same secret key, and each side accepts
//! what the other wrote — passwords, reset links, JWTs, DRF tokens, the
//! blacklist — while the Django admin still opens doorman's users.
//!
//! Django runs through `tests/django/site/proof.py` (one action per call).
//! Without Django and its apps importable by `python3` the test is skipped,
//! except under `CI=true`, where that is a failure (`.ci/run` installs
//! them).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    Backend, TestApp, TestDb,
    client::jwt_claims as claims_of,
    django::{KEY, PW, django},
};

#[tokio::test]
async fn sqlite_django_and_doorman_share_one_database() {
    django_and_doorman_share_one_database(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_django_and_doorman_share_one_database() {
    django_and_doorman_share_one_database(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_simplejwt_keeps_how_a_second_factor_login_signed_in() {
    simplejwt_keeps_how_a_second_factor_login_signed_in(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_simplejwt_keeps_how_a_second_factor_login_signed_in() {
    simplejwt_keeps_how_a_second_factor_login_signed_in(Backend::Postgres).await;
}

async fn post(
    app: &TestApp,
    path: &str,
    auth: Option<&str>,
    body: Value,
) -> crate::support::TestResponse {
    app.request(Method::POST, path, auth, Some(body)).await
}

async fn jwt_login(app: &TestApp, username: &str, password: &str) -> crate::support::TestResponse {
    post(
        app,
        "/auth/jwt/create/",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

async fn django_and_doorman_share_one_database(backend: Backend) {
    let db = TestDb::new_empty(backend).await;
    let url = db.url.clone();
    let dj = |args: &[&str]| django(&url, args);
    if dj(&["migrate"]).is_none() {
        return;
    }
    let app = TestApp::on_db(db, |s| {
        s.security.secret_key = Some(KEY.into());
        // Profiles in the seed app's own tables.
        s.accounts.django_app = Some("accounts".into());
    })
    .await;
    // doorman's migrations added only its own tables: Django still checks.
    dj(&["check"]).unwrap();

    // A user Django made signs in to doorman, and one doorman made (through
    // Djoser's registration) signs in to Django.
    dj(&["create_user", "dj", PW]).unwrap();
    let r = jwt_login(&app, "dj", PW).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let dj_access = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    let r = post(
        &app,
        "/auth/users/",
        None,
        json!({"username": "dm", "email": "dm@example.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let dm_id = r.json()["id"].as_i64().unwrap();
    assert_eq!(dj(&["check_password", "dm", PW]).unwrap()["ok"], true);

    // Password changes, both ways; Django's outstanding reset link dies
    // with a change made in doorman.
    let link = dj(&["reset_link", "dj"]).unwrap();
    let r = post(
        &app,
        "/auth/users/set_password/",
        Some(&dj_access),
        json!({"current_password": PW, "new_password": "changed-in-doorman-7"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let dj_ok = dj(&["check_password", "dj", "changed-in-doorman-7"]).unwrap();
    assert_eq!(dj_ok["ok"], true);
    let token = link["token"].as_str().unwrap();
    assert_eq!(dj(&["reset_valid", "dj", token]).unwrap()["ok"], false);
    dj(&["set_password", "dm", "changed-in-django-8"]).unwrap();
    let r = jwt_login(&app, "dm", "changed-in-django-8").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // A profile Django's models made, with a picture and a role, is
    // served by doorman's /api/auth/profile/, and a change made there is
    // what Django reads.
    dj(&["profile", "dj", "profile_pics/dj.png", "editor"]).unwrap();
    let r = jwt_login(&app, "dj", "changed-in-doorman-7").await;
    let dj_access = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    let r = app
        .request(Method::GET, "/api/auth/profile/", Some(&dj_access), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let profile = r.json();
    assert_eq!(profile["phone"], "555", "{profile}");
    let picture = profile["profile_picture"].as_str().unwrap_or_default();
    assert!(picture.ends_with("/media/profile_pics/dj.png"), "{profile}");
    assert_eq!(profile["roles"][0]["name"], "editor", "{profile}");
    let r = app
        .request(
            Method::PATCH,
            "/api/auth/profile/",
            Some(&dj_access),
            Some(json!({"bio": "written by doorman"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let seen = dj(&["profile_of", "dj"]).unwrap();
    assert_eq!(
        seen,
        json!({"phone": "555", "bio": "written by doorman", "picture": "profile_pics/dj.png", "roles": ["editor"]})
    );

    // A reset link Django made (as Djoser mails it) works at doorman.
    let link = dj(&["reset_link", "dm"]).unwrap();
    let r = post(
        &app,
        "/auth/users/reset_password_confirm/",
        None,
        json!({"uid": link["uid"], "token": link["token"], "new_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(dj(&["check_password", "dm", PW]).unwrap()["ok"], true);

    // A reset link doorman mails is one Django's token generator accepts.
    let r = post(
        &app,
        "/auth/users/reset_password/",
        None,
        json!({"email": "dm@example.com"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let body = app
        .db
        .text(
            "SELECT body_text FROM doorman_outbox WHERE recipient = 'dm@example.com' \
             ORDER BY id DESC LIMIT 1",
        )
        .await;
    let (_, after) = body
        .split_once("password/reset/confirm/")
        .unwrap_or_else(|| panic!("no reset link in {body}"));
    let token = after
        .split_whitespace()
        .next()
        .and_then(|link| link.split('/').nth(1))
        .unwrap();
    assert_eq!(dj(&["reset_valid", "dm", token]).unwrap()["ok"], true);

    // simplejwt's tokens work at doorman, and doorman's at simplejwt.
    let pair = dj(&["jwt_pair", "dm"]).unwrap();
    let access = format!("Bearer {}", pair["access"].as_str().unwrap());
    let r = app
        .request(Method::GET, "/auth/users/me/", Some(&access), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json()["username"], "dm");
    let django_refresh = pair["refresh"].as_str().unwrap().to_string();
    let r = post(
        &app,
        "/auth/jwt/refresh/",
        None,
        json!({"refresh": django_refresh}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = jwt_login(&app, "dm", PW).await;
    let doorman_refresh = r.json()["refresh"].as_str().unwrap().to_string();
    assert_eq!(dj(&["refresh_ok", &doorman_refresh]).unwrap()["ok"], true);

    // One blacklist: doorman's blacklisting is refused by Django, and
    // Django's by doorman.
    let r = post(
        &app,
        "/auth/jwt/blacklist/",
        None,
        json!({"refresh": django_refresh}),
    )
    .await;
    assert!(r.status.is_success(), "{r:?}");
    let seen = dj(&["refresh_ok", &django_refresh]).unwrap();
    assert_eq!(seen["ok"], false, "{seen}");
    dj(&["blacklist", &doorman_refresh]).unwrap();
    let r = post(
        &app,
        "/auth/jwt/refresh/",
        None,
        json!({"refresh": doorman_refresh}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");

    // A DRF token Django made authenticates at doorman.
    let key = dj(&["drf_token", "dm"]).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let drf = format!("Token {key}");
    let r = app
        .request(Method::GET, "/auth/users/me/", Some(&drf), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // The Django admin lists doorman's user and opens its change form.
    let id = dm_id.to_string();
    let pages = dj(&["admin_pages", &id, "dm"]).unwrap();
    assert_eq!(pages, json!({"list": 200, "change": 200, "listed": true}));

    // And the user holding a DRF token deletes their account at doorman.
    let r = app
        .request(
            Method::DELETE,
            "/auth/users/me/",
            Some(&drf),
            Some(json!({"current_password": PW})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(
        app.db
            .scalar(&format!(
                "SELECT count(*) FROM auth_user WHERE id = {dm_id}"
            ))
            .await,
        0
    );
    dj(&["check"]).unwrap();
}

/// A user Django made turns on an authenticator app at doorman, with the
/// codes an app computes (pyotp); the JWTs of their two-factor login carry
/// `auth_time`, `amr` and `aal`, and simplejwt's own jwt/refresh copies
/// them into the access token it makes, which doorman then reads back.
async fn simplejwt_keeps_how_a_second_factor_login_signed_in(backend: Backend) {
    let db = TestDb::new_empty(backend).await;
    let url = db.url.clone();
    let dj = |args: &[&str]| django(&url, args);
    if dj(&["migrate"]).is_none() {
        return;
    }
    let app = TestApp::on_db(db, |s| s.security.secret_key = Some(KEY.into())).await;
    dj(&["create_user", "mia", PW]).unwrap();
    let login = json!({"username": "mia", "password": PW});
    let r = post(&app, "/auth/token/login/", None, login.clone()).await;
    let auth = format!("Token {}", r.json()["auth_token"].as_str().unwrap());
    let r = post(
        &app,
        "/auth/mfa/totp/setup/",
        Some(&auth),
        json!({"current_password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let code = |steps: &str| dj(&["totp", &secret, steps]).unwrap()["code"].clone();
    let r = post(
        &app,
        "/auth/mfa/totp/confirm/",
        Some(&auth),
        json!({"code": code("0")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");

    let r = jwt_login(&app, "mia", PW).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(r.json()["code"], "mfa_required");
    let finish = json!({"mfa_token": r.json()["mfa_token"], "code": code("1")});
    let r = post(&app, "/auth/mfa/login/", None, finish.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let pair = r.json();
    let ours = claims_of(pair["access"].as_str().unwrap());
    assert_eq!(ours["aal"], "aal2", "{ours}");
    assert_eq!(ours["amr"], json!(["pwd", "otp", "mfa"]), "{ours}");
    assert!(ours["auth_time"].as_i64().unwrap() <= ours["iat"].as_i64().unwrap());
    assert_eq!(
        claims_of(pair["refresh"].as_str().unwrap())["auth_time"],
        ours["auth_time"]
    );
    // The same code is good once, at another login too.
    let r = jwt_login(&app, "mia", PW).await;
    let again = json!({"mfa_token": r.json()["mfa_token"], "code": code("1")});
    let r = post(&app, "/auth/mfa/login/", None, again).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");

    let refreshed = dj(&["refresh", pair["refresh"].as_str().unwrap()]).unwrap();
    let theirs = &refreshed["claims"];
    for claim in ["auth_time", "amr", "aal", "user_id"] {
        assert_eq!(theirs[claim], ours[claim], "{claim}: {theirs}");
    }
    let access = format!("Bearer {}", refreshed["access"].as_str().unwrap());
    let r = app
        .request(Method::GET, "/auth/mfa/", Some(&access), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let session = &r.json()["session"];
    assert_eq!(session["aal"], "aal2", "{session}");
    assert_eq!(session["amr"], json!(["pwd", "otp", "mfa"]), "{session}");
}
