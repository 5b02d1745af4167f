//! `doorman import-django`, as an operator runs it: a database real
//! Django made (users, a DRF token, a blacklisted refresh token, a reset
//! link, a profile with a picture, a role and a province) is copied into
//! an empty doorman database of the other backend, and every one of those
//! keeps working there; a second run copies nothing; a change in Django
//! is carried by the next run, a token logged out there dies here; a
//! conflict and bad sources stop with a clear message and change nothing.

use std::process::Output;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{
    Backend, TestApp, TestDb,
    commands::{doorman, text},
    django::{KEY, PW, django},
};

#[tokio::test]
async fn from_django_on_sqlite_into_postgres() {
    import_django(Backend::Sqlite, Backend::Postgres).await;
}

#[tokio::test]
async fn from_django_on_postgres_into_sqlite() {
    import_django(Backend::Postgres, Backend::Sqlite).await;
}

fn import(target: &TestDb, media: &std::path::Path, args: &[&str]) -> Output {
    doorman(target)
        .arg("import-django")
        .args(args)
        .env("DOORMAN_SECURITY__SECRET_KEY", KEY)
        .env("DOORMAN_MEDIA__ROOT", media)
        .output()
        .unwrap()
}

/// The numbers of the summary's row for `table`: new, updated, unchanged,
/// removed, skipped.
fn row(out: &Output, table: &str) -> Vec<u64> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| {
            l.trim_start().starts_with(table) && l.trim_start()[table.len()..].starts_with("  ")
        })
        .unwrap_or_else(|| panic!("no row {table:?} in\n{}", text(out)));
    line.split_whitespace()
        .rev()
        .take(5)
        .map(|n| n.parse().unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

async fn jwt_login(app: &TestApp, username: &str, password: &str) -> StatusCode {
    app.request(
        Method::POST,
        "/auth/jwt/create/",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
    .status
}

async fn import_django(from: Backend, into: Backend) {
    let source = TestDb::new_empty(from).await;
    let src = source.url.clone();
    let dj = |args: &[&str]| django(&src, args);
    if dj(&["migrate"]).is_none() {
        return;
    }
    let alice = dj(&["create_user", "alice", PW]).unwrap()["id"]
        .as_i64()
        .unwrap();
    let bob = dj(&["create_user", "bob", PW]).unwrap()["id"]
        .as_i64()
        .unwrap();
    // frank is deleted in Django after the first copy.
    dj(&["create_user", "frank", PW]).unwrap();
    let drf_key = dj(&["drf_token", "alice"]).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let bob_key = dj(&["drf_token", "bob"]).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    dj(&["profile", "alice", "profile_pics/alice.png", "editors"]).unwrap();
    let province = dj(&["extras", "alice", "bob", "editors"]).unwrap()["province"].clone();
    let pair = dj(&["jwt_pair", "bob"]).unwrap();
    let blacklisted = pair["refresh"].as_str().unwrap().to_string();
    dj(&["blacklist", &blacklisted]).unwrap();
    let link = dj(&["reset_link", "alice"]).unwrap();
    let django_media = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(django_media.path().join("profile_pics")).unwrap();
    std::fs::write(
        django_media.path().join("profile_pics/alice.png"),
        b"picture bytes",
    )
    .unwrap();
    let media = tempfile::tempdir().unwrap();
    let media_from = django_media.path().to_str().unwrap();

    // A dry run needs a migrated target (it changes nothing, migrations
    // included); the import itself migrates.
    let target = TestDb::new_empty(into).await;
    let out = import(&target, media.path(), &[&src, "--dry-run"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("pending migrations"), "{}", text(&out));
    let out = doorman(&target).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = import(
        &target,
        media.path(),
        &[&src, "--dry-run", "--media-from", media_from],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Dry run: nothing was changed"),
        "{}",
        text(&out)
    );
    assert_eq!(row(&out, "users"), [3, 0, 0, 0, 0]);
    assert_eq!(target.scalar("SELECT count(*) FROM auth_user").await, 0);
    assert!(!media.path().join("profile_pics/alice.png").exists());

    let out = import(&target, media.path(), &[&src, "--media-from", media_from]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(row(&out, "users"), [3, 0, 0, 0, 0]);
    assert_eq!(row(&out, "groups"), [1, 0, 0, 0, 0]);
    assert_eq!(row(&out, "group memberships"), [1, 0, 0, 0, 0]);
    assert_eq!(row(&out, "user permissions"), [1, 0, 0, 0, 0]);
    assert_eq!(row(&out, "group permissions"), [1, 0, 0, 0, 0]);
    assert_eq!(row(&out, "DRF tokens"), [2, 0, 0, 0, 0]);
    assert_eq!(row(&out, "provinces"), [1, 0, 0, 0, 0]);
    assert_eq!(row(&out, "profiles"), [1, 0, 0, 0, 0]);
    assert_eq!(row(&out, "profile roles"), [1, 0, 0, 0, 0]);
    assert_eq!(row(&out, "blacklisted refresh tokens"), [1, 0, 0, 0, 0]);
    assert_eq!(
        std::fs::read(media.path().join("profile_pics/alice.png")).unwrap(),
        b"picture bytes"
    );

    // A second run finds nothing to do.
    let out = import(&target, media.path(), &[&src, "--media-from", media_from]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Nothing new to copy"), "{}", text(&out));
    assert_eq!(row(&out, "users"), [0, 0, 3, 0, 0]);

    // What was copied works in doorman: the DRF token, the profile, the
    // blacklist (none of which signs anyone in).
    let media_root = media.path().to_path_buf();
    let app = TestApp::on_db(target, move |s| {
        s.security.secret_key = Some(KEY.into());
        s.media.root = media_root;
    })
    .await;
    let drf = format!("Token {drf_key}");
    let r = app
        .request(Method::GET, "/auth/users/me/", Some(&drf), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json()["id"].as_i64(), Some(alice), "ids are kept");
    let r = app
        .request(Method::GET, "/api/auth/profile/", Some(&drf), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let profile = r.json();
    assert!(
        profile["profile_picture"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/media/profile_pics/alice.png"),
        "{profile}"
    );
    assert_eq!(profile["roles"][0]["name"], "editors", "{profile}");
    assert_eq!(profile["province"], province, "{profile}");
    let r = app
        .request(
            Method::POST,
            "/auth/jwt/refresh/",
            None,
            Some(json!({"refresh": blacklisted})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the blacklist came along: {r:?}"
    );

    // bob signs out in doorman: his token stays dead through later runs
    // (Django still has it, but it changed only here since the copy).
    let bob_drf = format!("Token {bob_key}");
    let r = app
        .request(Method::POST, "/auth/token/logout/", Some(&bob_drf), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");

    // Changes made in Django before the switch come with the next run: a
    // new password, a token logged out, a membership ended, a user deleted
    // (who signed in here meanwhile, and is made inactive, token and all).
    let r = app
        .request(
            Method::POST,
            "/auth/jwt/create/",
            None,
            Some(json!({"username": "frank", "password": PW})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let frank_jwt = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    dj(&["delete_user", "frank"]).unwrap();
    dj(&["set_password", "bob", "changed-in-django-3"]).unwrap();
    dj(&["drf_logout", "alice"]).unwrap();
    dj(&["leave_group", "bob", "editors"]).unwrap();
    let out = import(&app.db, media.path(), &[&src]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(row(&out, "users"), [0, 1, 1, 0, 0]);
    assert_eq!(row(&out, "DRF tokens")[3], 1, "removed");
    assert_eq!(row(&out, "group memberships")[3], 1, "removed");
    assert!(
        text(&out).contains("Deleted in Django since an earlier copy: 1 user, made inactive"),
        "{}",
        text(&out)
    );
    let r = app
        .request(Method::GET, "/auth/users/me/", Some(&frank_jwt), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "deleted in Django: {r:?}"
    );
    assert_eq!(jwt_login(&app, "frank", PW).await, StatusCode::UNAUTHORIZED);
    let r = app
        .request(Method::GET, "/auth/users/me/", Some(&drf), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "logged out in Django: {r:?}"
    );
    let r = app
        .request(Method::GET, "/auth/users/me/", Some(&bob_drf), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "logged out here: {r:?}");
    assert_eq!(
        jwt_login(&app, "bob", "changed-in-django-3").await,
        StatusCode::OK
    );
    // Django's reset link works (a login changes last_login, which by
    // Django's token algorithm ends outstanding links: alice has not
    // signed in).
    let r = app
        .request(
            Method::POST,
            "/auth/users/reset_password_confirm/",
            None,
            Some(json!({"uid": link["uid"], "token": link["token"], "new_password": "reset-in-doorman-9"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "Django's reset link: {r:?}"
    );
    assert_eq!(
        jwt_login(&app, "alice", "reset-in-doorman-9").await,
        StatusCode::OK
    );

    // Once users work in doorman, a run that would undo their changes
    // stops: alice reset her password here and changed it in Django
    // since; carol registered here under the id Django then gave to dave;
    // bob took, here, the address Django then gave dave. bob signed in
    // here, which upgraded his hash. Nothing else changes either.
    let r = app
        .request(
            Method::POST,
            "/auth/jwt/create/",
            None,
            Some(json!({"username": "bob", "password": "changed-in-django-3"})),
        )
        .await;
    let bob_jwt = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    let r = app
        .request(
            Method::PATCH,
            "/auth/users/me/",
            Some(&bob_jwt),
            Some(json!({"email": "DAVE@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .request(
            Method::POST,
            "/auth/users/",
            None,
            Some(json!({"username": "carol", "email": "carol@example.com", "password": PW})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let carol = r.json()["id"].as_i64().unwrap();
    let dave = dj(&["create_user", "dave", PW]).unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(carol, dave, "both sides hand out the next id");
    dj(&["set_password", "bob", "changed-again-4"]).unwrap();
    dj(&["set_password", "alice", "changed-again-5"]).unwrap();
    let out = import(&app.db, media.path(), &[&src]);
    assert!(!out.status.success(), "{}", text(&out));
    let message = text(&out);
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(message.contains(&format!("users id {carol}")), "{message}");
    let email_taken = format!(
        "users \"dave@example.com\": id {dave} in the source, but the target gives it to id {bob}"
    );
    assert!(message.contains(&email_taken), "{message}");
    for name in ["alice", "bob"] {
        let changed = format!("({name:?}): changed in doorman after it was copied");
        assert!(message.contains(&changed), "{message}");
    }
    assert_eq!(
        jwt_login(&app, "bob", "changed-in-django-3").await,
        StatusCode::OK
    );
    assert_eq!(
        jwt_login(&app, "alice", "reset-in-doorman-9").await,
        StatusCode::OK
    );
    assert_eq!(jwt_login(&app, "carol", PW).await, StatusCode::OK);
}
#[tokio::test]
async fn bad_sources_stop_with_a_clear_message() {
    let target = TestDb::new(Backend::Sqlite).await;
    let media = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let not_django = dir.path().join("plain.sqlite3");
    {
        let url = format!("sqlite://{}?mode=rwc", not_django.display());
        let db = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE notes (id integer)")
            .execute(&db)
            .await
            .unwrap();
        db.close().await;
    }
    let garbage = dir.path().join("garbage.sqlite3");
    std::fs::write(&garbage, vec![b'x'; 4096]).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            "postgres://postgres@127.0.0.1:1/nothing".into(),
            "cannot connect",
        ),
        (
            format!("sqlite://{}", dir.path().join("missing.sqlite3").display()),
            "no such file",
        ),
        (
            format!("sqlite://{}", not_django.display()),
            "is not a Django database",
        ),
        (format!("sqlite://{}", garbage.display()), "source"),
        (
            "mysql://root@127.0.0.1/test".into(),
            "not a sqlite: or postgres: URL",
        ),
        (target.url.clone(), "doorman's own database"),
    ];
    for (url, expected) in cases {
        let out = import(&target, media.path(), &[&url]);
        assert!(!out.status.success(), "{url}: {}", text(&out));
        let message = text(&out);
        assert!(message.contains(expected), "{url}: {message}");
        assert!(!message.contains("panicked"), "{url}: {message}");
    }
    assert!(
        !dir.path().join("missing.sqlite3").exists(),
        "the source is never created"
    );
    let out = import(
        &target,
        media.path(),
        &[
            &format!("sqlite://{}", not_django.display()),
            "--accounts-app",
            "Bad-Name",
        ],
    );
    assert!(text(&out).contains("--accounts-app"), "{}", text(&out));
}
