//! The database: Django's schema, doorman's tables, migrations that are
//! idempotent and safe to run concurrently, adoption of a database Django
//! made, and the unique e-mail rule.

use doorman::{
    domain::{
        Error,
        users::{EmailAddress, NewUser, Username},
    },
    store::Store,
};

use crate::{
    on_both_backends,
    support::{Backend, TestApp, TestDb},
};

on_both_backends!(
    schema_has_djangos_tables_and_doormans,
    standard_permissions_and_django_migration_records_exist,
    emails_are_unique_ignoring_case_but_blank_is_free,
    timestamps_are_stored_as_django_stores_them,
);

async fn schema_has_djangos_tables_and_doormans(app: TestApp) {
    let columns = [
        (
            "auth_user",
            "id, password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined",
        ),
        ("auth_group", "id, name"),
        ("auth_permission", "id, name, content_type_id, codename"),
        ("auth_user_groups", "id, user_id, group_id"),
        ("auth_group_permissions", "id, group_id, permission_id"),
        ("auth_user_user_permissions", "id, user_id, permission_id"),
        ("django_content_type", "id, app_label, model"),
        (
            "doorman_profile",
            "id, user_id, phone, address, birth_date, profile_picture, bio, province_id, created_at, updated_at",
        ),
        ("doorman_profile_roles", "id, profile_id, group_id"),
        ("doorman_province", "id, name, code"),
        (
            "doorman_token",
            "id, digest, user_id, label, created_at, last_used_at",
        ),
        ("doorman_user_security", "user_id, tokens_valid_after"),
        ("doorman_jwt_denylist", "jti, user_id, expires_at"),
        (
            "doorman_outbox",
            "id, message_id, kind, recipient, subject, body_text, body_html, status, attempts, next_attempt_at, locked_until, last_error, created_at, sent_at",
        ),
    ];
    for (table, cols) in columns {
        let n = app
            .db
            .scalar(&format!(
                "SELECT count(*) FROM (SELECT {cols} FROM {table} LIMIT 0) t"
            ))
            .await;
        assert_eq!(n, 0, "{table} has the columns {cols}");
    }
}

async fn standard_permissions_and_django_migration_records_exist(app: TestApp) {
    let names = app.state.store.permission_names().await.unwrap();
    for model in [
        "auth.user",
        "auth.group",
        "auth.permission",
        "accounts.profile",
        "accounts.province",
    ] {
        let (app_label, model) = model.split_once('.').unwrap();
        for action in ["add", "change", "delete", "view"] {
            let name = format!("{app_label}.{action}_{model}");
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }
    assert_eq!(
        app.db
            .text("SELECT name FROM auth_permission WHERE codename = 'view_user'")
            .await,
        "Can view user"
    );
    let recorded = app
        .db
        .scalar("SELECT count(*) FROM django_migrations")
        .await;
    assert_eq!(
        recorded, 14,
        "auth and contenttypes migrations recorded for Django"
    );
}

fn new_user(name: &str, email: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: (!email.is_empty()).then(|| EmailAddress::parse(email).unwrap()),
        first_name: String::new(),
        last_name: String::new(),
        password: None,
        is_active: true,
        is_staff: false,
        is_superuser: false,
    }
}

async fn emails_are_unique_ignoring_case_but_blank_is_free(app: TestApp) {
    let users = &app.state.users;
    users
        .create(new_user("ann", "ann@example.com"))
        .await
        .unwrap();
    match users.create(new_user("ann2", "ANN@Example.com")).await {
        Err(Error::Validation(errors)) => assert_eq!(errors[0].0, "email"),
        other => panic!("expected an e-mail conflict, got {other:?}"),
    }
    match users.create(new_user("ann", "other@example.com")).await {
        Err(Error::Validation(errors)) => assert_eq!(errors[0].0, "username"),
        other => panic!("expected a username conflict, got {other:?}"),
    }
    users.create(new_user("b1", "")).await.unwrap();
    users.create(new_user("b2", "")).await.unwrap();
    assert_eq!(app.state.store.count_users().await.unwrap(), 3);

    // Turned off, the same addresses may repeat; turning it back on over
    // duplicates is refused with the address named.
    app.state
        .store
        .ensure_email_uniqueness(false)
        .await
        .unwrap();
    users
        .create(new_user("ann3", "Ann@example.com"))
        .await
        .unwrap();
    let err = app
        .state
        .store
        .ensure_email_uniqueness(true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ann@example.com"), "{err}");
}

async fn timestamps_are_stored_as_django_stores_them(app: TestApp) {
    let before = time::OffsetDateTime::now_utc();
    let user = app.state.users.create(new_user("tim", "")).await.unwrap();
    let found = app
        .state
        .store
        .find_user_by_id(user.id)
        .await
        .unwrap()
        .unwrap();
    let drift = (found.date_joined - before).whole_seconds().abs();
    assert!(
        drift < 60,
        "date_joined {} vs {}",
        found.date_joined,
        before
    );
    assert_eq!(found.date_joined, user.date_joined);
    if app.db.backend == Backend::Sqlite {
        let text = app.db.text("SELECT date_joined FROM auth_user").await;
        let (date, time) = text
            .split_once(' ')
            .expect("Django's `YYYY-MM-DD HH:MM:SS.ffffff`");
        assert_eq!(date.len(), 10, "{text}");
        assert!(time.len() == 8 || time.len() == 15, "{text}");
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_concurrent_sqlite() {
    migrations_are_idempotent_and_concurrent(Backend::Sqlite).await;
}

#[tokio::test]
async fn migrations_are_idempotent_and_concurrent_postgres() {
    migrations_are_idempotent_and_concurrent(Backend::Postgres).await;
}

async fn migrations_are_idempotent_and_concurrent(backend: Backend) {
    let db = TestDb::new_empty(backend).await;
    let settings = db.database_settings();
    let a = Store::connect(&settings).await.unwrap();
    let b = Store::connect(&settings).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    a.migrate().await.unwrap();
    assert!(a.pending_migrations().await.unwrap().is_empty());
    let applied = db.scalar("SELECT count(*) FROM _sqlx_migrations").await;
    let dir = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_string() + dir)
        .unwrap()
        .count();
    assert_eq!(applied, files as i64, "each migration once");
    let perms = db.scalar("SELECT count(*) FROM auth_permission").await;
    assert_eq!(perms, 24, "seeded once");
}

#[tokio::test]
async fn a_django_made_database_is_adopted_sqlite() {
    a_django_made_database_is_adopted(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_django_made_database_is_adopted_postgres() {
    a_django_made_database_is_adopted(Backend::Postgres).await;
}

/// A database created by Django 5.2's `migrate`, with rows as Django
/// writes them, takes doorman's migrations in place and keeps its data.
async fn a_django_made_database_is_adopted(backend: Backend) {
    let db = TestDb::new_empty(backend).await;
    let schema = match backend {
        Backend::Sqlite => include_str!("../django/schema/sqlite.sql"),
        Backend::Postgres => include_str!("../django/schema/postgres.sql"),
    };
    db.execute(schema).await;
    db.execute(
        "INSERT INTO django_migrations (app, name, applied) VALUES ('auth', '0001_initial', '2024-01-01 00:00:00');
         INSERT INTO django_content_type (app_label, model) VALUES ('auth', 'user');
         INSERT INTO auth_permission (name, content_type_id, codename) VALUES ('Can view user', 1, 'view_user');
         INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
         VALUES ('pbkdf2_sha256$1000000$abc$def=', NULL, true, 'admin', 'Ada', '', 'admin@example.com', true, true, '2024-01-02 03:04:05.123456');",
    )
    .await;
    let store = Store::connect(&db.database_settings()).await.unwrap();
    store.migrate().await.unwrap();
    store.ensure_email_uniqueness(true).await.unwrap();
    let admin = store
        .find_user_by_id(1)
        .await
        .unwrap()
        .expect("Django's user kept");
    assert_eq!(admin.username, "admin");
    assert_eq!(admin.first_name, "Ada");
    assert_eq!(
        admin.date_joined,
        time::macros::datetime!(2024-01-02 03:04:05.123456 UTC)
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM django_migrations").await,
        14
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM auth_permission WHERE codename = 'view_user'")
            .await,
        1,
        "existing permission rows are kept, not duplicated"
    );
    assert_eq!(db.scalar("SELECT count(*) FROM auth_permission").await, 24);
}

mod denylist {
    //! Denylisted refresh tokens are forgotten once they would have expired.
    use doorman::store::Timestamp;

    use crate::{on_both_backends, support::TestApp};

    on_both_backends!(expired_denylist_entries_are_purged);

    async fn expired_denylist_entries_are_purged(app: TestApp) {
        let store = &app.state.store;
        let now = Timestamp::now();
        let past = Timestamp(now.0 - time::Duration::hours(1));
        let future = Timestamp(now.0 + time::Duration::hours(1));
        store.deny_jti("old", None, None, past).await.unwrap();
        store.deny_jti("live", None, None, future).await.unwrap();
        assert_eq!(store.purge_denylist(now).await.unwrap(), 1);
        assert!(!store.is_jti_denied("old").await.unwrap());
        assert!(
            store.is_jti_denied("live").await.unwrap(),
            "still refused until it expires"
        );
    }
}
