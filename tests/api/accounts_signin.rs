//! Signing in to the Accounts API: register, login by username or e-mail,
//! rotating refresh tokens with reuse detection, logout scopes, the
//! sessions list, and password reset by mail.

use axum::{body::Body, http::Request};
use doorman::domain::{
    password::Password,
    users::{EmailAddress, NewUser, Username},
};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{TestApp, TestResponse},
};

on_both_backends!(
    register_and_login_by_username_or_email,
    refresh_rotates_and_reuse_after_grace_revokes_the_login,
    logout_this_others_and_global,
    sessions_list_and_end,
    forgot_password_mails_a_link_and_tells_nobody,
    reset_password_confirm_is_single_use_and_signs_out,
);

const PW: &str = "a-Sturdy-pass-42";

async fn post(app: &TestApp, path: &str, body: Value, bearer: Option<&str>) -> TestResponse {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    app.send(request.body(Body::from(body.to_string())).unwrap())
        .await
}

async fn get(app: &TestApp, path: &str, bearer: &str) -> TestResponse {
    app.send(
        Request::get(path)
            .header("authorization", format!("Bearer {bearer}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn user(app: &TestApp, name: &str, superuser: bool) {
    app.state
        .users
        .create(NewUser {
            username: Username::parse(name).unwrap(),
            email: Some(EmailAddress::parse(&format!("{name}@example.com")).unwrap()),
            first_name: String::new(),
            last_name: String::new(),
            password: Some(Password::new(PW.into())),
            is_active: true,
            is_staff: superuser,
            is_superuser: superuser,
        })
        .await
        .unwrap();
}

async fn login(app: &TestApp, name: &str) -> (String, String) {
    let r = post(
        app,
        "/api/auth/login/",
        json!({"username": name, "password": PW}),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let b = r.json();
    (
        b["access"].as_str().unwrap().into(),
        b["refresh"].as_str().unwrap().into(),
    )
}

async fn register_and_login_by_username_or_email(app: TestApp) {
    let r = post(
        &app,
        "/api/auth/register/",
        json!({"username": "ann", "password": PW, "email": "Ann@Example.com"}),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert_eq!(r.json()["username"], "ann");
    assert_eq!(r.json()["email"], "Ann@example.com");
    let r = post(
        &app,
        "/api/auth/register/",
        json!({"username": "ann", "password": "1"}),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["username"].is_array() && r.json()["password"].is_null(),
        "field phase first: {:?}",
        r.json()
    );

    let r = post(
        &app,
        "/api/auth/login/",
        json!({"username": "ann", "password": PW}),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["user"]["username"], "ann");
    assert!(body["access"].is_string() && body["refresh"].is_string());
    let me = get(&app, "/auth/users/me/", body["access"].as_str().unwrap()).await;
    assert_eq!(me.status, 200, "the access token works on /auth/ too");

    let by_mail = post(
        &app,
        "/api/auth/login/",
        json!({"username": "ANN@example.com", "password": PW}),
        None,
    )
    .await;
    assert_eq!(by_mail.status, 200, "e-mail, any case");
    let by_key = post(
        &app,
        "/api/auth/login/",
        json!({"email": "ann@example.com", "password": PW}),
        None,
    )
    .await;
    assert_eq!(by_key.status, 200);
    for bad in [
        json!({"username": "ann", "password": "nope"}),
        json!({"username": "nobody", "password": PW}),
    ] {
        let r = post(&app, "/api/auth/login/", bad, None).await;
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json(),
            json!({"detail": "No active account found with the given credentials"})
        );
    }
    let r = post(&app, "/api/auth/login/", json!({}), None).await;
    assert_eq!(
        r.json(),
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );
}

async fn refresh_rotates_and_reuse_after_grace_revokes_the_login(app: TestApp) {
    let app =
        TestApp::with_settings(app.db.backend, |s| s.accounts.refresh_reuse_grace_secs = 0).await;
    user(&app, "bob", false).await;
    let (_, r0) = login(&app, "bob").await;
    let first = post(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": r0}),
        None,
    )
    .await;
    assert_eq!(first.status, 200, "{:?}", first.json());
    let r1 = first.json()["refresh"].as_str().unwrap().to_string();
    assert_ne!(r1, r0, "rotated");
    let second = post(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": r1}),
        None,
    )
    .await;
    assert_eq!(second.status, 200);
    let r2 = second.json()["refresh"].as_str().unwrap().to_string();
    // r1 was rotated out; after the (zero) grace window its reuse is theft.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let reuse = post(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": r1}),
        None,
    )
    .await;
    assert_eq!(reuse.status, 401, "{:?}", reuse.json());
    let after = post(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": r2}),
        None,
    )
    .await;
    assert_eq!(after.status, 401, "the whole login is revoked");
    let old = post(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": r0}),
        None,
    )
    .await;
    assert_eq!(old.status, 401, "older tokens never come back");

    // With a grace window, two tabs refreshing with the same token both succeed.
    let app =
        TestApp::with_settings(app.db.backend, |s| s.accounts.refresh_reuse_grace_secs = 30).await;
    user(&app, "cat", false).await;
    let (_, r0) = login(&app, "cat").await;
    let a = post(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": r0}),
        None,
    )
    .await;
    let b = post(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": r0}),
        None,
    )
    .await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
    let r = post(
        &app,
        "/api/auth/token/refresh/",
        json!({"refresh": "garbage"}),
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "token_not_valid");
}

async fn logout_this_others_and_global(app: TestApp) {
    user(&app, "dan", false).await;
    let (a1, r1) = login(&app, "dan").await;
    let (_, r2) = login(&app, "dan").await;
    let (a3, r3) = login(&app, "dan").await;
    // This login only.
    let r = post(&app, "/api/auth/logout/", json!({"refresh": r1}), Some(&a1)).await;
    assert_eq!(r.status, 204, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        post(
            &app,
            "/api/auth/token/refresh/",
            json!({"refresh": r1}),
            None
        )
        .await
        .status,
        401
    );
    assert_eq!(
        post(
            &app,
            "/api/auth/token/refresh/",
            json!({"refresh": r2}),
            None
        )
        .await
        .status,
        200
    );
    // Every other login.
    let r = post(
        &app,
        "/api/auth/logout/",
        json!({"refresh": r3, "scope": "others"}),
        Some(&a3),
    )
    .await;
    assert_eq!(r.status, 204);
    let sessions = get(&app, "/api/auth/sessions/", &a3).await.json();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions:?}");
    // Everything.
    let r = post(
        &app,
        "/api/auth/logout/",
        json!({"scope": "global"}),
        Some(&a3),
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        get(&app, "/auth/users/me/", &a3).await.status,
        401,
        "access tokens retired"
    );
    assert_eq!(
        post(
            &app,
            "/api/auth/token/refresh/",
            json!({"refresh": r3}),
            None
        )
        .await
        .status,
        401
    );
    let r = post(&app, "/api/auth/logout/", json!({"scope": "nope"}), None).await;
    assert_eq!(r.status, 401, "anonymous first");
}

async fn sessions_list_and_end(app: TestApp) {
    user(&app, "eve", false).await;
    user(&app, "fay", false).await;
    let (a, _) = login(&app, "eve").await;
    login(&app, "eve").await;
    let (other, _) = login(&app, "fay").await;
    let list = get(&app, "/api/auth/sessions/", &a).await;
    assert_eq!(list.status, 200);
    let rows = list.json();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert!(rows[0]["created_at"].as_str().unwrap().contains('T'));
    let id = rows[1]["id"].as_i64().unwrap();
    let theirs = app
        .send(
            Request::delete(format!("/api/auth/sessions/{id}/"))
                .header("authorization", format!("Bearer {other}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(theirs.status, 404, "not someone else's");
    let mine = app
        .send(
            Request::delete(format!("/api/auth/sessions/{id}/"))
                .header("authorization", format!("Bearer {a}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(mine.status, 204);
    assert_eq!(
        get(&app, "/api/auth/sessions/", &a)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let anon = app.get("/api/auth/sessions/").await;
    assert_eq!(anon.status, 401);
}

async fn forgot_password_mails_a_link_and_tells_nobody(app: TestApp) {
    user(&app, "gus", false).await;
    user(&app, "root", true).await;
    let known = post(
        &app,
        "/api/auth/forgot-password/",
        json!({"email": "GUS@example.com"}),
        None,
    )
    .await;
    let unknown = post(
        &app,
        "/api/auth/forgot-password/",
        json!({"email": "nobody@example.com"}),
        None,
    )
    .await;
    assert_eq!(known.status, 200);
    assert_eq!(known.json(), unknown.json(), "the same answer either way");
    assert!(
        known.json().get("uid").is_none(),
        "no token for anonymous callers"
    );
    let queued = app.state.store.list_mail(false, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0].body_text.contains("#/reset-password/"),
        "{}",
        queued[0].body_text
    );
    let bad = post(
        &app,
        "/api/auth/forgot-password/",
        json!({"email": "not-an-address"}),
        None,
    )
    .await;
    assert_eq!(bad.status, 400);

    let (admin, _) = login(&app, "root").await;
    let r = post(
        &app,
        "/api/auth/forgot-password/",
        json!({"email": "gus@example.com"}),
        Some(&admin),
    )
    .await;
    assert!(
        r.json()["uid"].is_string() && r.json()["token"].is_string(),
        "an admin gets them: {:?}",
        r.json()
    );
}

async fn reset_password_confirm_is_single_use_and_signs_out(app: TestApp) {
    let app = TestApp::with_settings(app.db.backend, |s| {
        s.accounts.reset_token_in_response = true
    })
    .await;
    user(&app, "hal", false).await;
    let (access, refresh) = login(&app, "hal").await;
    let r = post(
        &app,
        "/api/auth/forgot-password/",
        json!({"email": "hal@example.com"}),
        None,
    )
    .await;
    let (uid, token) = (r.json()["uid"].clone(), r.json()["token"].clone());
    let weak = post(
        &app,
        "/api/auth/reset-password-confirm/",
        json!({"uid": uid, "token": token, "new_password": "123"}),
        None,
    )
    .await;
    assert_eq!(weak.status, 400);
    assert!(weak.json()["new_password"].is_array());
    let ok = post(
        &app,
        "/api/auth/reset-password-confirm/",
        json!({"uid": uid, "token": token, "new_password": "brand-New-pass-77"}),
        None,
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.json());
    let again = post(
        &app,
        "/api/auth/reset-password-confirm/",
        json!({"uid": uid, "token": token, "new_password": "another-New-pass-88"}),
        None,
    )
    .await;
    assert_eq!(again.status, 400, "single use");
    assert_eq!(
        get(&app, "/auth/users/me/", &access).await.status,
        401,
        "signed out"
    );
    assert_eq!(
        post(
            &app,
            "/api/auth/token/refresh/",
            json!({"refresh": refresh}),
            None
        )
        .await
        .status,
        401
    );
    let r = post(
        &app,
        "/api/auth/login/",
        json!({"username": "hal", "password": "brand-New-pass-77"}),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
}
