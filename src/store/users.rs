//! `auth_user` rows: insert, look up with the password hash, change the hash.

use super::{Store, StoreError, Timestamp, Tx, map_unique, on_pool, on_tx};
use crate::model::{NewUser, User, UserChanges};

#[derive(sqlx::FromRow)]
struct TokenUserRow {
    token_id: i32,
    #[sqlx(flatten)]
    user: UserRow,
}

#[derive(sqlx::FromRow)]
struct CutoffUserRow {
    #[sqlx(flatten)]
    user: UserRow,
    tokens_valid_after: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i32,
    password: String,
    last_login: Option<Timestamp>,
    is_superuser: bool,
    username: String,
    first_name: String,
    last_name: String,
    email: String,
    is_staff: bool,
    is_active: bool,
    date_joined: Timestamp,
}

impl UserRow {
    fn split(self) -> (User, String) {
        let user = User {
            id: self.id,
            username: self.username,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            is_active: self.is_active,
            is_staff: self.is_staff,
            is_superuser: self.is_superuser,
            last_login: self.last_login.map(|t| t.0),
            date_joined: self.date_joined.0,
        };
        (user, self.password)
    }
}

const INSERT_USER: &str = "INSERT INTO auth_user (password, last_login, is_superuser, username, \
                           first_name, last_name, email, is_staff, is_active, date_joined) \
                           VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

fn new_user_record(id: i32, new: &NewUser, email: &str, joined: Timestamp) -> User {
    User {
        id,
        username: new.username.as_str().to_string(),
        email: email.to_string(),
        first_name: new.first_name.clone(),
        last_name: new.last_name.clone(),
        is_active: new.is_active,
        is_staff: new.is_staff,
        is_superuser: new.is_superuser,
        last_login: None,
        date_joined: joined.0,
    }
}

const USER_COLUMNS: &str = "id, password, last_login, is_superuser, username, first_name, \
                            last_name, email, is_staff, is_active, date_joined";

impl Store {
    /// Inserts a user with an already-encoded password hash.
    pub async fn insert_user(
        &self,
        new: &NewUser,
        email: &str,
        encoded_password: &str,
    ) -> Result<User, StoreError> {
        let mut tx = self.begin().await?;
        let user = tx.insert_user(new, email, encoded_password).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The user with this exact username and their encoded password.
    pub async fn find_credentials_by_username(
        &self,
        username: &str,
    ) -> Result<Option<(User, String)>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM auth_user WHERE username = $1"
        ));
        let row: Option<UserRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(username)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(UserRow::split))
    }

    pub async fn find_user_by_id(&self, id: i32) -> Result<Option<User>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM auth_user WHERE id = $1"
        ));
        let row: Option<UserRow> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        Ok(row.map(|r| r.split().0))
    }

    /// The user with this id and their `tokens_valid_after` cut-off, in one
    /// round trip, or from the user cache: this runs on every
    /// JWT-authenticated request.
    pub async fn find_user_with_cutoff(
        &self,
        id: i32,
    ) -> Result<Option<(User, Option<Timestamp>)>, StoreError> {
        if let Some(hit) = self.user_cache.get(id) {
            return Ok(Some(hit));
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, s.tokens_valid_after FROM auth_user \
             LEFT JOIN doorman_user_security s ON s.user_id = auth_user.id \
             WHERE auth_user.id = $1"
        ));
        let generation = self.user_cache.generation();
        let row: Option<CutoffUserRow> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        let found = row.map(|r| (r.user.split().0, r.tokens_valid_after));
        if let Some((user, cutoff)) = &found {
            self.user_cache.put(generation, user, *cutoff);
        }
        Ok(found)
    }

    /// The encoded password hash as stored (tests and diagnostics).
    pub async fn password_hash(&self, id: i32) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT password FROM auth_user WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(p,)| p))
    }

    /// Replaces the hash only if it is still `old` (a rehash after login must
    /// not overwrite a password changed meanwhile). Returns whether it did.
    pub async fn replace_password_hash(
        &self,
        id: i32,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, pool => sqlx::query(
            "UPDATE auth_user SET password = $1 WHERE id = $2 AND password = $3",
        )
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        // The cache holds no hashes; invalidating keeps the rule simple:
        // every write to auth_user does it.
        self.user_cache.invalidate();
        Ok(done == 1)
    }

    /// Number of users (for `check`).
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as("SELECT count(*) FROM auth_user")
            .fetch_one(pool)
            .await)?;
        Ok(n)
    }

    /// Names of the `auth_permission` rows as `app_label.codename`, sorted.
    pub async fn permission_names(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT ct.app_label, p.codename FROM auth_permission p \
             JOIN django_content_type ct ON ct.id = p.content_type_id \
             ORDER BY ct.app_label, p.codename",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(|(a, c)| format!("{a}.{c}")).collect())
    }
}

impl Store {
    /// The user holding the opaque token with this digest, and the token's id.
    pub(super) async fn find_user_by_token_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(i32, User)>, StoreError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT t.id AS token_id, {} FROM doorman_token t \
                 JOIN auth_user u ON u.id = t.user_id WHERE t.digest = $1",
                user_columns_of("u")
            )
        });
        let row: Option<TokenUserRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str()))
            .bind(digest)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(|r| (r.token_id, r.user.split().0)))
    }

    /// The user holding DRF token `key` (`authtoken_token`, which must
    /// exist).
    pub(super) async fn find_user_by_drf_key(&self, key: &str) -> Result<Option<User>, StoreError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {} FROM authtoken_token t \
                 JOIN auth_user u ON u.id = t.user_id WHERE t.key = $1",
                user_columns_of("u")
            )
        });
        let row: Option<UserRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str()))
            .bind(key)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(|r| r.split().0))
    }

    /// Up to `limit` usable password hashes, for learning what checking
    /// each kind costs (no user is named).
    pub async fn sample_password_hashes(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT password FROM auth_user WHERE password NOT LIKE '!%' LIMIT $1";
        let rows: Vec<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(limit).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(h,)| h).collect())
    }

    /// The user and hash by id.
    pub async fn find_credentials_by_id(
        &self,
        id: i32,
    ) -> Result<Option<(User, String)>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM auth_user WHERE id = $1"
        ));
        let row: Option<UserRow> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        Ok(row.map(UserRow::split))
    }

    /// Users whose e-mail equals `email` ignoring case, with their hashes,
    /// lowest id first.
    pub async fn find_credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Vec<(User, String)>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM auth_user WHERE email <> '' AND lower(email) = lower($1) ORDER BY id"
        ));
        let rows: Vec<UserRow> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(email).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(UserRow::split).collect())
    }

    /// Whether another user (not `except`) has this username, or this
    /// e-mail ignoring case.
    pub async fn username_taken(
        &self,
        username: &str,
        except: Option<i32>,
    ) -> Result<bool, StoreError> {
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT count(*) FROM auth_user WHERE username = $1 AND id <> $2",
        )
        .bind(username)
        .bind(except.unwrap_or(0))
        .fetch_one(pool)
        .await)?;
        Ok(n > 0)
    }

    pub async fn email_taken(&self, email: &str, except: Option<i32>) -> Result<bool, StoreError> {
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT count(*) FROM auth_user WHERE email <> '' AND lower(email) = lower($1) AND id <> $2",
        )
        .bind(email)
        .bind(except.unwrap_or(0))
        .fetch_one(pool)
        .await)?;
        Ok(n > 0)
    }

    /// Every user, by id.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM auth_user ORDER BY id"));
        let rows: Vec<UserRow> = on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|r| r.split().0).collect())
    }

    pub async fn set_last_login(&self, id: i32, at: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.set_last_login(id, at).await?;
        tx.commit().await
    }
}

impl Tx {
    /// Applies `changes` to user `id`; a taken username or e-mail becomes
    /// `StoreError::Conflict`.
    pub async fn update_user(&mut self, id: i32, changes: &UserChanges) -> Result<(), StoreError> {
        self.touch_users();
        on_tx!(self, conn => sqlx::query(
            "UPDATE auth_user SET username = COALESCE($2, username), email = COALESCE($3, email), \
             first_name = COALESCE($4, first_name), last_name = COALESCE($5, last_name), \
             is_active = COALESCE($6, is_active) WHERE id = $1",
        )
        .bind(id)
        .bind(&changes.username)
        .bind(&changes.email)
        .bind(&changes.first_name)
        .bind(&changes.last_name)
        .bind(changes.is_active)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(|e| map_unique(e, &["username", "email"]))?;
        Ok(())
    }

    /// Writes a new hash; whether the user exists.
    pub async fn set_password_hash(&mut self, id: i32, encoded: &str) -> Result<bool, StoreError> {
        self.touch_users();
        let n = on_tx!(self, conn => sqlx::query("UPDATE auth_user SET password = $1 WHERE id = $2")
            .bind(encoded)
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Writes a new hash only if the stored one is still `old`: one
    /// conditional write decides between concurrent uses of a reset link
    /// (made from the old hash). Whether it wrote.
    pub async fn replace_password_hash(
        &mut self,
        id: i32,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        self.touch_users();
        let n = on_tx!(self, conn => sqlx::query(
            "UPDATE auth_user SET password = $1 WHERE id = $2 AND password = $3",
        )
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn set_last_login(&mut self, id: i32, at: Timestamp) -> Result<(), StoreError> {
        self.touch_users();
        on_tx!(self, conn => sqlx::query("UPDATE auth_user SET last_login = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Inserts a user (see `Store::insert_user`) inside this transaction.
    pub async fn insert_user(
        &mut self,
        new: &NewUser,
        email: &str,
        encoded_password: &str,
    ) -> Result<User, StoreError> {
        self.touch_users();
        let joined = Timestamp::now();
        let id: (i32,) = on_tx!(self, conn => sqlx::query_as(INSERT_USER)
            .bind(encoded_password)
            .bind(new.is_superuser)
            .bind(new.username.as_str())
            .bind(&new.first_name)
            .bind(&new.last_name)
            .bind(email)
            .bind(new.is_staff)
            .bind(new.is_active)
            .bind(joined)
            .fetch_one(conn)
            .await)
        .map_err(|e| map_unique(e, &["username", "email"]))?;
        Ok(new_user_record(id.0, new, email, joined))
    }

    /// Deletes a user and the rows that point at it: those of the tables
    /// doorman knows go first (`release_references`), a row of any other
    /// app's table refuses the delete (`Referenced`); doorman's own tables
    /// cascade.
    pub async fn delete_user(&mut self, id: i32) -> Result<bool, StoreError> {
        self.touch_users();
        let mut rules = super::USER_RULES.to_vec();
        rules.extend(self.tables.user_rules());
        self.release_references("auth_user", "id", id, &rules)
            .await?;
        let n = on_tx!(self, conn => sqlx::query("DELETE FROM auth_user WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(super::foreign_key_error)?;
        Ok(n == 1)
    }
}

/// `USER_COLUMNS` qualified by `alias`, for joins.
fn user_columns_of(alias: &str) -> String {
    USER_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
