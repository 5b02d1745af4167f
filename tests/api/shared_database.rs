//! A database shared with a Django project: the tables of Django's admin,
//! DRF's authtoken, simplejwt's blacklist, the seed's accounts app and a
//! project model (`shop_order`), as Django 5.2 makes them
//! (`tests/django/schema/apps-*.sql`), next to doorman's. Deleting a user
//! or a role clears what those apps' models cascade, and a project row
//! that still refers to it refuses the delete with a 409, never half done.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{
    on_both_backends,
    support::{
        Backend, TestApp, TestDb,
        images::{image_bytes, upload},
        people::PW,
        served::cli,
    },
};

on_both_backends!(
    deleting_a_user_clears_what_django_apps_cascade,
    a_project_row_refuses_the_delete_and_nothing_goes,
    deleting_a_role_clears_the_profile_roles_of_the_accounts_app,
    a_drf_token_made_by_django_authenticates_and_logs_out,
    a_drf_token_follows_revocations,
    simplejwt_and_doorman_share_one_blacklist,
    doorman_check_reports_what_the_django_database_holds,
);

#[tokio::test]
async fn sqlite_a_picture_django_rows_share_is_kept() {
    a_picture_django_rows_share_is_kept(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_picture_django_rows_share_is_kept() {
    a_picture_django_rows_share_is_kept(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_profiles_live_in_the_django_accounts_tables() {
    profiles_live_in_the_django_accounts_tables(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_profiles_live_in_the_django_accounts_tables() {
    profiles_live_in_the_django_accounts_tables(Backend::Postgres).await;
}

/// The Django apps' tables, as Django 5.2 makes them on `backend`.
fn apps_schema(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => include_str!("../django/schema/apps-sqlite.sql"),
        Backend::Postgres => include_str!("../django/schema/apps-postgres.sql"),
    }
}

/// Adds the Django apps' tables to the test database.
async fn with_django_apps(app: &TestApp) {
    app.db.execute(apps_schema(app.db.backend)).await;
}

/// Rows the Django side wrote for user `id`: a DRF token, an admin log
/// entry, a blacklisted refresh token and a seed profile with one role.
async fn django_rows_for(app: &TestApp, id: i64, tag: &str) {
    let at = "'2026-01-01 00:00:00+00:00'";
    app.db
        .execute(&format!(
            "INSERT INTO authtoken_token (key, user_id, created) VALUES ('{tag:0>40}', {id}, {at});
             INSERT INTO django_admin_log (action_time, user_id, object_id, object_repr, action_flag, change_message)
               VALUES ({at}, {id}, '{id}', '{tag}', 2, '[]');
             INSERT INTO token_blacklist_outstandingtoken (user_id, jti, token, created_at, expires_at)
               VALUES ({id}, 'jti-{tag}', 'a.refresh.token', {at}, {at});
             INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)
               SELECT id, {at} FROM token_blacklist_outstandingtoken WHERE jti = 'jti-{tag}';
             INSERT INTO auth_group (name) VALUES ('role-{tag}');
             INSERT INTO accounts_userprofile (user_id, phone, address, bio, created_at, updated_at)
               VALUES ({id}, '', '', '', {at}, {at});
             INSERT INTO accounts_userprofile_roles (userprofile_id, group_id)
               SELECT p.id, g.id FROM accounts_userprofile p, auth_group g
               WHERE p.user_id = {id} AND g.name = 'role-{tag}';"
        ))
        .await;
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db.scalar(sql).await
}

async fn deleting_a_user_clears_what_django_apps_cascade(app: TestApp) {
    with_django_apps(&app).await;
    let ann = app.user("ann").signed_in().await;
    let bob = app.user("bob").create().await;
    django_rows_for(&app, ann.id, "ann").await;
    django_rows_for(&app, bob.id, "bob").await;

    let r = app
        .request(
            Method::DELETE,
            "/auth/users/me/",
            Some(ann.auth()),
            Some(json!({"current_password": PW})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");

    let id = ann.id;
    for (sql, left) in [
        (format!("SELECT count(*) FROM auth_user WHERE id = {id}"), 0),
        (format!("SELECT count(*) FROM authtoken_token WHERE user_id = {id}"), 0),
        (format!("SELECT count(*) FROM django_admin_log WHERE user_id = {id}"), 0),
        (format!("SELECT count(*) FROM accounts_userprofile WHERE user_id = {id}"), 0),
        // simplejwt's SET_NULL: the outstanding token stays, unowned, and
        // its blacklist entry with it.
        (
            "SELECT count(*) FROM token_blacklist_outstandingtoken WHERE jti = 'jti-ann' AND user_id IS NULL".into(),
            1,
        ),
        ("SELECT count(*) FROM token_blacklist_blacklistedtoken".into(), 2),
        // Only ann's profile role went; the role itself stays.
        ("SELECT count(*) FROM accounts_userprofile_roles".into(), 1),
        ("SELECT count(*) FROM auth_group WHERE name = 'role-ann'".into(), 1),
    ] {
        assert_eq!(count(&app, &sql).await, left, "{sql}");
    }
    // Bob's rows are untouched.
    let bob_id = bob.id;
    for table in [
        "authtoken_token",
        "django_admin_log",
        "accounts_userprofile",
    ] {
        assert_eq!(
            count(
                &app,
                &format!("SELECT count(*) FROM {table} WHERE user_id = {bob_id}")
            )
            .await,
            1,
            "{table}"
        );
    }
}

async fn a_project_row_refuses_the_delete_and_nothing_goes(app: TestApp) {
    with_django_apps(&app).await;
    let boss = app.user("boss").superuser().signed_in().await;
    let ann = app.user("ann").signed_in().await;
    django_rows_for(&app, ann.id, "ann").await;
    let id = ann.id;
    app.db
        .execute(&format!(
            "INSERT INTO shop_order (customer_id, total) VALUES ({id}, 12.50)"
        ))
        .await;

    let own = app
        .request(
            Method::DELETE,
            "/auth/users/me/",
            Some(ann.auth()),
            Some(json!({"current_password": PW})),
        )
        .await;
    let by_admin = app
        .request(
            Method::DELETE,
            &format!("/api/auth/users/{id}/delete/"),
            Some(boss.auth()),
            None,
        )
        .await;
    let by_djoser_admin = app
        .request(
            Method::DELETE,
            &format!("/auth/users/{id}/"),
            Some(boss.auth()),
            Some(json!({"current_password": PW})),
        )
        .await;
    for r in [&own, &by_admin, &by_djoser_admin] {
        assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
        let body = r.json();
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("\"shop_order\""), "{detail}");
    }
    // Nothing went: the user, their token, their profile and its role.
    for table in [
        "authtoken_token",
        "django_admin_log",
        "accounts_userprofile",
    ] {
        assert_eq!(
            count(
                &app,
                &format!("SELECT count(*) FROM {table} WHERE user_id = {id}")
            )
            .await,
            1,
            "{table}"
        );
    }
    assert_eq!(
        count(&app, "SELECT count(*) FROM accounts_userprofile_roles").await,
        1
    );
    let me = app
        .request(Method::GET, "/auth/users/me/", Some(ann.auth()), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "ann still signs in: {me:?}");

    // Once the project's row is gone, the delete goes through.
    app.db
        .execute(&format!("DELETE FROM shop_order WHERE customer_id = {id}"))
        .await;
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/users/{id}/delete/"),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM auth_user WHERE id = {id}")
        )
        .await,
        0
    );
}

async fn deleting_a_role_clears_the_profile_roles_of_the_accounts_app(app: TestApp) {
    with_django_apps(&app).await;
    let boss = app.user("boss").superuser().signed_in().await;
    let ann = app.user("ann").create().await;
    django_rows_for(&app, ann.id, "ann").await;
    let role = count(
        &app,
        "SELECT CAST(id AS BIGINT) FROM auth_group WHERE name = 'role-ann'",
    )
    .await;
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/roles/{role}/"),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM accounts_userprofile_roles").await,
        0
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM accounts_userprofile").await,
        1,
        "the profile stays"
    );
}

/// A DRF key as `Token.generate_key` makes them (40 hex characters).
fn drf_key(tag: char) -> String {
    std::iter::repeat_n(tag, 40).collect()
}

async fn give_drf_token(app: &TestApp, id: i64, key: &str) {
    app.db
        .execute(&format!(
            "INSERT INTO authtoken_token (key, user_id, created) VALUES ('{key}', {id}, '2026-01-01 00:00:00+00:00')"
        ))
        .await;
}

async fn me_with(app: &TestApp, auth: &str) -> StatusCode {
    app.request(Method::GET, "/auth/users/me/", Some(auth), None)
        .await
        .status
}

async fn a_drf_token_made_by_django_authenticates_and_logs_out(app: TestApp) {
    with_django_apps(&app).await;
    let ann = app.user("ann").create().await;
    let key = drf_key('a');
    give_drf_token(&app, ann.id, &key).await;
    let auth = format!("Token {key}");

    let r = app
        .request(Method::GET, "/auth/users/me/", Some(&auth), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json()["username"], "ann");
    // Again, from memory this time: the same answer.
    assert_eq!(me_with(&app, &auth).await, StatusCode::OK);
    assert_eq!(
        me_with(&app, &format!("Token {}", drf_key('b'))).await,
        StatusCode::UNAUTHORIZED
    );

    let r = app
        .request(Method::POST, "/auth/token/logout/", Some(&auth), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM authtoken_token").await,
        0,
        "DRF's row is deleted, as DRF's logout does"
    );
    assert_eq!(me_with(&app, &auth).await, StatusCode::UNAUTHORIZED);

    // A key Django deletes (its own logout) stops working here within the
    // cache's lifetime (`database.user_cache_ttl_ms`, 1 s).
    let key = drf_key('c');
    give_drf_token(&app, ann.id, &key).await;
    let auth = format!("Token {key}");
    assert_eq!(me_with(&app, &auth).await, StatusCode::OK);
    app.db.execute("DELETE FROM authtoken_token").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while me_with(&app, &auth).await == StatusCode::OK {
        assert!(Instant::now() < deadline, "still accepted after 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Django replaces the key (a new token/login there): logging the old
    // key out, even while it is still remembered here, leaves the new one.
    let old = drf_key('7');
    give_drf_token(&app, ann.id, &old).await;
    let old_auth = format!("Token {old}");
    assert_eq!(me_with(&app, &old_auth).await, StatusCode::OK);
    let new = drf_key('8');
    app.db
        .execute(&format!(
            "UPDATE authtoken_token SET key = '{new}' WHERE key = '{old}'"
        ))
        .await;
    let _ = app
        .request(Method::POST, "/auth/token/logout/", Some(&old_auth), None)
        .await;
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM authtoken_token WHERE key = '{new}'")
        )
        .await,
        1,
        "the new key survives a logout of the old one"
    );
    app.db.execute("DELETE FROM authtoken_token").await;
    // An inactive user's DRF token is refused as DRF refuses it.
    let bob = app.user("bob").create().await;
    let key = drf_key('d');
    give_drf_token(&app, bob.id, &key).await;
    let id = bob.id;
    app.db
        .execute(&format!(
            "UPDATE auth_user SET is_active = false WHERE id = {id}"
        ))
        .await;
    let r = app
        .request(
            Method::GET,
            "/auth/users/me/",
            Some(&format!("Token {key}")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(r.json()["detail"], "User inactive or deleted.");
}

/// An `Authorization` value with a fresh access JWT.
async fn jwt_of(app: &TestApp, username: &str, password: &str) -> String {
    let r = app
        .request(
            Method::POST,
            "/auth/jwt/create/",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    format!("Bearer {}", r.json()["access"].as_str().unwrap())
}

async fn a_drf_token_follows_revocations(app: TestApp) {
    with_django_apps(&app).await;
    let ann = app.user("ann").create().await;
    let key = drf_key('e');
    give_drf_token(&app, ann.id, &key).await;
    let drf = format!("Token {key}");
    let jwt = jwt_of(&app, "ann", PW).await;

    // A password change made with the DRF token keeps that token (Djoser
    // without LOGOUT_ON_PASSWORD_CHANGE) ...
    let r = app
        .request(
            Method::POST,
            "/auth/users/set_password/",
            Some(&drf),
            Some(json!({"current_password": PW, "new_password": "another-Sturdy-one-43"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(me_with(&app, &drf).await, StatusCode::OK);
    assert_eq!(me_with(&app, &jwt).await, StatusCode::UNAUTHORIZED);

    // ... and one made any other way revokes it with every other login.
    let jwt = jwt_of(&app, "ann", "another-Sturdy-one-43").await;
    let r = app
        .request(
            Method::POST,
            "/auth/users/set_password/",
            Some(&jwt),
            Some(json!({"current_password": "another-Sturdy-one-43", "new_password": PW})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(me_with(&app, &drf).await, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, "SELECT count(*) FROM authtoken_token").await, 0);
}

/// The `jti` claim of a JWT (its payload is not checked here).
fn jti_of(token: &str) -> String {
    crate::support::client::jwt_claims(token)["jti"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn refresh_pair(app: &TestApp, username: &str) -> String {
    let r = app
        .request(
            Method::POST,
            "/auth/jwt/create/",
            None,
            Some(json!({"username": username, "password": PW})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.json()["refresh"].as_str().unwrap().to_string()
}

async fn simplejwt_and_doorman_share_one_blacklist(app: TestApp) {
    with_django_apps(&app).await;
    let ann = app.user("ann").create().await;
    let refresh = |token: &str| {
        let body = json!({"refresh": token});
        let app = &app;
        async move {
            app.request(Method::POST, "/auth/jwt/refresh/", None, Some(body))
                .await
        }
    };

    // Blacklisted on the Django side (as simplejwt's blacklist() writes
    // it): refused here.
    let first = refresh_pair(&app, "ann").await;
    assert_eq!(refresh(&first).await.status, StatusCode::OK);
    let jti = jti_of(&first);
    let id = ann.id;
    app.db
        .execute(&format!(
            "INSERT INTO token_blacklist_outstandingtoken (user_id, jti, token, created_at, expires_at)
               VALUES ({id}, '{jti}', '{first}', '2026-01-01 00:00:00+00:00', '2099-01-01 00:00:00+00:00');
             INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)
               SELECT id, '2026-01-01 00:00:00+00:00' FROM token_blacklist_outstandingtoken WHERE jti = '{jti}';"
        ))
        .await;
    let r = refresh(&first).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(r.json()["detail"], "Token is blacklisted");

    // Blacklisted here: written where simplejwt looks, owner and expiry
    // included, and nothing of the token itself.
    let second = refresh_pair(&app, "ann").await;
    let r = app
        .request(
            Method::POST,
            "/auth/jwt/blacklist/",
            None,
            Some(json!({"refresh": second})),
        )
        .await;
    assert!(r.status.is_success(), "{r:?}");
    let jti = jti_of(&second);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM token_blacklist_blacklistedtoken b \
                 JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id \
                 WHERE o.jti = '{jti}' AND o.user_id = {id} AND o.token = '' \
                 AND o.created_at IS NOT NULL"
            )
        )
        .await,
        1
    );
    assert_eq!(refresh(&second).await.status, StatusCode::UNAUTHORIZED);
    // Blacklisting again changes nothing.
    let r = app
        .request(
            Method::POST,
            "/auth/jwt/blacklist/",
            None,
            Some(json!({"refresh": second})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM token_blacklist_blacklistedtoken"
        )
        .await,
        2
    );
}

async fn doorman_check_reports_what_the_django_database_holds(app: TestApp) {
    with_django_apps(&app).await;
    let ann = app.user("ann").create().await;
    give_drf_token(&app, ann.id, &drf_key('f')).await;
    app.db
        .execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES
               ('authtoken', '0001_initial', '2026-01-01 00:00:00+00:00'),
               ('authtoken', '0004_alter_tokenproxy_options', '2026-01-01 00:00:00+00:00');
             INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
               VALUES ('pbkdf2_sha256$1000000$salt$digest=', false, 'old', '', '', '', false, true, '2026-01-01 00:00:00+00:00'),
                      ('!unusable', false, 'none', '', '', '', false, true, '2026-01-01 00:00:00+00:00');",
        )
        .await;
    let db = &app.db;
    let out = tokio::task::spawn_blocking({
        let mut cmd = cli(db);
        // The hashing the test users were made with, so theirs are current.
        cmd.env("DOORMAN_SECURITY__DANGER_FAST_HASHING_FOR_TESTS", "true");
        move || cmd.args(["--dev", "check"]).output().unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "Django: a database Django also manages",
        "app authtoken: 2 migrations applied, latest 0004_alter_tokenproxy_options",
        "(Django 3.1 or later)",
        "table authtoken_token: 1 rows",
        "table accounts_userprofile: 0 rows",
        "pbkdf2_sha256$1000000: 1",
        "unusable: 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // The Django-era hash only; ann's Argon2 one is current.
    let upgrades = text
        .lines()
        .find(|l| l.contains("upgraded at their next login (to argon2$argon2id$"))
        .unwrap_or_else(|| panic!("no upgrade line in:\n{text}"));
    assert!(upgrades.ends_with("): 1"), "{upgrades}");
}

/// With `accounts.django_app = "accounts"`, profiles, their roles and
/// provinces are read and written in the seed app's own tables; a role
/// given through the profile counts for access as it does in doorman's.
async fn profiles_live_in_the_django_accounts_tables(backend: Backend) {
    let db = TestDb::new(backend).await;
    db.execute(apps_schema(backend)).await;
    let app = TestApp::on_db(db, |s| s.accounts.django_app = Some("accounts".into())).await;
    let boss = app.user("boss").superuser().signed_in().await;
    let ann = app.user("ann").signed_in().await;

    let r = app
        .request(Method::GET, "/api/auth/profile/", Some(ann.auth()), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let id = ann.id;
    let in_django = format!("SELECT count(*) FROM accounts_userprofile WHERE user_id = {id}");
    assert_eq!(
        count(&app, &in_django).await,
        1,
        "created in Django's table"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM doorman_profile").await, 0);

    let r = app
        .request(
            Method::POST,
            "/api/auth/provinces/",
            Some(boss.auth()),
            Some(json!({"name": "Kigali", "code": "KGL"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM accounts_provinces WHERE name = 'Kigali'"
        )
        .await,
        1
    );
    let r = app
        .request(
            Method::PATCH,
            "/api/auth/profile/",
            Some(ann.auth()),
            Some(json!({"phone": "0788", "province": "Kigali"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let phone = app
        .db
        .text(&format!(
            "SELECT phone FROM accounts_userprofile WHERE user_id = {id}"
        ))
        .await;
    assert_eq!(phone, "0788");

    // A role given on the Django side, through the profile: ann is an
    // admin of the Accounts API at once.
    let before = app
        .request(Method::GET, "/api/auth/users/", Some(ann.auth()), None)
        .await;
    assert_eq!(before.status, StatusCode::FORBIDDEN, "{before:?}");
    app.db
        .execute(&format!(
            "INSERT INTO auth_group (name) VALUES ('admin');
             INSERT INTO accounts_userprofile_roles (userprofile_id, group_id)
               SELECT p.id, g.id FROM accounts_userprofile p, auth_group g
               WHERE p.user_id = {id} AND g.name = 'admin';"
        ))
        .await;
    let after = app
        .request(Method::GET, "/api/auth/users/", Some(ann.auth()), None)
        .await;
    assert_eq!(after.status, StatusCode::OK, "{after:?}");
    let r = app
        .request(Method::GET, "/api/auth/profile/", Some(ann.auth()), None)
        .await;
    let roles = r.json()["roles"].clone();
    assert_eq!(roles[0]["name"], "admin", "{roles}");

    // Deleting ann clears the Django profile and its roles.
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/users/{id}/delete/"),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(count(&app, &in_django).await, 0);
    assert_eq!(
        count(&app, "SELECT count(*) FROM accounts_userprofile_roles").await,
        0
    );
}

/// A table name that is not a plain identifier is refused with the key
/// named; tables that do not exist stop start-up with a message naming
/// them, rather than answering 500 on the first profile request.
#[tokio::test]
async fn django_app_names_are_checked() {
    let db = TestDb::new(Backend::Sqlite).await;
    let out = cli(&db)
        .env(
            "DOORMAN_ACCOUNTS__DJANGO_APP",
            "accounts\"; DROP TABLE auth_user; --",
        )
        .args(["--dev", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("accounts.django_app"), "{stderr}");

    let mut settings = crate::support::test_settings(&db);
    settings.accounts.django_app = Some("accounts".into());
    let Err(e) = doorman::build_state(settings, Default::default()).await else {
        panic!("started without the accounts tables");
    };
    assert!(e.to_string().contains("accounts_userprofile"), "{e}");
}

/// Django's rows may share one picture file (an `ImageField` default);
/// replacing one user's picture, or deleting the user, leaves the file to
/// the others. doorman's own files are never shared.
async fn a_picture_django_rows_share_is_kept(backend: Backend) {
    let db = TestDb::new(backend).await;
    db.execute(apps_schema(backend)).await;
    let media = tempfile::tempdir().unwrap();
    let root = media.path().to_path_buf();
    let app = TestApp::on_db(db, move |s| {
        s.accounts.django_app = Some("accounts".into());
        s.media.root = root;
    })
    .await;
    let boss = app.user("boss").superuser().signed_in().await;
    let ann = app.user("ann").signed_in().await;
    let bob = app.user("bob").create().await;
    let shared = media.path().join("profile_pics/default.png");
    std::fs::create_dir_all(shared.parent().unwrap()).unwrap();
    std::fs::write(&shared, image_bytes(image::ImageFormat::Png)).unwrap();
    for id in [ann.id, bob.id] {
        app.db
            .execute(&format!(
                "INSERT INTO accounts_userprofile (user_id, phone, address, bio, profile_picture, created_at, updated_at)
                 VALUES ({id}, '', '', '', 'profile_pics/default.png', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
            ))
            .await;
    }
    let png = image_bytes(image::ImageFormat::Png);
    let r = upload(
        &app,
        Method::PATCH,
        "/api/auth/profile/",
        ann.auth(),
        ("me.png", "image/png", &png),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(shared.exists(), "bob's picture is still there");
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/auth/users/{}/delete/", bob.id),
            Some(boss.auth()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert!(
        !shared.exists(),
        "no profile names it any more: removed with bob"
    );
}
