//! What a database shared with Django holds, for `doorman check`: the
//! Django apps its `django_migrations` records, the tables of the apps
//! doorman works with and their row counts, and the stored password hashes
//! by kind. Read only.

use super::{Store, StoreError, on_pool};

/// The tables `doorman check` counts: Django's auth, then the apps doorman
/// reads or writes when they are present.
pub const KNOWN_TABLES: &[&str] = &[
    "auth_user",
    "auth_group",
    "auth_permission",
    "django_content_type",
    "django_admin_log",
    "authtoken_token",
    "token_blacklist_outstandingtoken",
    "token_blacklist_blacklistedtoken",
    "accounts_userprofile",
    "accounts_provinces",
];

/// One Django app as `django_migrations` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppMigrations {
    pub app: String,
    pub applied: i64,
    /// The last migration applied (by name, which Django numbers).
    pub latest: String,
}

impl Store {
    /// The apps with applied migrations, by name.
    pub async fn django_apps(&self) -> Result<Vec<AppMigrations>, StoreError> {
        let rows: Vec<(String, i64, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT app, count(*), max(name) FROM django_migrations GROUP BY app ORDER BY app",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(app, applied, latest)| AppMigrations {
                app,
                applied,
                latest,
            })
            .collect())
    }

    /// Rows of each known table, `None` for a table that is not there.
    pub async fn known_table_counts(&self) -> Result<Vec<(&'static str, Option<i64>)>, StoreError> {
        let mut counts = Vec::with_capacity(KNOWN_TABLES.len());
        for &table in KNOWN_TABLES {
            if !self.has_table(table).await? {
                counts.push((table, None));
                continue;
            }
            // `table` is one of the constants above.
            let sql = sqlx::AssertSqlSafe(format!("SELECT count(*) FROM \"{table}\""));
            let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await)?;
            counts.push((table, Some(n)));
        }
        Ok(counts)
    }

    /// Whether the table exists.
    pub async fn has_table(&self, table: &str) -> Result<bool, StoreError> {
        let present = match self.backend() {
            super::Backend::Sqlite => {
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1"
            }
            super::Backend::Postgres => "SELECT 1 WHERE to_regclass($1) IS NOT NULL",
        };
        let found: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(present)
            .bind(table)
            .fetch_optional(pool)
            .await)?;
        Ok(found.is_some())
    }

    /// Up to `limit` stored password hashes of users with ids above
    /// `after`, in id order (for walking every hash in bounded memory).
    pub async fn password_page(
        &self,
        after: i32,
        limit: i64,
    ) -> Result<Vec<(i32, String)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT id, password FROM auth_user WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }
}
