//! The audit trail: what each security event records (who, about whom,
//! from where, with which request id), that a change and its record land
//! together, the admin endpoint and its access, the per-kind counters and
//! `doorman audit tail`.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{
        Backend, TestApp, TestDb,
        limits::{login_from, only, post_from, rate},
        people::PW,
        served::{cli, serve, stop},
    },
};

on_both_backends!(
    logins_are_recorded_with_address_agent_and_request_id,
    admin_changes_name_the_fields_and_survive_the_user,
    password_changes_are_recorded_and_refusals_are_not,
    the_trail_is_for_admins_and_pages_by_id,
    lockouts_and_unlocks_are_recorded,
    role_and_logout_events_are_recorded,
);

/// The events about `user` (newest first) as a superuser reads them.
async fn events(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let r = app
        .request(
            Method::GET,
            &format!("/api/auth/audit/?{query}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.json()["results"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

async fn logins_are_recorded_with_address_agent_and_request_id(app: TestApp) {
    let ann = app.user("ann").create().await;
    let boss = app.user("boss").superuser().signed_in().await;
    let wrong = post_from(
        &app,
        "198.51.100.40",
        "/auth/jwt/create/",
        json!({"username": "ann", "password": "not-it"}),
        &[("user-agent", "probe/1.0"), ("x-request-id", "req-wrong-1")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = post_from(
        &app,
        "198.51.100.41",
        "/api/auth/login/",
        json!({"username": "ann", "password": PW}),
        &[("user-agent", "browser/2.0")],
    )
    .await;
    assert_eq!(right.status, StatusCode::OK, "{right:?}");
    // An unknown name is recorded too, as typed.
    assert_eq!(
        login_from(&app, "198.51.100.42", "nobody-here", "x").await,
        StatusCode::UNAUTHORIZED
    );

    let seen = events(&app, boss.auth(), &format!("user={}", ann.id)).await;
    assert_eq!(kinds(&seen)[..2], ["login_succeeded", "login_failed"]);
    let (ok, failed) = (&seen[0], &seen[1]);
    assert_eq!(ok["outcome"], "success");
    assert_eq!(ok["actor_id"], ann.id);
    assert_eq!(ok["address"], "198.51.100.41");
    assert_eq!(ok["user_agent"], "browser/2.0");
    assert_eq!(ok["request_id"], right.header("x-request-id").unwrap());
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["target_id"], ann.id);
    assert_eq!(failed["actor_id"], Value::Null);
    assert_eq!(failed["address"], "198.51.100.40");
    assert_eq!(failed["user_agent"], "probe/1.0");
    assert_eq!(failed["request_id"], "req-wrong-1");
    assert_eq!(failed["detail"], "wrong password or no such account");
    assert_eq!(failed["target"], "ann");
    // A login that names no account is recorded without the name typed
    // (it may be a password typed in the wrong field).
    let failures = events(&app, boss.auth(), "kind=login_failed").await;
    let unknown: Vec<&Value> = failures
        .iter()
        .filter(|e| e["target_id"].is_null())
        .collect();
    assert_eq!(unknown.len(), 1, "{failures:?}");
    assert_eq!(unknown[0]["target"], "");
    assert_eq!(unknown[0]["address"], "198.51.100.42");
}

async fn admin_changes_name_the_fields_and_survive_the_user(app: TestApp) {
    let bob = app.user("bob").create().await;
    let boss = app.user("boss").superuser().signed_in().await;
    let r = app
        .request(
            Method::PATCH,
            &format!("/api/auth/users/{}/update/", bob.id),
            Some(boss.auth()),
            Some(json!({"first_name": "Robert", "last_name": "Roe", "username": "robert"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/users/{}/delete/", bob.id),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // The user is gone; their history stays, naming them.
    let seen = events(&app, boss.auth(), &format!("user={}", bob.id)).await;
    assert_eq!(
        kinds(&seen),
        [
            "user_deleted",
            "user_changed",
            "username_changed",
            "user_created"
        ]
    );
    assert_eq!(seen[0]["target"], "robert");
    assert_eq!(seen[0]["actor_id"], boss.id);
    assert_eq!(seen[1]["detail"], "Changed first_name and last_name.");
    assert_eq!(seen[1]["actor_id"], boss.id);
    assert_eq!(seen[2]["detail"], "now robert");
}

async fn password_changes_are_recorded_and_refusals_are_not(app: TestApp) {
    let cat = app.user("cat").signed_in().await;
    let boss = app.user("boss").superuser().signed_in().await;
    let r = app
        .request(
            Method::POST,
            "/auth/users/set_password/",
            Some(cat.auth()),
            Some(json!({"current_password": PW, "new_password": "short"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let before = events(&app, boss.auth(), "kind=password_changed").await;
    assert!(before.is_empty(), "{before:?}");
    let r = app
        .request(
            Method::POST,
            "/auth/users/set_password/",
            Some(cat.auth()),
            Some(json!({"current_password": PW, "new_password": "a-Brand-new-pass-77"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let seen = events(&app, boss.auth(), "kind=password_changed").await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["target_id"], cat.id);
    assert_eq!(seen[0]["actor_id"], cat.id);
    // Written with the change: the row and the new hash agree.
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM doorman_audit WHERE kind = 'password_changed'")
            .await,
        1
    );
}

async fn the_trail_is_for_admins_and_pages_by_id(app: TestApp) {
    let member = app.user("member").signed_in().await;
    let boss = app.user("boss").superuser().signed_in().await;
    let r = app
        .request(Method::GET, "/api/auth/audit/", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .request(Method::GET, "/api/auth/audit/", Some(member.auth()), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A delegated viewer of users does not read the trail: it holds
    // superusers' addresses and sign-ins.
    let viewer = app
        .user("viewer")
        .staff()
        .permissions(&["auth.view_user"])
        .signed_in()
        .await;
    let r = app
        .request(Method::GET, "/api/auth/audit/", Some(viewer.auth()), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let full = app.user("full").admin().signed_in().await;
    let r = app
        .request(Method::GET, "/api/auth/audit/", Some(full.auth()), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for bad in ["kind=nope", "before=abc", "limit=x", "user=1.5"] {
        let r = app
            .request(
                Method::GET,
                &format!("/api/auth/audit/?{bad}"),
                Some(boss.auth()),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {r:?}");
    }
    for name in ["p1", "p2", "p3"] {
        app.user(name).create().await;
    }
    let r = app
        .request(
            Method::GET,
            "/api/auth/audit/?kind=user_created&limit=2",
            Some(boss.auth()),
            None,
        )
        .await;
    let page = r.json();
    let first: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(first, ["p3", "p2"]);
    let next = page["next_before"].as_i64().unwrap();
    let rest = events(
        &app,
        boss.auth(),
        &format!("kind=user_created&limit=2&before={next}"),
    )
    .await;
    assert_eq!(rest[0]["target"], "p1");

    // Counted per kind for /metrics.
    let app = crate::support::apps::app_with(app, |s| {
        s.server.metrics_token = Some("metrics-token".into())
    })
    .await;
    app.user("counted").create().await;
    let request = Request::get("/metrics")
        .header("authorization", "Bearer metrics-token")
        .body(Body::empty())
        .unwrap();
    let text = String::from_utf8(app.send(request).await.body).unwrap();
    assert!(
        text.contains("doorman_audit_events_total{kind=\"user_created\"} 1"),
        "{text}"
    );
}

async fn lockouts_and_unlocks_are_recorded(app: TestApp) {
    let app = crate::support::apps::app_with(app, |s| {
        only(s, |r| r.login_failures_per_account = rate("2/15m"))
    })
    .await;
    let dan = app.user("dan").create().await;
    let boss = app.user("boss").superuser().signed_in().await;
    for _ in 0..2 {
        login_from(&app, "198.51.100.50", "dan", "x").await;
    }
    assert_eq!(
        login_from(&app, "198.51.100.50", "dan", "x").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The lockout's record is written just after the refusal.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while events(&app, boss.auth(), "kind=lockout").await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "no lockout recorded");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/users/{}/lockouts/", dan.id),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let seen = events(&app, boss.auth(), &format!("user={}", dan.id)).await;
    assert_eq!(seen[0]["kind"], "unlock");
    assert_eq!(seen[0]["actor_id"], boss.id);
    assert_eq!(seen[0]["detail"], "1 lockout(s) cleared");
    let lockout = seen.iter().find(|e| e["kind"] == "lockout").unwrap();
    assert_eq!(lockout["outcome"], "refused");
    assert_eq!(lockout["address"], "198.51.100.50");
    assert_eq!(lockout["target"], "dan", "named by the account's username");
    // Refused attempts are counted on the lockout, not recorded one by one.
    assert!(
        !seen
            .iter()
            .any(|e| e["kind"] == "login_failed" && e["outcome"] == "refused")
    );
}

async fn role_and_logout_events_are_recorded(app: TestApp) {
    let boss = app.user("boss").superuser().signed_in().await;
    let fay = app.user("fay").create().await;
    let call = |method: Method, path: String, body: Value| {
        let app = &app;
        let auth = boss.auth().to_string();
        async move { app.request(method, &path, Some(&auth), Some(body)).await }
    };
    let r = call(
        Method::POST,
        "/api/auth/roles/create/".into(),
        json!({"name": "editors"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let role = r.json()["id"].as_i64().unwrap();
    let r = call(
        Method::PATCH,
        format!("/api/auth/roles/{role}/"),
        json!({"name": "writers"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let perm = app.permission_id("auth.view_user").await;
    let r = call(
        Method::PUT,
        format!("/api/auth/permissions/{role}/update/"),
        json!({"permissions": [perm]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = call(
        Method::PATCH,
        format!("/api/auth/user_profile/{}/update/", fay.id),
        json!({"roles": [role]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/roles/{role}/"),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let seen = events(&app, boss.auth(), &format!("user={}", boss.id)).await;
    let role_kinds: Vec<&str> = kinds(&seen)
        .into_iter()
        .filter(|k| k.starts_with("role_") || k.starts_with("profile_"))
        .collect();
    assert_eq!(
        role_kinds,
        [
            "role_deleted",
            "profile_roles_changed",
            "role_changed",
            "role_changed",
            "role_created"
        ]
    );
    assert!(
        seen.iter()
            .all(|e| e["actor_id"] == boss.id || e["target_id"] == boss.id)
    );
    let profile = seen
        .iter()
        .find(|e| e["kind"] == "profile_roles_changed")
        .unwrap();
    assert_eq!(profile["target_id"], fay.id);

    // A refresh token logged out through jwt/blacklist/.
    let pair = crate::support::client::post(
        &app,
        "/auth/jwt/create/",
        json!({"username": "fay", "password": PW}),
    )
    .await
    .json();
    let r = crate::support::client::post(
        &app,
        "/auth/jwt/blacklist/",
        json!({"refresh": pair["refresh"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let out = events(&app, boss.auth(), &format!("user={}&kind=logout", fay.id)).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["detail"], "jwt/blacklist: this refresh token");
}

/// `doorman audit tail` from another process shows the failed logins of a
/// running server with their addresses.
async fn audit_tail_shows_failed_logins(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (served, base) = serve(&db, &[]);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/auth/users/"))
        .json(&json!({"username": "eve", "password": PW, "email": "eve@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{base}/auth/jwt/create/"))
        .json(&json!({"username": "eve", "password": "guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let out = cli(&db)
        .args(["audit", "tail", "--user", "eve"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(" user_created success target=eve#"),
        "{text}"
    );
    assert!(
        lines[1].contains(" login_failed failure target=eve#")
            && lines[1].contains("from=127.0.0.1")
            && lines[1].ends_with("wrong password or no such account"),
        "{text}"
    );
    let out = cli(&db)
        .args(["audit", "tail", "--kind", "bogus"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unknown event kind"));

    // --follow prints what is written after it started, from this server.
    let mut follower = cli(&db)
        .args([
            "audit",
            "tail",
            "-n",
            "0",
            "--follow",
            "--kind",
            "login_failed",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (sent, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = sent.send(line);
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let r = http
        .post(format!("{base}/auth/jwt/create/"))
        // A C1 control (NEL) in UTF-8: header bytes above 0x7f are allowed.
        .header(
            "user-agent",
            reqwest::header::HeaderValue::from_bytes("evil\u{85}[2J".as_bytes()).unwrap(),
        )
        .json(&json!({"username": "eve", "password": "again"}))
        .send()
        .await;
    assert_eq!(r.unwrap().status(), 401);
    let line = got
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("--follow printed the new event");
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(line.contains(" login_failed failure target=eve#"), "{line}");
    // A client's bytes cannot steer the operator's terminal.
    assert!(line.contains("ua=evil\\u{85}[2J"), "{line}");
    assert!(!line.contains('\u{85}'));
    stop(served);
}

#[tokio::test]
async fn sqlite_audit_tail_shows_failed_logins() {
    audit_tail_shows_failed_logins(Backend::Sqlite).await
}

#[tokio::test]
async fn postgres_audit_tail_shows_failed_logins() {
    audit_tail_shows_failed_logins(Backend::Postgres).await
}
