//! The test harness: builds the real application over a fresh database per
//! test, either a temporary SQLite file or a new PostgreSQL database cloned
//! from a migrated template on the local server (127.0.0.1:5432, or
//! DOORMAN_TEST_POSTGRES_URL), and talks HTTP to it in-process.

pub mod accounts;
pub mod apps;
pub mod client;
pub mod commands;
pub mod django;
pub mod grants;
pub mod images;
pub mod limits;
pub mod passkeys;
pub mod people;
pub mod proxy;
pub mod served;
pub mod smtp;

use std::sync::atomic::{AtomicU32, Ordering};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use doorman::{BuildOptions, config::Settings, http::AppState, store::Store};
use http_body_util::BodyExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(TestApp)` once per backend, as
/// `<module>::sqlite::<name>` and `<module>::postgres::<name>`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::support::TestApp::new($crate::support::Backend::Sqlite).await;
                    super::$name(app).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::support::TestApp::new($crate::support::Backend::Postgres).await;
                    super::$name(app).await
                }
            )*
        }
    };
}

pub fn postgres_admin_url() -> String {
    std::env::var("DOORMAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn replace_db_name(admin_url: &str, name: &str) -> String {
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("postgres URL has a database path");
    format!("{base}/{name}")
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
    /// One connection kept for `execute`/`scalar`/`text` on PostgreSQL:
    /// opening one costs about 95 ms here, which a test making a few
    /// hundred rows would pay each time.
    pg_conn: tokio::sync::Mutex<Option<PgConnection>>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// A migrated database (PostgreSQL: cloned from the template; SQLite:
    /// migrated when the app is built).
    pub async fn new(backend: Backend) -> TestDb {
        Self::create(backend, true).await
    }

    /// A database with no tables at all.
    pub async fn new_empty(backend: Backend) -> TestDb {
        Self::create(backend, false).await
    }

    async fn create(backend: Backend, migrated: bool) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("doorman.db").display()
                );
                TestDb {
                    url,
                    backend,
                    _dir: Some(dir),
                    pg_name: None,
                    pg_conn: tokio::sync::Mutex::new(None),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let template = if migrated {
                    ensure_template(&admin).await
                } else {
                    "template0".to_string()
                };
                let name = format!(
                    "doorman_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    rand_suffix()
                );
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                // Cloning needs the template to be idle; concurrent clones are
                // serialised with the same lock that guards its creation.
                sqlx::query("SELECT pg_advisory_lock(727274)")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let created = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                )))
                .execute(&mut conn)
                .await;
                sqlx::query("SELECT pg_advisory_unlock(727274)")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                created.expect("clone the template database");
                TestDb {
                    url: replace_db_name(&admin, &name),
                    backend,
                    _dir: None,
                    pg_name: Some(name),
                    pg_conn: tokio::sync::Mutex::new(None),
                }
            }
        }
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// Creates (once per migration set) a migrated template database and
/// returns its name. The name carries a digest of the migration files, so
/// a changed migration gets a new template.
async fn ensure_template(admin: &str) -> String {
    let mut digest = Sha256::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        digest.update(std::fs::read(f).unwrap());
    }
    let template = format!("doorman_tmpl_{}", &hex::encode(digest.finalize())[..16]);
    let mut conn = PgConnection::connect(admin)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query("SELECT pg_advisory_lock(727274)")
        .execute(&mut conn)
        .await
        .unwrap();
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&template)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{template}\""
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        let settings = doorman::config::DatabaseSettings {
            url: replace_db_name(admin, &template),
            ..Default::default()
        };
        let store = Store::connect(&settings)
            .await
            .expect("connect to template");
        store.migrate().await.expect("migrate template");
        store.close().await;
    }
    sqlx::query("SELECT pg_advisory_unlock(727274)")
        .execute(&mut conn)
        .await
        .unwrap();
    template
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside async context: use a throwaway runtime on a
        // thread of its own.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                Ok::<_, sqlx::Error>(())
            })
            .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .join();
    }
}

impl TestDb {
    /// The kept PostgreSQL connection, opened on first use.
    async fn pg(&self) -> tokio::sync::MappedMutexGuard<'_, PgConnection> {
        let mut guard = self.pg_conn.lock().await;
        if guard.is_none() {
            *guard = Some(PgConnection::connect(&self.url).await.unwrap());
        }
        tokio::sync::MutexGuard::map(guard, |c| c.as_mut().expect("just opened"))
    }

    /// Runs SQL (several statements allowed) straight on the database.
    pub async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            }
            Backend::Postgres => {
                sqlx::raw_sql(sql)
                    .execute(&mut *self.pg().await)
                    .await
                    .unwrap();
            }
        }
    }

    /// The first column of the first row, as an integer.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
            }
            Backend::Postgres => sqlx::query_scalar(sql)
                .fetch_one(&mut *self.pg().await)
                .await
                .unwrap(),
        }
    }

    /// The first column of the first row, as text.
    pub async fn text(&self, sql: &str) -> String {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
            }
            Backend::Postgres => sqlx::query_scalar(sql)
                .fetch_one(&mut *self.pg().await)
                .await
                .unwrap(),
        }
    }

    pub fn database_settings(&self) -> doorman::config::DatabaseSettings {
        doorman::config::DatabaseSettings {
            url: self.url.clone(),
            ..Default::default()
        }
    }
}

/// Settings for a test: the given database, a fixed secret key, cheap
/// hashing, any free port.
pub fn test_settings(db: &TestDb) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = db.url.clone();
    settings.database.max_connections = 5;
    settings.security.secret_key =
        Some("test-secret-key-that-is-long-enough-for-hmac-0123456789".into());
    settings.security.danger_fast_hashing_for_tests = true;
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.server.allowed_hosts.push(TEST_HOST.into());
    settings
}

/// The `Host` a request gets when a test sets none, as Django's test client
/// sends `testserver`; allowed by `test_settings`.
pub const TEST_HOST: &str = "testserver";

/// The application over its own database.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub db: TestDb,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with_settings(backend, |_| {}).await
    }

    pub async fn with_settings(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        Self::on_db(TestDb::new(backend).await, tweak).await
    }

    /// The application over an existing database (one Django made, say),
    /// which it migrates as `serve` does.
    pub async fn on_db(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = test_settings(&db);
        tweak(&mut settings);
        let state = doorman::build_state(settings, BuildOptions::default())
            .await
            .expect("build the application state");
        let router = doorman::http::app(state.clone());
        TestApp { router, state, db }
    }

    /// Sends one request through the full middleware stack, with
    /// `Host: testserver` unless the request names a host.
    pub async fn send(&self, mut request: Request<Body>) -> TestResponse {
        if !request.headers().contains_key("host") {
            request
                .headers_mut()
                .insert("host", axum::http::HeaderValue::from_static(TEST_HOST));
        }
        send(&self.router, request).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(body.into())
            .unwrap();
        self.send(request).await
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> TestResponse {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("read body")
        .to_bytes()
        .to_vec();
    TestResponse {
        status,
        headers,
        body,
    }
}
