//! The database. `Store` offers domain operations (insert a user, find
//! credentials, …) over SQLite or PostgreSQL, chosen by the URL. This module
//! is the only place that knows there are two backends: a query whose SQL
//! agrees on both is written once and run through `on_pool!`; where the
//! dialects differ the two texts sit side by side here. Migrations are
//! embedded per backend (`migrations/sqlite`, `migrations/postgres`) with the
//! same version numbers.

mod access;
mod audit;
mod django;
pub use django::{AppMigrations, KNOWN_TABLES};
mod import;
pub use import::{
    DRF_LABEL, Import, ImportError, Mode as ImportMode, Progress, Report as ImportReport,
    Source as ImportSource, SourceApps, Tally,
};
mod email_changes;
mod lockouts;
mod mfa;
mod webauthn;
pub use access::RoleMembers;
pub use email_changes::EmailChangeRow;
pub use lockouts::Lockout;
pub use mfa::{ChallengeRow, RecoveryCodeRow, TotpRow};
pub use webauthn::{CeremonyRow, PasskeyRow};
mod outbox;
mod profile_tables;
mod profiles;
mod references;
pub use profile_tables::ProfileTables;
pub use references::{GROUP_RULES, OnDelete, USER_RULES};
mod roles;
mod sessions;
mod timestamp;
mod tokens;
mod user_cache;
mod users;

use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use crate::model::UserChanges;
pub use outbox::{NewMail, OutboxRow};
pub use sessions::SessionRow;
pub use timestamp::{Timestamp, timestamp_text};
pub use tokens::TokenRef;
use user_cache::UserCache;

use crate::config::DatabaseSettings;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Runs the same statement-building expression against whichever pool the
/// store holds. The expression is compiled once per backend.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Like `on_pool!`, for the connection of an open transaction.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut $tx.inner {
            $crate::store::TxInner::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::TxInner::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

/// A database transaction: writes made through it (a state change and the
/// e-mail it causes) land together or not at all.
pub struct Tx {
    inner: TxInner,
    cache: Arc<UserCache>,
    tables: Arc<ProfileTables>,
    /// A statement wrote `auth_user` or `doorman_user_security`: the user
    /// cache is invalidated once the commit has landed.
    touches_users: bool,
}

pub(crate) enum TxInner {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        let committed = match self.inner {
            TxInner::Sqlite(t) => t.commit().await,
            TxInner::Postgres(t) => t.commit().await,
        };
        committed.map_err(referenced_at_commit)?;
        if self.touches_users {
            self.cache.invalidate();
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Sqlite(_) => Backend::Sqlite,
            TxInner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Marks this transaction as changing what the user cache holds.
    fn touch_users(&mut self) {
        self.touches_users = true;
    }
}

/// Django's foreign keys are checked at commit (`DEFERRABLE INITIALLY
/// DEFERRED`): a row that came to refer to a deleted one after
/// `release_references` looked is refused there.
fn referenced_at_commit(e: sqlx::Error) -> StoreError {
    foreign_key_error(e)
}

/// A foreign-key violation as `Referenced` (naming the referring table
/// when the database says), anything else as a database error: for the
/// statements of a delete and for commits, where Django's deferred keys
/// are checked.
pub(crate) fn foreign_key_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation
    {
        return StoreError::Referenced {
            table: db.table().unwrap_or("another table").to_string(),
        };
    }
    StoreError::Database(e)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Rows of `table` (of another app) still refer to the row to delete.
    #[error("rows of {table} refer to it")]
    Referenced { table: String },
    /// A unique constraint refused the write; `field` names the column.
    #[error("{field} already exists")]
    Conflict { field: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Setup(String),
}

impl StoreError {
    /// Whether the database could not be reached or was too busy to answer
    /// in time — a fault to retry later (503), not a bug (500): the pool
    /// timed out or is closed, the connection broke, PostgreSQL refused
    /// connections or is shutting down, SQLite stayed locked past
    /// `database.busy_timeout_ms`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => unavailable(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => unavailable(e),
            _ => false,
        }
    }
}

fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // The primary result code is the extended code's low byte:
                // BUSY and LOCKED (after SQLite's own retrying), READONLY
                // (a file moved or made read-only), IOERR, FULL, CANTOPEN.
                code.parse::<u32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
            } else {
                // PostgreSQL SQLSTATEs of faults that pass: connection
                // exceptions (class 08), too many connections, shutting
                // down or starting up, a read-only standby after failover,
                // lock and statement timeouts, serialization failures and
                // deadlocks (a retry succeeds).
                code.starts_with("08")
                    || matches!(
                        code.as_ref(),
                        "53300"
                            | "57P01"
                            | "57P02"
                            | "57P03"
                            | "25006"
                            | "55P03"
                            | "57014"
                            | "40001"
                            | "40P01"
                    )
            }
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Users as JWT authentication needs them (see `user_cache`).
    user_cache: Arc<UserCache>,
    /// Whether DRF's `authtoken_token` exists (a database shared with
    /// Django), asked again now and then.
    drf_tokens: Arc<tokens::Presence>,
    /// Whether simplejwt's blacklist tables exist.
    jwt_blacklist: Arc<tokens::Presence>,
    /// Where profiles, profile roles and provinces live.
    profile_tables: Arc<ProfileTables>,
    /// SQLite file whose neighbour `<file>.migrate-lock` serialises
    /// migrations across processes (PostgreSQL uses an advisory lock).
    sqlite_file: Option<std::path::PathBuf>,
}

impl Store {
    /// Opens a pool for `settings.url`. SQLite files are created if missing
    /// and run in WAL mode with foreign keys enforced.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Store, StoreError> {
        let url = settings.url.as_str();
        let user_cache = Arc::new(UserCache::new(Duration::from_millis(
            settings.user_cache_ttl_ms,
        )));
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_millis(settings.busy_timeout_ms))
                .foreign_keys(true);
            let file = options.get_filename();
            let in_memory = file.as_os_str().is_empty() || url.contains(":memory:");
            // Each connection to `:memory:` would be a database of its own.
            let max = if in_memory {
                1
            } else {
                settings.max_connections
            };
            let sqlite_file = (!in_memory).then(|| file.to_path_buf());
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
                .connect_with(options)
                .await?;
            Ok(Store {
                pool: Pool::Sqlite(pool),
                user_cache,
                drf_tokens: Arc::default(),
                jwt_blacklist: Arc::default(),
                profile_tables: Arc::default(),
                sqlite_file,
            })
        } else {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
                .connect_with(options)
                .await?;
            Ok(Store {
                pool: Pool::Postgres(pool),
                user_cache,
                drf_tokens: Arc::default(),
                jwt_blacklist: Arc::default(),
                profile_tables: Arc::default(),
                sqlite_file: None,
            })
        }
    }

    /// This store with profiles, profile roles and provinces kept in
    /// `tables` (`accounts.django_app`).
    pub fn with_profile_tables(mut self, tables: ProfileTables) -> Store {
        self.profile_tables = Arc::new(tables);
        self
    }

    pub fn profile_tables(&self) -> &ProfileTables {
        &self.profile_tables
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations. Safe to run again (applied ones are
    /// skipped) and from several processes at once: PostgreSQL takes an
    /// advisory lock, SQLite an exclusive lock on a file beside the database.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
            Pool::Sqlite(pool) => {
                let _guard = match &self.sqlite_file {
                    Some(file) => Some(lock_file(file).await?),
                    None => None,
                };
                SQLITE_MIGRATIONS.run(pool).await?;
            }
        }
        Ok(())
    }

    /// Versions of the embedded migrations not yet applied (for `check`).
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let migrator = match self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        // A database never migrated has no bookkeeping table: all pending.
        let applied: Vec<(i64,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT version FROM _sqlx_migrations WHERE success",
        )
        .fetch_all(pool)
        .await)
        .unwrap_or_default();
        let applied: Vec<i64> = applied.into_iter().map(|(v,)| v).collect();
        Ok(migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }

    /// Opens a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so it waits for the busy timeout instead of
    /// failing when it later upgrades from reading to writing.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(pool) => TxInner::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(pool) => TxInner::Postgres(pool.begin().await?),
        };
        Ok(Tx {
            inner,
            cache: Arc::clone(&self.user_cache),
            tables: Arc::clone(&self.profile_tables),
            touches_users: false,
        })
    }

    /// A round trip to the database (readiness), given at most `within`:
    /// a connection that hangs (a peer that vanished without closing)
    /// counts as unreachable.
    pub async fn ping(&self, within: Duration) -> Result<(), StoreError> {
        let ping = async {
            on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))
        };
        match tokio::time::timeout(within, ping).await {
            Ok(answer) => answer.map(|_| ()).map_err(StoreError::from),
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
        }
    }

    /// Keeps the case-insensitive unique index on e-mail in step with
    /// `users.unique_email`. Turning it on over data that already has
    /// duplicates fails with the addresses named.
    pub async fn ensure_email_uniqueness(&self, unique: bool) -> Result<(), StoreError> {
        if !unique {
            on_pool!(self, pool => sqlx::query("DROP INDEX IF EXISTS doorman_auth_user_email_ci_uniq").execute(pool).await.map(|r| r.rows_affected()))?;
            return Ok(());
        }
        let created = on_pool!(self, pool => sqlx::query(
            "CREATE UNIQUE INDEX IF NOT EXISTS doorman_auth_user_email_ci_uniq \
             ON auth_user (lower(email)) WHERE email <> ''",
        )
        .execute(pool)
        .await
        .map(|r| r.rows_affected()));
        if let Err(e) = created {
            let duplicates: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(
                "SELECT lower(email) FROM auth_user WHERE email <> '' \
                 GROUP BY lower(email) HAVING count(*) > 1 ORDER BY 1 LIMIT 10",
            )
            .fetch_all(pool)
            .await)?;
            if duplicates.is_empty() {
                return Err(e.into());
            }
            let list: Vec<String> = duplicates.into_iter().map(|(e,)| e).collect();
            return Err(StoreError::Setup(format!(
                "users.unique_email is on, but these addresses belong to more than one user: {}; \
                 merge them or set users.unique_email = false",
                list.join(", ")
            )));
        }
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// Holds an exclusive OS lock on `<database file>.migrate-lock` until
/// dropped. Taken on a blocking thread since `File::lock` waits.
async fn lock_file(db_file: &std::path::Path) -> Result<std::fs::File, StoreError> {
    let mut path = db_file.as_os_str().to_owned();
    path.push(".migrate-lock");
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| StoreError::Setup(format!("migration lock task failed: {e}")))?
    .map_err(|e| StoreError::Setup(format!("cannot lock for migration: {e}")))
}

/// Turns a unique-constraint violation into `StoreError::Conflict` naming
/// the field; knows SQLite's wording (`UNIQUE constraint failed:
/// auth_user.username`) and PostgreSQL's constraint names alike.
pub(crate) fn map_unique(err: sqlx::Error, fields: &[&str]) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.kind() == sqlx::error::ErrorKind::UniqueViolation
    {
        let haystack = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
        if let Some(field) = fields.iter().find(|f| haystack.contains(*f)) {
            return StoreError::Conflict {
                field: (*field).to_string(),
            };
        }
    }
    StoreError::Database(err)
}
