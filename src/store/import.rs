//! Copying a Django database into doorman's (`doorman import-django`).
//!
//! The source is opened read-only and never written. Every run first
//! plans — compares each source row with what the target holds and finds
//! conflicts — without writing; only a plan without conflicts is applied,
//! one page of rows per transaction. Applying compares again page by page,
//! so a run that stopped half-way continues where it stopped, and a run
//! after a complete one finds nothing to do.
//!
//! What identifies a row:
//! - users, groups, provinces and profiles keep their ids (JWTs, reset
//!   links and API clients name them). A target row with the same id is
//!   the same row, and is brought up to date, unless it is evidently
//!   another one (a user who joined at another time, a profile of another
//!   user); a name the target gives to another id is a conflict too.
//! - content types and permissions are matched by their natural keys, as
//!   Django's own `loaddata --natural-foreign` does, because doorman's
//!   migrations already hold the common ones under ids of their own; a
//!   source id is kept when it is free.
//! - memberships, direct permissions, group permissions and profile roles
//!   of a copied user, group or profile become exactly the source's.
//! - DRF tokens are stored as doorman stores its own, hashed, marked with
//!   [`DRF_LABEL`]; a key that is no longer in the source (the user logged
//!   out in Django) stops working here too.
//! - refresh tokens blacklisted in simplejwt and not yet expired join
//!   doorman's denylist.
//!
//! Nothing is ever deleted but those set members and tokens: a user the
//! source no longer has stays, and is counted in the summary.
//!
//! The generic part works on rows as vectors of [`Value`]s described by
//! [`Column`]s, so that each table is a description, not a copy of the
//! same loop.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use sqlx::{
    Row,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

use super::{Backend, Pool, ProfileTables, Store, StoreError, Timestamp, Tx, on_pool, on_tx};

/// The label of the tokens copied from DRF's `authtoken_token`.
pub const DRF_LABEL: &str = "imported from authtoken_token";

/// Rows per page: one transaction, and a bound on the bind parameters of
/// one statement (11 columns × 1,000 users is well inside SQLite's 32,766).
const PAGE: i64 = 1000;

/// Conflicts listed in full before the rest are only counted.
const SHOWN_CONFLICTS: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Source(String),
    #[error("the target holds rows that are not the source's; nothing was changed:\n{}", .0.join("\n"))]
    Conflicts(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(StoreError::Database(e))
    }
}

/// A Django database opened read-only.
pub struct Source {
    pool: Pool,
    /// The accounts app's tables, when the source has them.
    accounts: Option<ProfileTables>,
    drf_tokens: bool,
    blacklist: bool,
}

/// What the source holds besides Django's auth app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceApps {
    pub accounts: Option<String>,
    pub drf_tokens: bool,
    pub blacklist: bool,
}

impl Source {
    /// Opens `url` read-only and checks that it is a Django database
    /// (`django_migrations` records the auth app, `auth_user` exists).
    /// `accounts_app` names the profile app: required to be there when
    /// `required`, else used when present.
    pub async fn open(
        url: &str,
        accounts_app: &str,
        required: bool,
    ) -> Result<Source, ImportError> {
        let shown = crate::config::redact_url(url);
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| ImportError::Source(format!("source {shown}: {e}")))?
                .read_only(true)
                .create_if_missing(false);
            let file = options.get_filename().to_path_buf();
            if !file.is_file() {
                return Err(ImportError::Source(format!(
                    "source {shown}: no such file {}",
                    file.display()
                )));
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(|e| ImportError::Source(format!("source {shown}: cannot open: {e}")))?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // Read-only on the server's side too: no statement of this
            // session can write the source.
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| ImportError::Source(format!("source {shown}: {e}")))?
                .options([("default_transaction_read_only", "on")]);
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(|e| ImportError::Source(format!("source {shown}: cannot connect: {e}")))?;
            Pool::Postgres(pool)
        } else {
            return Err(ImportError::Source(format!(
                "source {shown}: not a sqlite: or postgres: URL"
            )));
        };
        let mut source = Source {
            pool,
            accounts: None,
            drf_tokens: false,
            blacklist: false,
        };
        let not_django = |what: &str| {
            ImportError::Source(format!("source {shown} is not a Django database: {what}"))
        };
        if !source
            .has_table("django_migrations")
            .await
            .map_err(|e| ImportError::Source(format!("source {shown}: cannot read it: {e}")))?
        {
            return Err(not_django("it has no django_migrations table"));
        }
        for table in [
            "auth_user",
            "auth_group",
            "auth_permission",
            "django_content_type",
        ] {
            if !source.has_table(table).await? {
                return Err(not_django(&format!("it has no {table} table")));
            }
        }
        let auth: Option<(i64,)> = on_pool!(source, pool => sqlx::query_as(
            "SELECT count(*) FROM django_migrations WHERE app = 'auth' HAVING count(*) > 0",
        )
        .fetch_optional(pool)
        .await)?;
        if auth.is_none() {
            return Err(not_django(
                "django_migrations records no migration of the auth app",
            ));
        }
        let tables = ProfileTables::django(accounts_app);
        if source.has_table(&tables.profile).await? {
            for table in [&tables.profile_roles, &tables.province] {
                if !source.has_table(table).await? {
                    return Err(ImportError::Source(format!(
                        "source {shown}: {} exists but {table} does not",
                        tables.profile
                    )));
                }
            }
            source.accounts = Some(tables);
        } else if required {
            return Err(ImportError::Source(format!(
                "source {shown}: no table {} (is {accounts_app} the profile app?)",
                tables.profile
            )));
        }
        source.drf_tokens = source.has_table("authtoken_token").await?;
        source.blacklist = source.has_table("token_blacklist_blacklistedtoken").await?
            && source.has_table("token_blacklist_outstandingtoken").await?;
        Ok(source)
    }

    pub fn apps(&self) -> SourceApps {
        SourceApps {
            accounts: self.accounts.as_ref().map(|t| t.profile.clone()),
            drf_tokens: self.drf_tokens,
            blacklist: self.blacklist,
        }
    }

    async fn has_table(&self, table: &str) -> Result<bool, StoreError> {
        let present = match self.pool {
            Pool::Sqlite(_) => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1",
            Pool::Postgres(_) => "SELECT 1 WHERE to_regclass($1) IS NOT NULL",
        };
        let found: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(present)
            .bind(table)
            .fetch_optional(pool)
            .await)?;
        Ok(found.is_some())
    }

    /// Rows of `table` (for progress totals).
    pub async fn count(&self, table: &str) -> Result<i64, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {}", quote(table)));
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await)?;
        Ok(n)
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// A column's type as both backends and Django store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bool,
    Time,
    Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
    Time(Option<Timestamp>),
    Date(Option<time::Date>),
}

impl Value {
    fn int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => *v,
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Value::Text(v) => v.as_deref(),
            _ => None,
        }
    }
}

/// One column: its name in the source and in the target.
#[derive(Debug, Clone)]
struct Column {
    source: String,
    target: String,
    kind: Kind,
}

fn col(name: &str, kind: Kind) -> Column {
    Column {
        source: name.into(),
        target: name.into(),
        kind,
    }
}

/// The SELECT list for `columns` named `name` of each: integers widened
/// (Django's BigAutoField ids and int4 ids read alike).
fn select_list(columns: &[Column], name: fn(&Column) -> &str) -> String {
    columns
        .iter()
        .map(|c| match c.kind {
            Kind::Int => format!("CAST({} AS BIGINT)", quote(name(c))),
            _ => quote(name(c)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the columns of a row by `kinds`.
macro_rules! decode_row {
    ($row:expr, $kinds:expr) => {{
        let row = $row;
        let mut values = Vec::with_capacity($kinds.len());
        for (i, kind) in $kinds.iter().enumerate() {
            values.push(match kind {
                Kind::Int => Value::Int(row.try_get(i)?),
                Kind::Text => Value::Text(row.try_get(i)?),
                Kind::Bool => Value::Bool(row.try_get(i)?),
                Kind::Time => Value::Time(row.try_get(i)?),
                Kind::Date => Value::Date(row.try_get(i)?),
            });
        }
        values
    }};
}

/// Binds `values` in order.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.clone()),
                Value::Bool(v) => query.bind(*v),
                Value::Time(v) => query.bind(*v),
                Value::Date(v) => query.bind(*v),
            };
        }
        query
    }};
}

type Rows = Vec<Vec<Value>>;

fn kinds(columns: &[Column]) -> Vec<Kind> {
    columns.iter().map(|c| c.kind).collect()
}

/// Runs `sql` with `args` on `pool`, reading the columns by `kinds`: one
/// body for the source's pool and the target's.
async fn fetch_rows(
    pool: &Pool,
    sql: String,
    args: &[Value],
    kinds: &[Kind],
) -> Result<Rows, StoreError> {
    struct On<'a> {
        pool: &'a Pool,
    }
    let on = On { pool };
    let sql = sqlx::AssertSqlSafe(sql);
    // Not kept prepared on PostgreSQL: it would keep a generic plan made
    // while the target's tables were empty (a scan), and keep scanning as
    // they grow to millions of rows; unprepared, each page is planned for
    // its values. SQLite plans by its indexes alone and keeps its
    // statements.
    let keep = matches!(pool, Pool::Sqlite(_));
    on_pool!(on, pool => {
        let rows = bind_values!(sqlx::query(sql).persistent(keep), args).fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(decode_row!(row, kinds));
        }
        Ok(out)
    })
}

impl Source {
    async fn rows(&self, sql: String, args: &[Value], kinds: &[Kind]) -> Result<Rows, StoreError> {
        fetch_rows(&self.pool, sql, args, kinds).await
    }
}

impl Store {
    async fn rows(&self, sql: String, args: &[Value], kinds: &[Kind]) -> Result<Rows, StoreError> {
        fetch_rows(&self.pool, sql, args, kinds).await
    }
}

impl Tx {
    async fn run(&mut self, sql: String, args: &[Value]) -> Result<u64, StoreError> {
        let sql = sqlx::AssertSqlSafe(sql);
        let keep = self.backend() == Backend::Sqlite;
        let done = on_tx!(self, conn => bind_values!(sqlx::query(sql).persistent(keep), args)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// Inserts `rows` into `table`'s `columns`, in statements of at most
    /// `PAGE` rows.
    async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Value>],
        tail: &str,
    ) -> Result<u64, StoreError> {
        let mut done = 0;
        for chunk in rows.chunks(PAGE as usize) {
            let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
            let mut n = 0;
            let tuples: Vec<String> = chunk
                .iter()
                .map(|row| {
                    let marks: Vec<String> = row
                        .iter()
                        .map(|_| {
                            n += 1;
                            format!("${n}")
                        })
                        .collect();
                    format!("({})", marks.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {} {tail}",
                quote(table),
                names.join(", "),
                tuples.join(", ")
            );
            let args: Vec<Value> = chunk.iter().flatten().cloned().collect();
            done += self.run(sql, &args).await?;
        }
        Ok(done)
    }
}

/// `$1, $2, …` for `n` values starting after `from`.
fn marks(from: usize, n: usize) -> String {
    (from + 1..=from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What one table's copy found or did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows the target did not have.
    pub new: u64,
    /// Rows the target had with other values.
    pub updated: u64,
    pub unchanged: u64,
    /// Set members (memberships, tokens) the source no longer has.
    pub removed: u64,
    /// Rows of the source that could not be copied (named in `notes`).
    pub skipped: u64,
}

impl Tally {
    pub fn changes(&self) -> u64 {
        self.new + self.updated + self.removed
    }
}

/// What a whole run found or did, table by table, in copy order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub tables: Vec<(&'static str, Tally)>,
    /// Users the target holds that the source does not (left as they are).
    pub users_only_in_target: u64,
    /// Users copied by an earlier run and deleted in Django since: made
    /// inactive here (or, in a plan, that would be), so they can no longer
    /// sign in.
    pub users_deactivated: u64,
    /// Picture paths named by copied profiles (relative to the media root).
    pub pictures: Vec<String>,
    /// Things worth a look that did not stop the run.
    pub notes: Vec<String>,
}

impl Report {
    pub fn changes(&self) -> u64 {
        self.tables.iter().map(|(_, t)| t.changes()).sum::<u64>() + self.users_deactivated
    }

    fn tally(&mut self, table: &'static str) -> &mut Tally {
        if let Some(at) = self.tables.iter().position(|(t, _)| *t == table) {
            return &mut self.tables[at].1;
        }
        self.tables.push((table, Tally::default()));
        &mut self.tables.last_mut().expect("just pushed").1
    }
}

/// Told how far the copy is.
pub trait Progress {
    /// A phase over `total` rows begins.
    fn start(&self, what: &str, total: u64);
    fn advance(&self, rows: u64);
    fn finish(&self);
}

/// Whether a run plans (reads both sides, writes nothing) or applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plan,
    Apply,
}

/// A table whose rows keep their ids.
struct Entity {
    label: &'static str,
    source: String,
    target: String,
    /// `id` first.
    columns: Vec<Column>,
    /// A column that must agree for a same-id target row to be the same
    /// row (`date_joined` of a user, `user_id` of a profile).
    same: Option<usize>,
    /// A column unique in the target, which must not belong to another id.
    unique: Option<usize>,
    /// A column unique in the target regardless of case and when not
    /// empty (e-mail under `users.unique_email`).
    unique_folded: Option<usize>,
    /// Why a different `same` value means another row, for the message.
    what: &'static str,
}

/// A many-to-many table whose members for each owner are made the
/// source's.
struct Link {
    label: &'static str,
    source: String,
    target: String,
    source_owner: String,
    target_owner: String,
    member: String,
    target_member: String,
}

/// The run: the source, the target and how to hash DRF keys.
pub struct Import<'a> {
    pub source: &'a Source,
    pub target: &'a Store,
    /// doorman's stored form of a token key.
    pub digest: fn(&str) -> String,
    pub progress: &'a dyn Progress,
}

impl Import<'_> {
    /// Plans (`Mode::Plan`) or applies the whole copy. A plan that finds
    /// conflicts returns them as `ImportError::Conflicts`.
    pub async fn run(&self, mode: Mode) -> Result<Report, ImportError> {
        let mut report = Report::default();
        let mut conflicts = Vec::new();
        let content_types = self.content_types(mode, &mut report).await?;
        let permissions = self.permissions(mode, &content_types, &mut report).await?;
        let target_tables = self.target.profile_tables().clone();
        let groups = Entity {
            label: "groups",
            source: "auth_group".into(),
            target: "auth_group".into(),
            columns: vec![col("id", Kind::Int), col("name", Kind::Text)],
            same: None,
            unique: Some(1),
            unique_folded: None,
            what: "is another group",
        };
        let group_permissions = Link {
            label: "group permissions",
            source: "auth_group_permissions".into(),
            target: "auth_group_permissions".into(),
            source_owner: "group_id".into(),
            target_owner: "group_id".into(),
            member: "permission_id".into(),
            target_member: "permission_id".into(),
        };
        self.entity(
            mode,
            &groups,
            &[(&group_permissions, Some(&permissions))],
            false,
            &mut report,
            &mut conflicts,
        )
        .await?;
        if let Some(tables) = &self.source.accounts {
            let provinces = Entity {
                label: "provinces",
                source: tables.province.clone(),
                target: target_tables.province.clone(),
                columns: vec![
                    col("id", Kind::Int),
                    col("name", Kind::Text),
                    col("code", Kind::Text),
                ],
                same: None,
                unique: Some(1),
                unique_folded: None,
                what: "is another province",
            };
            self.entity(mode, &provinces, &[], false, &mut report, &mut conflicts)
                .await?;
        }
        let email_unique = self.target_email_unique().await?;
        let users = Entity {
            label: "users",
            source: "auth_user".into(),
            target: "auth_user".into(),
            columns: vec![
                col("id", Kind::Int),
                col("password", Kind::Text),
                col("last_login", Kind::Time),
                col("is_superuser", Kind::Bool),
                col("username", Kind::Text),
                col("first_name", Kind::Text),
                col("last_name", Kind::Text),
                col("email", Kind::Text),
                col("is_staff", Kind::Bool),
                col("is_active", Kind::Bool),
                col("date_joined", Kind::Time),
            ],
            same: Some(10),
            unique: Some(4),
            unique_folded: email_unique.then_some(7),
            what: "joined at another time",
        };
        let memberships = Link {
            label: "group memberships",
            source: "auth_user_groups".into(),
            target: "auth_user_groups".into(),
            source_owner: "user_id".into(),
            target_owner: "user_id".into(),
            member: "group_id".into(),
            target_member: "group_id".into(),
        };
        let user_permissions = Link {
            label: "user permissions",
            source: "auth_user_user_permissions".into(),
            target: "auth_user_user_permissions".into(),
            source_owner: "user_id".into(),
            target_owner: "user_id".into(),
            member: "permission_id".into(),
            target_member: "permission_id".into(),
        };
        if email_unique {
            self.email_duplicates(&mut conflicts).await?;
        }
        self.entity(
            mode,
            &users,
            &[
                (&memberships, None),
                (&user_permissions, Some(&permissions)),
            ],
            true,
            &mut report,
            &mut conflicts,
        )
        .await?;
        if let Some(tables) = &self.source.accounts {
            let columns = vec![
                col("id", Kind::Int),
                col("user_id", Kind::Int),
                col("phone", Kind::Text),
                col("address", Kind::Text),
                col("birth_date", Kind::Date),
                col("profile_picture", Kind::Text),
                col("bio", Kind::Text),
                col("province_id", Kind::Int),
                col("created_at", Kind::Time),
                col("updated_at", Kind::Time),
            ];
            let profiles = Entity {
                label: "profiles",
                source: tables.profile.clone(),
                target: target_tables.profile.clone(),
                columns,
                same: Some(1),
                unique: Some(1),
                unique_folded: None,
                what: "belongs to another user",
            };
            let roles = Link {
                label: "profile roles",
                source: tables.profile_roles.clone(),
                target: target_tables.profile_roles.clone(),
                source_owner: tables.roles_profile.clone(),
                target_owner: target_tables.roles_profile.clone(),
                member: "group_id".into(),
                target_member: "group_id".into(),
            };
            self.entity(
                mode,
                &profiles,
                &[(&roles, None)],
                false,
                &mut report,
                &mut conflicts,
            )
            .await?;
        }
        if self.source.blacklist {
            self.blacklist(mode, &mut report).await?;
        }
        if !conflicts.is_empty() {
            let hidden = conflicts.len().saturating_sub(SHOWN_CONFLICTS);
            conflicts.truncate(SHOWN_CONFLICTS);
            if hidden > 0 {
                conflicts.push(format!("… and {hidden} more"));
            }
            return Err(ImportError::Conflicts(conflicts));
        }
        Ok(report)
    }

    async fn target_email_unique(&self) -> Result<bool, StoreError> {
        let sql = match self.target.backend() {
            Backend::Sqlite => {
                "SELECT CAST(1 AS BIGINT) FROM sqlite_master WHERE type = 'index' AND name = 'doorman_auth_user_email_ci_uniq'"
            }
            Backend::Postgres => {
                "SELECT CAST(1 AS BIGINT) WHERE to_regclass('doorman_auth_user_email_ci_uniq') IS NOT NULL"
            }
        };
        Ok(!self
            .target
            .rows(sql.into(), &[], &[Kind::Int])
            .await?
            .is_empty())
    }

    /// With `users.unique_email` on in the target, addresses the source
    /// gives to more than one user cannot all be copied.
    async fn email_duplicates(&self, conflicts: &mut Vec<String>) -> Result<(), StoreError> {
        let rows = self
            .source
            .rows(
                "SELECT lower(email) FROM auth_user WHERE email <> '' \
                 GROUP BY lower(email) HAVING count(*) > 1 ORDER BY 1 LIMIT 25"
                    .into(),
                &[],
                &[Kind::Text],
            )
            .await?;
        for row in rows {
            conflicts.push(format!(
                "users.unique_email is on here, but the source gives {} to more than one user",
                row[0].text().unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Content types by `(app_label, model)`; returns source id → target id.
    async fn content_types(
        &self,
        mode: Mode,
        report: &mut Report,
    ) -> Result<HashMap<i64, i64>, ImportError> {
        let columns = [
            col("id", Kind::Int),
            col("app_label", Kind::Text),
            col("model", Kind::Text),
        ];
        let sql = format!(
            "SELECT {} FROM django_content_type ORDER BY id",
            select_list(&columns, |c| &c.source)
        );
        let source = self.source.rows(sql.clone(), &[], &kinds(&columns)).await?;
        let target = self.target.rows(sql, &[], &kinds(&columns)).await?;
        let natural = |r: &Vec<Value>| (r[1].clone(), r[2].clone());
        let (map, new) = match_natural(&source, &target, natural);
        let tally = report.tally("content types");
        tally.unchanged += (source.len() - new.len()) as u64;
        tally.new += new.len() as u64;
        if mode == Mode::Apply && !new.is_empty() {
            let mut tx = self.target.begin().await?;
            tx.insert_rows(
                "django_content_type",
                &["id", "app_label", "model"],
                &new,
                "",
            )
            .await?;
            tx.move_sequence("django_content_type").await?;
            tx.commit().await?;
        }
        Ok(map)
    }

    /// Permissions by `(content type, codename)`, their names brought up to
    /// date; returns source id → target id.
    async fn permissions(
        &self,
        mode: Mode,
        content_types: &HashMap<i64, i64>,
        report: &mut Report,
    ) -> Result<HashMap<i64, i64>, ImportError> {
        let columns = [
            col("id", Kind::Int),
            col("content_type_id", Kind::Int),
            col("codename", Kind::Text),
            col("name", Kind::Text),
        ];
        let sql = format!(
            "SELECT {} FROM auth_permission ORDER BY id",
            select_list(&columns, |c| &c.source)
        );
        let mut source = self.source.rows(sql.clone(), &[], &kinds(&columns)).await?;
        let target = self.target.rows(sql, &[], &kinds(&columns)).await?;
        for row in &mut source {
            let ct = row[1].int().and_then(|id| content_types.get(&id)).copied();
            row[1] = Value::Int(ct);
        }
        let natural = |r: &Vec<Value>| (r[1].clone(), r[2].clone());
        let (map, new) = match_natural(&source, &target, natural);
        let by_id: HashMap<i64, &Vec<Value>> = target
            .iter()
            .filter_map(|r| Some((r[0].int()?, r)))
            .collect();
        let renamed: Vec<(i64, Value)> = source
            .iter()
            .filter_map(|r| {
                let here = by_id.get(map.get(&r[0].int()?)?)?;
                (here[3] != r[3]).then(|| (here[0].int().unwrap_or_default(), r[3].clone()))
            })
            .collect();
        let tally = report.tally("permissions");
        tally.new += new.len() as u64;
        tally.updated += renamed.len() as u64;
        tally.unchanged += (source.len() - new.len() - renamed.len()) as u64;
        if mode == Mode::Apply && (!new.is_empty() || !renamed.is_empty()) {
            let mut tx = self.target.begin().await?;
            tx.insert_rows(
                "auth_permission",
                &["id", "content_type_id", "codename", "name"],
                &new,
                "",
            )
            .await?;
            tx.move_sequence("auth_permission").await?;
            for (id, name) in renamed {
                tx.run(
                    "UPDATE auth_permission SET name = $1 WHERE id = $2".into(),
                    &[name, Value::Int(Some(id))],
                )
                .await?;
            }
            tx.commit().await?;
        }
        Ok(map)
    }

    /// Copies the rows of `entity`, page by page, with the members of each
    /// `links` entry for the page's rows (through the member id map given).
    /// `users` adds the users' DRF tokens and the count of target users the
    /// source lacks.
    async fn entity(
        &self,
        mode: Mode,
        entity: &Entity,
        links: &[(&Link, Option<&HashMap<i64, i64>>)],
        users: bool,
        report: &mut Report,
        conflicts: &mut Vec<String>,
    ) -> Result<(), ImportError> {
        let kinds = kinds(&entity.columns);
        let total = self.source.count(&entity.source).await?;
        self.progress.start(entity.label, total as u64);
        let source_sql = format!(
            "SELECT {} FROM {} WHERE id > $1 ORDER BY id LIMIT $2",
            select_list(&entity.columns, |c| &c.source),
            quote(&entity.source)
        );
        let target_columns: Vec<&str> = entity.columns.iter().map(|c| c.target.as_str()).collect();
        let identity = entity.same.or(entity.unique).unwrap_or(0);
        let mut after = i64::MIN;
        let mut matched = 0u64;
        loop {
            let page = self
                .source
                .rows(
                    source_sql.clone(),
                    &[Value::Int(Some(after)), Value::Int(Some(PAGE))],
                    &kinds,
                )
                .await?;
            let low = after;
            let Some(last) = page.last() else {
                if users {
                    let gone = self.deleted_in_source(low, None, &[]).await?;
                    let mut tx = match mode {
                        Mode::Apply if conflicts.is_empty() && !gone.is_empty() => {
                            Some(self.target.begin().await?)
                        }
                        _ => None,
                    };
                    deactivate(&gone, tx.as_mut(), report).await?;
                    if let Some(tx) = tx {
                        tx.commit().await?;
                    }
                }
                break;
            };
            after = last[0].int().unwrap_or_default();
            let owners: Vec<Value> = page.iter().map(|r| r[0].clone()).collect();
            let here = self
                .target
                .rows(
                    format!(
                        "SELECT {} FROM {} WHERE id IN ({})",
                        select_list(&entity.columns, |c| &c.target),
                        quote(&entity.target),
                        marks(0, owners.len())
                    ),
                    &owners,
                    &kinds,
                )
                .await?;
            let here: HashMap<i64, Vec<Value>> = here
                .into_iter()
                .filter_map(|r| Some((r[0].int()?, r)))
                .collect();
            let copied = self.target.fingerprints(entity.label, &owners).await?;
            let mut new = Vec::new();
            let mut changed = Vec::new();
            let mut prints = Vec::new();
            let mut kept = 0;
            for row in &page {
                let id = row[0].int().unwrap_or_default();
                let base = copied.get(&id);
                let theirs = fingerprint(row);
                let Some(existing) = here.get(&id) else {
                    if base.is_some() {
                        conflicts.push(format!(
                            "{} id {id} ({}): deleted in doorman after it was copied; \
                             copying again would bring it back",
                            entity.label,
                            shown(&row[identity]),
                        ));
                    } else {
                        new.push(row.clone());
                        prints.push((id, theirs));
                    }
                    continue;
                };
                matched += 1;
                if base.is_none() && existing[identity] != row[identity] {
                    conflicts.push(format!(
                        "{} id {id}: the target's row {} ({} here, {} in the source)",
                        entity.label,
                        entity.what,
                        shown(&existing[identity]),
                        shown(&row[identity]),
                    ));
                    continue;
                }
                match merge(base, &fingerprint(existing), &theirs) {
                    Merge::Same => {
                        if base != Some(&theirs) {
                            prints.push((id, theirs));
                        }
                    }
                    Merge::Keep => kept += 1,
                    Merge::Take => {
                        changed.push(row.clone());
                        prints.push((id, theirs));
                    }
                    Merge::Conflict => conflicts.push(format!(
                        "{} id {id} ({}): changed in doorman after it was copied, \
                         and in the source since; copying again would undo the \
                         change made here",
                        entity.label,
                        shown(&existing[entity.unique.unwrap_or(identity)]),
                    )),
                }
            }
            if let Some(unique) = entity.unique {
                self.unique_taken(entity, unique, false, &page, conflicts)
                    .await?;
            }
            if let Some(unique) = entity.unique_folded {
                self.unique_taken(entity, unique, true, &page, conflicts)
                    .await?;
            }
            let tally = report.tally(entity.label);
            tally.new += new.len() as u64;
            tally.updated += changed.len() as u64;
            tally.unchanged += (page.len() - new.len() - changed.len()) as u64;
            if kept > 0 {
                report.notes.push(format!(
                    "{kept} {} changed only in doorman since they were copied; kept as they are here",
                    entity.label
                ));
            }
            if entity.label == "profiles" {
                report.pictures.extend(
                    page.iter()
                        .filter_map(|r| r[5].text().filter(|p| !p.is_empty()).map(String::from)),
                );
            }
            let mut tx = match mode {
                Mode::Apply if conflicts.is_empty() => Some(self.target.begin().await?),
                _ => None,
            };
            if let Some(tx) = tx.as_mut() {
                tx.insert_rows(&entity.target, &target_columns, &new, "")
                    .await?;
                if !new.is_empty() {
                    tx.move_sequence(&entity.target).await?;
                }
                let sets: Vec<String> = target_columns[1..]
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{} = ${}", quote(c), i + 1))
                    .collect();
                let update = format!(
                    "UPDATE {} SET {} WHERE id = ${}",
                    quote(&entity.target),
                    sets.join(", "),
                    target_columns.len()
                );
                for row in &changed {
                    let mut args = row[1..].to_vec();
                    args.push(row[0].clone());
                    tx.run(update.clone(), &args).await?;
                }
                tx.record(entity.label, &prints).await?;
                if users {
                    tx.touch_users();
                }
            }
            let owner_ids: Vec<i64> = page.iter().filter_map(|r| r[0].int()).collect();
            for (link, map) in links {
                self.link(link, *map, &owner_ids, tx.as_mut(), report, conflicts)
                    .await?;
            }
            if users && self.source.drf_tokens {
                self.drf_tokens(&owner_ids, tx.as_mut(), report, conflicts)
                    .await?;
            }
            if users {
                let gone = self.deleted_in_source(low, Some(after), &owners).await?;
                deactivate(&gone, tx.as_mut(), report).await?;
            }
            if let Some(tx) = tx {
                tx.commit().await?;
            }
            self.progress.advance(page.len() as u64);
        }
        self.progress.finish();
        if users {
            let (count,): (i64,) =
                on_pool!(self.target, pool => sqlx::query_as("SELECT count(*) FROM auth_user").fetch_one(pool).await)
                    .map_err(StoreError::from)?;
            let inserted = match mode {
                Mode::Apply => report.tally("users").new,
                Mode::Plan => 0,
            };
            report.users_only_in_target =
                (count as u64).saturating_sub(matched + inserted + report.users_deactivated);
        }
        Ok(())
    }

    /// Active target users with ids in `(low, high]` that an earlier run
    /// copied and the source no longer has (`page` is what it has there).
    async fn deleted_in_source(
        &self,
        low: i64,
        high: Option<i64>,
        page: &[Value],
    ) -> Result<Vec<i64>, StoreError> {
        let mut args = vec![Value::Int(Some(low))];
        // The fingerprints' key range first, each user by id after: a join
        // could be planned as a scan of every user, once per page.
        let mut sql = "SELECT CAST(r.id AS BIGINT) FROM doorman_import_row r \
                       WHERE r.kind = 'users' AND r.id > $1"
            .to_string();
        if let Some(high) = high {
            args.push(Value::Int(Some(high)));
            sql.push_str(" AND r.id <= $2");
        }
        sql.push_str(" AND EXISTS (SELECT 1 FROM auth_user u WHERE u.id = r.id AND u.is_active)");
        if !page.is_empty() {
            sql.push_str(&format!(
                " AND r.id NOT IN ({})",
                marks(args.len(), page.len())
            ));
            args.extend(page.iter().cloned());
        }
        let rows = self.target.rows(sql, &args, &[Kind::Int]).await?;
        Ok(rows.iter().filter_map(|r| r[0].int()).collect())
    }

    /// Conflicts where the target gives a page row's unique value (a
    /// username, a group's name) to another id. `folded` compares as the
    /// e-mail index does: through the target's own `lower()`, and only
    /// values that are not empty. Both lookups are `IN` lists the
    /// target's unique indexes answer (a join with the page's values may
    /// be planned as a scan of the whole table, once per page).
    async fn unique_taken(
        &self,
        entity: &Entity,
        unique: usize,
        folded: bool,
        page: &Rows,
        conflicts: &mut Vec<String>,
    ) -> Result<(), StoreError> {
        let rows: Vec<&Vec<Value>> = page
            .iter()
            .filter(|r| !folded || r[unique].text().is_some_and(|t| !t.is_empty()))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let name = &entity.columns[unique];
        let values: Vec<Value> = rows.iter().map(|r| r[unique].clone()).collect();
        // The page's values as the target compares them.
        let keys: Vec<Value> = match folded {
            true => {
                let select: Vec<String> =
                    (1..=values.len()).map(|i| format!("lower(${i})")).collect();
                let lowered = self
                    .target
                    .rows(
                        format!("SELECT {}", select.join(", ")),
                        &values,
                        &vec![Kind::Text; values.len()],
                    )
                    .await?;
                lowered.into_iter().next().unwrap_or_default()
            }
            false => values,
        };
        let ids: HashMap<&Value, i64> = keys
            .iter()
            .zip(&rows)
            .filter_map(|(k, r)| Some((k, r[0].int()?)))
            .collect();
        let column = quote(&name.target);
        let (selected, filter) = match (folded, name.kind) {
            (true, _) => (
                format!("lower({column})"),
                format!(
                    "lower({column}) IN ({}) AND {column} <> ''",
                    marks(0, keys.len())
                ),
            ),
            (false, Kind::Int) => (
                format!("CAST({column} AS BIGINT)"),
                format!("{column} IN ({})", marks(0, keys.len())),
            ),
            (false, _) => (
                column.clone(),
                format!("{column} IN ({})", marks(0, keys.len())),
            ),
        };
        let sql = format!(
            "SELECT CAST(id AS BIGINT), {selected} FROM {} WHERE {filter}",
            quote(&entity.target)
        );
        let taken = self
            .target
            .rows(sql, &keys, &[Kind::Int, name.kind])
            .await?;
        for row in &taken {
            let (Some(here), Some(&there)) = (row[0].int(), ids.get(&row[1])) else {
                continue;
            };
            if here != there {
                let shown_value = match folded {
                    // The address as the source has it.
                    true => rows
                        .iter()
                        .find(|r| r[0].int() == Some(there))
                        .map_or_else(|| shown(&row[1]), |r| shown(&r[unique])),
                    false => shown(&row[1]),
                };
                conflicts.push(format!(
                    "{} {shown_value}: id {there} in the source, but the target gives it to id {here}",
                    entity.label,
                ));
            }
        }
        Ok(())
    }

    /// Makes each owner's members in `link` the source's, by the rule rows
    /// follow (`merge`): a set changed only in doorman since it was copied
    /// is kept, one changed on both sides is a conflict.
    async fn link(
        &self,
        link: &Link,
        map: Option<&HashMap<i64, i64>>,
        owners: &[i64],
        tx: Option<&mut Tx>,
        report: &mut Report,
        conflicts: &mut Vec<String>,
    ) -> Result<(), ImportError> {
        let list: Vec<Value> = owners.iter().map(|&o| Value::Int(Some(o))).collect();
        let pairs = |table: &str, owner: &str, member: &str| {
            format!(
                "SELECT CAST({o} AS BIGINT), CAST({m} AS BIGINT) FROM {t} WHERE {o} IN ({})",
                marks(0, list.len()),
                o = quote(owner),
                m = quote(member),
                t = quote(table)
            )
        };
        let source = self
            .source
            .rows(
                pairs(&link.source, &link.source_owner, &link.member),
                &list,
                &[Kind::Int, Kind::Int],
            )
            .await?;
        let target = self
            .target
            .rows(
                pairs(&link.target, &link.target_owner, &link.target_member),
                &list,
                &[Kind::Int, Kind::Int],
            )
            .await?;
        let mut skipped = 0;
        let mut wanted = sets_of(owners);
        for r in &source {
            let (Some(owner), Some(member)) = (r[0].int(), r[1].int()) else {
                continue;
            };
            let member = match map {
                Some(map) => match map.get(&member) {
                    Some(&m) => m,
                    None => {
                        skipped += 1;
                        continue;
                    }
                },
                None => member,
            };
            wanted.entry(owner).or_default().insert(member);
        }
        let mut held = sets_of(owners);
        for r in &target {
            if let (Some(owner), Some(member)) = (r[0].int(), r[1].int()) {
                held.entry(owner).or_default().insert(member);
            }
        }
        let copied = self.target.fingerprints(link.label, &list).await?;
        let plan = merge_sets(link.label, &wanted, &held, &copied, report, conflicts);
        report.tally(link.label).skipped += skipped;
        if skipped > 0 {
            report.notes.push(format!(
                "{skipped} {} of the source name a row it does not have; not copied",
                link.label
            ));
        }
        if let Some(tx) = tx {
            let add: Vec<Vec<Value>> = plan
                .add
                .iter()
                .map(|&(o, m)| vec![Value::Int(Some(o)), Value::Int(Some(m))])
                .collect();
            tx.insert_rows(
                &link.target,
                &[&link.target_owner, &link.target_member],
                &add,
                "",
            )
            .await?;
            let delete = format!(
                "DELETE FROM {} WHERE {} = $1 AND {} = $2",
                quote(&link.target),
                quote(&link.target_owner),
                quote(&link.target_member)
            );
            for (o, m) in plan.drop {
                tx.run(delete.clone(), &[Value::Int(Some(o)), Value::Int(Some(m))])
                    .await?;
            }
            tx.record(link.label, &plan.record).await?;
        }
        Ok(())
    }

    /// Makes the page's users' imported tokens the source's DRF keys, by
    /// the rule of `link`: a token signed out in doorman stays out.
    async fn drf_tokens(
        &self,
        owners: &[i64],
        tx: Option<&mut Tx>,
        report: &mut Report,
        conflicts: &mut Vec<String>,
    ) -> Result<(), ImportError> {
        const LABEL: &str = "DRF tokens";
        let list: Vec<Value> = owners.iter().map(|&o| Value::Int(Some(o))).collect();
        let source = self
            .source
            .rows(
                format!(
                    "SELECT key, CAST(user_id AS BIGINT), created FROM authtoken_token \
                     WHERE user_id IN ({})",
                    marks(0, list.len())
                ),
                &list,
                &[Kind::Text, Kind::Int, Kind::Time],
            )
            .await?;
        let mut args = vec![Value::Text(Some(DRF_LABEL.into()))];
        args.extend(list.iter().cloned());
        let target = self
            .target
            .rows(
                format!(
                    "SELECT digest, CAST(user_id AS BIGINT) FROM doorman_token \
                     WHERE label = $1 AND user_id IN ({})",
                    marks(1, list.len())
                ),
                &args,
                &[Kind::Text, Kind::Int],
            )
            .await?;
        let mut created = HashMap::new();
        let mut wanted = sets_of(owners);
        for r in &source {
            let (Some(key), Some(owner)) = (r[0].text(), r[1].int()) else {
                continue;
            };
            let digest = (self.digest)(key);
            created.insert(digest.clone(), r[2].clone());
            wanted.entry(owner).or_default().insert(digest);
        }
        let mut held = sets_of(owners);
        for r in &target {
            if let (Some(digest), Some(owner)) = (r[0].text(), r[1].int()) {
                held.entry(owner).or_default().insert(digest.to_string());
            }
        }
        let copied = self.target.fingerprints(LABEL, &list).await?;
        let plan = merge_sets(LABEL, &wanted, &held, &copied, report, conflicts);
        if let Some(tx) = tx {
            let add: Vec<Vec<Value>> = plan
                .add
                .iter()
                .map(|(user, digest)| {
                    vec![
                        Value::Text(Some(digest.clone())),
                        Value::Int(Some(*user)),
                        Value::Text(Some(DRF_LABEL.into())),
                        created.get(digest).cloned().unwrap_or(Value::Time(None)),
                    ]
                })
                .collect();
            tx.insert_rows(
                "doorman_token",
                &["digest", "user_id", "label", "created_at"],
                &add,
                "ON CONFLICT (digest) DO NOTHING",
            )
            .await?;
            for (_, digest) in plan.drop {
                tx.run(
                    "DELETE FROM doorman_token WHERE digest = $1".into(),
                    &[Value::Text(Some(digest))],
                )
                .await?;
            }
            tx.record(LABEL, &plan.record).await?;
        }
        Ok(())
    }

    /// Refresh tokens blacklisted in simplejwt that have not expired join
    /// the denylist.
    async fn blacklist(&self, mode: Mode, report: &mut Report) -> Result<(), ImportError> {
        let kinds = [Kind::Int, Kind::Text, Kind::Int, Kind::Time];
        let source_sql = "SELECT CAST(b.id AS BIGINT), o.jti, CAST(o.user_id AS BIGINT), o.expires_at \
             FROM token_blacklist_blacklistedtoken b \
             JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id \
             WHERE b.id > $1 AND o.expires_at > $2 ORDER BY b.id LIMIT $3";
        let now = Value::Time(Some(Timestamp::now()));
        let mut after = i64::MIN;
        loop {
            let page = self
                .source
                .rows(
                    source_sql.into(),
                    &[Value::Int(Some(after)), now.clone(), Value::Int(Some(PAGE))],
                    &kinds,
                )
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last[0].int().unwrap_or_default();
            let jtis: Vec<Value> = page.iter().map(|r| r[1].clone()).collect();
            let held = self
                .target
                .rows(
                    format!(
                        "SELECT jti FROM doorman_jwt_denylist WHERE jti IN ({})",
                        marks(0, jtis.len())
                    ),
                    &jtis,
                    &[Kind::Text],
                )
                .await?;
            let held: HashSet<&Value> = held.iter().map(|r| &r[0]).collect();
            // doorman's denylist keeps ids of up to 64 characters
            // (simplejwt's are 32); a longer one is no id simplejwt made.
            let long = page
                .iter()
                .filter(|r| r[1].text().is_none_or(|j| j.len() > 64))
                .count();
            if long > 0 {
                report.notes.push(format!(
                    "{long} blacklisted refresh tokens have an id longer than 64 characters; not copied"
                ));
            }
            let add: Vec<Vec<Value>> = page
                .iter()
                .filter(|r| r[1].text().is_some_and(|j| j.len() <= 64))
                .filter(|r| !held.contains(&r[1]))
                .map(|r| r[1..].to_vec())
                .collect();
            let tally = report.tally("blacklisted refresh tokens");
            tally.new += add.len() as u64;
            tally.skipped += long as u64;
            tally.unchanged += (page.len() - add.len() - long) as u64;
            if mode == Mode::Apply && !add.is_empty() {
                let mut tx = self.target.begin().await?;
                tx.insert_rows(
                    "doorman_jwt_denylist",
                    &["jti", "user_id", "expires_at"],
                    &add,
                    "ON CONFLICT (jti) DO NOTHING",
                )
                .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

/// A row's contents as a stable digest (instants by their UTC value), for
/// `doorman_import_row`.
/// Makes users deleted in Django inactive here (through `tx`; without one
/// only counts them). Inactive users are refused at sign-in and with every
/// token they hold; deleting them is left to an operator, who may want
/// what they made kept.
async fn deactivate(
    gone: &[i64],
    tx: Option<&mut Tx>,
    report: &mut Report,
) -> Result<(), StoreError> {
    if gone.is_empty() {
        return Ok(());
    }
    report.users_deactivated += gone.len() as u64;
    if let Some(tx) = tx {
        let mut args = vec![Value::Bool(false)];
        args.extend(gone.iter().map(|id| Value::Int(Some(*id))));
        tx.run(
            format!(
                "UPDATE auth_user SET is_active = $1 WHERE id IN ({})",
                marks(1, gone.len())
            ),
            &args,
        )
        .await?;
        tx.touch_users();
    }
    Ok(())
}

fn fingerprint(row: &[Value]) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for value in row {
        let text = match value {
            Value::Time(Some(t)) => format!("T{}", t.0.unix_timestamp_nanos()),
            other => format!("{other:?}"),
        };
        hash.update(text.len().to_le_bytes());
        hash.update(text.as_bytes());
    }
    hex::encode(hash.finalize())
}

impl Store {
    /// The fingerprints of the rows (or sets) of `kind` with the ids
    /// `ids` as an earlier run copied them.
    async fn fingerprints(
        &self,
        kind: &str,
        ids: &[Value],
    ) -> Result<HashMap<i64, String>, StoreError> {
        let mut args = vec![Value::Text(Some(kind.into()))];
        args.extend(ids.iter().cloned());
        let rows = self
            .rows(
                format!(
                    "SELECT CAST(id AS BIGINT), fingerprint FROM doorman_import_row \
                     WHERE kind = $1 AND id IN ({})",
                    marks(1, ids.len())
                ),
                &args,
                &[Kind::Int, Kind::Text],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some((r[0].int()?, r[1].text()?.to_string())))
            .collect())
    }
}

/// Whether to copy a row (or an owner's set), from fingerprints of the
/// last copy (`base`), of the target's now (`ours`) and of the source's
/// (`theirs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    /// Both sides agree.
    Same,
    /// Only doorman changed it since the copy: keep doorman's.
    Keep,
    /// Only the source changed it, or it was never copied: copy it.
    Take,
    /// Both changed it since the copy.
    Conflict,
}

fn merge(base: Option<&String>, ours: &str, theirs: &str) -> Merge {
    match base {
        _ if ours == theirs => Merge::Same,
        Some(base) if base == theirs => Merge::Keep,
        Some(base) if base != ours => Merge::Conflict,
        _ => Merge::Take,
    }
}

/// An empty set for each owner of a page.
fn sets_of<M>(owners: &[i64]) -> BTreeMap<i64, BTreeSet<M>> {
    owners.iter().map(|&o| (o, BTreeSet::new())).collect()
}

/// What making sets the source's writes.
struct SetPlan<M> {
    add: Vec<(i64, M)>,
    drop: Vec<(i64, M)>,
    /// Owner → fingerprint of the set as copied.
    record: Vec<(i64, String)>,
}

/// Merges each owner's set (`merge`), counting into `label`'s tally.
fn merge_sets<M: Ord + Clone + std::fmt::Debug>(
    label: &'static str,
    wanted: &BTreeMap<i64, BTreeSet<M>>,
    held: &BTreeMap<i64, BTreeSet<M>>,
    copied: &HashMap<i64, String>,
    report: &mut Report,
    conflicts: &mut Vec<String>,
) -> SetPlan<M> {
    let print = |set: &BTreeSet<M>| fingerprint(&[Value::Text(Some(format!("{set:?}")))]);
    let empty = BTreeSet::new();
    let mut plan = SetPlan {
        add: Vec::new(),
        drop: Vec::new(),
        record: Vec::new(),
    };
    let mut kept = 0;
    let tally = report.tally(label);
    for (&owner, theirs_set) in wanted {
        let ours_set = held.get(&owner).unwrap_or(&empty);
        let base = copied.get(&owner);
        let theirs = print(theirs_set);
        match merge(base, &print(ours_set), &theirs) {
            Merge::Same => {
                tally.unchanged += theirs_set.len() as u64;
                if base != Some(&theirs) {
                    plan.record.push((owner, theirs));
                }
            }
            Merge::Keep => {
                tally.unchanged += ours_set.len() as u64;
                kept += 1;
            }
            Merge::Take => {
                for m in theirs_set.difference(ours_set) {
                    plan.add.push((owner, m.clone()));
                }
                for m in ours_set.difference(theirs_set) {
                    plan.drop.push((owner, m.clone()));
                }
                tally.unchanged += theirs_set.intersection(ours_set).count() as u64;
                plan.record.push((owner, theirs));
            }
            Merge::Conflict => conflicts.push(format!(
                "{label} of id {owner}: changed in doorman after they were copied, \
                 and in the source since; copying again would undo the change made here"
            )),
        }
    }
    tally.new += plan.add.len() as u64;
    tally.removed += plan.drop.len() as u64;
    if kept > 0 {
        report.notes.push(format!(
            "the {label} of {kept} owners changed only in doorman since they were copied; kept as they are here"
        ));
    }
    plan
}

impl Tx {
    /// Records the fingerprints of rows (or sets) of `kind` as copied.
    async fn record(&mut self, kind: &str, prints: &[(i64, String)]) -> Result<(), StoreError> {
        let rows: Vec<Vec<Value>> = prints
            .iter()
            .map(|(id, print)| {
                vec![
                    Value::Text(Some(kind.into())),
                    Value::Int(Some(*id)),
                    Value::Text(Some(print.clone())),
                ]
            })
            .collect();
        self.insert_rows(
            "doorman_import_row",
            &["kind", "id", "fingerprint"],
            &rows,
            "ON CONFLICT (kind, id) DO UPDATE SET fingerprint = excluded.fingerprint",
        )
        .await?;
        Ok(())
    }

    /// After rows were written with their ids, moves PostgreSQL's identity
    /// sequence of `table` past them, in the same transaction, so a
    /// registration during or after a run never draws a copied id
    /// (SQLite's AUTOINCREMENT follows by itself).
    async fn move_sequence(&mut self, table: &str) -> Result<(), StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        let sql = format!(
            "SELECT CAST(setval(pg_get_serial_sequence($1, 'id'), \
             GREATEST((SELECT max(id) FROM {}), 1)) AS BIGINT)",
            quote(table)
        );
        let sql = sqlx::AssertSqlSafe(sql);
        on_tx!(self, conn => sqlx::query(sql).bind(quote(table)).execute(conn).await.map(|_| ()))?;
        Ok(())
    }
}

/// A value for a message.
fn shown(value: &Value) -> String {
    match value {
        Value::Text(Some(t)) => format!("{t:?}"),
        Value::Int(Some(i)) => i.to_string(),
        Value::Time(Some(t)) => format!("{} UTC", super::timestamp::to_django_text(t.0)),
        Value::Date(Some(d)) => d.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(None) | Value::Text(None) | Value::Time(None) | Value::Date(None) => {
            "NULL".into()
        }
    }
}

/// Matches source rows to target rows by `natural`; returns source id →
/// target id, and the rows to insert (with the source id when the target
/// has no row of that id, else the next id after both sides' largest).
fn match_natural<K: std::hash::Hash + Eq>(
    source: &Rows,
    target: &Rows,
    natural: impl Fn(&Vec<Value>) -> K,
) -> (HashMap<i64, i64>, Rows) {
    let by_key: HashMap<K, i64> = target
        .iter()
        .filter_map(|r| Some((natural(r), r[0].int()?)))
        .collect();
    let mut used: HashSet<i64> = target.iter().filter_map(|r| r[0].int()).collect();
    let mut next = source
        .iter()
        .chain(target)
        .filter_map(|r| r[0].int())
        .max()
        .unwrap_or(0);
    let mut map = HashMap::new();
    let mut new = Vec::new();
    for row in source {
        let Some(id) = row[0].int() else { continue };
        if let Some(&here) = by_key.get(&natural(row)) {
            map.insert(id, here);
            continue;
        }
        let id_here = if used.insert(id) {
            id
        } else {
            next += 1;
            used.insert(next);
            next
        };
        map.insert(id, id_here);
        let mut row = row.clone();
        row[0] = Value::Int(Some(id_here));
        new.push(row);
    }
    (map, new)
}
