//! Lockouts that admins see and clear: `GET`/`DELETE
//! /api/auth/users/{id}/lockouts/` and `doorman unlock USER`, which also
//! reaches a running server's in-memory budgets (the user's lockout
//! generation is part of every key).

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{
        Backend, TestApp, TestDb,
        limits::{assert_throttled, login_from, only, post_from, rate},
        people::PW,
        served::{cli, serve, stop},
    },
};

on_both_backends!(
    admins_see_and_clear_a_lockout,
    who_may_see_and_clear_lockouts,
    lockouts_of_a_deleted_user_go_with_them,
);

async fn locked_app(app: TestApp) -> TestApp {
    let backend = app.db.backend;
    drop(app);
    TestApp::with_settings(backend, |s| {
        only(s, |r| r.login_failures_per_account = rate("3/15m"))
    })
    .await
}

/// Three wrong passwords for `username` from `from`, then one refused.
async fn lock_out(app: &TestApp, username: &str, from: &str) {
    for _ in 0..3 {
        assert_eq!(
            login_from(app, from, username, "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = post_from(
        app,
        from,
        "/auth/jwt/create/",
        json!({"username": username, "password": PW}),
        &[],
    )
    .await;
    assert_throttled(&r);
}

/// The lockouts an admin sees, once the refusal's record has landed (it
/// is written off the request's path).
async fn lockouts_seen(app: &TestApp, auth: &str, id: i64, expect: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = app
            .request(
                Method::GET,
                &format!("/api/auth/users/{id}/lockouts/"),
                Some(auth),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let body = r.json();
        if body.as_array().unwrap().len() == expect || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn admins_see_and_clear_a_lockout(app: TestApp) {
    let app = locked_app(app).await;
    let victim = app.user("victim").create().await;
    let boss = app.user("boss").superuser().signed_in().await;
    let attacker = "198.51.100.77";
    lock_out(&app, "victim", attacker).await;

    let seen = lockouts_seen(&app, boss.auth(), victim.id, 1).await;
    let entry = &seen[0];
    assert_eq!(entry["address"], attacker);
    assert!(entry["refused"].as_i64().unwrap() >= 1);
    let until = entry["locked_until"].as_str().unwrap();
    let until =
        time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(until > time::OffsetDateTime::now_utc());
    // Another account, never refused, has none.
    assert_eq!(
        lockouts_seen(&app, boss.auth(), boss.id, 0).await,
        json!([])
    );

    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/users/{}/lockouts/", victim.id),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    // At once, from the very address that was refused.
    assert_eq!(
        login_from(&app, attacker, "victim", PW).await,
        StatusCode::OK
    );
    assert_eq!(
        lockouts_seen(&app, boss.auth(), victim.id, 0).await,
        json!([])
    );
    // The count starts again: three more guesses, then a refusal.
    lock_out(&app, "victim", attacker).await;
    // A look-alike spelling that names no account (usernames are
    // case-sensitive) shares that budget, after an unlock as before: the
    // generation belongs to the name typed, so nothing tells which names
    // exist or were unlocked.
    assert_eq!(
        login_from(&app, attacker, "VICTIM", "guess").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn who_may_see_and_clear_lockouts(app: TestApp) {
    let app = locked_app(app).await;
    let victim = app.user("victim").create().await;
    let root = app.user("root").superuser().create().await;
    let member = app.user("member").signed_in().await;
    let helper = app
        .user("helper")
        .staff()
        .permissions(&["auth.view_user", "auth.change_user"])
        .signed_in()
        .await;
    let path = |id: i64| format!("/api/auth/users/{id}/lockouts/");
    for method in [Method::GET, Method::DELETE] {
        let r = app
            .request(method.clone(), &path(victim.id), None, None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method}");
        let r = app
            .request(method.clone(), &path(victim.id), Some(member.auth()), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method}");
        // A delegated admin manages plain users, never a superuser.
        let r = app
            .request(method.clone(), &path(root.id), Some(helper.auth()), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method}");
        let r = app
            .request(method.clone(), &path(999_999), Some(helper.auth()), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
        let r = app
            .request(
                method.clone(),
                "/api/auth/users/abc/lockouts/",
                Some(helper.auth()),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
    }
    lock_out(&app, "victim", "198.51.100.78").await;
    assert_eq!(
        lockouts_seen(&app, helper.auth(), victim.id, 1).await[0]["address"],
        "198.51.100.78"
    );
    let r = app
        .request(Method::DELETE, &path(victim.id), Some(helper.auth()), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        login_from(&app, "198.51.100.78", "victim", PW).await,
        StatusCode::OK
    );
}

async fn lockouts_of_a_deleted_user_go_with_them(app: TestApp) {
    let app = locked_app(app).await;
    let victim = app.user("victim").create().await;
    let boss = app.user("boss").superuser().signed_in().await;
    lock_out(&app, "victim", "198.51.100.79").await;
    lockouts_seen(&app, boss.auth(), victim.id, 1).await;
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/users/{}/delete/", victim.id),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM doorman_lockout").await,
        0
    );
}

/// `doorman unlock USER` from another process clears what the running
/// server keeps in its own memory: the lockout is listed, cleared, and the
/// owner signs in at once from the address that was refused.
async fn the_cli_unlocks_a_running_server(backend: Backend) {
    let db = TestDb::new(backend).await;
    let env = [(
        "DOORMAN_RATE_LIMIT__LOGIN_FAILURES_PER_ACCOUNT",
        "3/15m".to_string(),
    )];
    let (served, base) = serve(&db, &env);
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    let r = post(
        "/auth/users/",
        json!({"username": "owner", "password": PW, "email": "owner@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let login = |password: &str| json!({"username": "owner", "password": password});
    for _ in 0..3 {
        assert_eq!(
            post("/auth/jwt/create/", login("guess"))
                .await
                .unwrap()
                .status(),
            401
        );
    }
    assert_eq!(
        post("/auth/jwt/create/", login(PW)).await.unwrap().status(),
        429
    );

    let unlock = |args: &[&str]| cli(&db).arg("unlock").args(args).output().unwrap();
    // The refusal's record is written just after the answer.
    let deadline = Instant::now() + Duration::from_secs(5);
    let listed = loop {
        let out = unlock(&["owner", "--list"]);
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        if text.contains("locked at 127.0.0.1") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(listed.contains("locked at 127.0.0.1 until"), "{listed}");
    // --list clears nothing.
    assert_eq!(
        post("/auth/jwt/create/", login(PW)).await.unwrap().status(),
        429
    );

    let out = unlock(&["owner"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Cleared 1 lockout(s) of 'owner'"), "{text}");
    assert_eq!(
        post("/auth/jwt/create/", login(PW)).await.unwrap().status(),
        200
    );

    let out = unlock(&["nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("user `nobody` does not exist"));
    stop(served);
}

#[tokio::test]
async fn sqlite_the_cli_unlocks_a_running_server() {
    the_cli_unlocks_a_running_server(Backend::Sqlite).await
}

#[tokio::test]
async fn postgres_the_cli_unlocks_a_running_server() {
    the_cli_unlocks_a_running_server(Backend::Postgres).await
}
