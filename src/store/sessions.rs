//! `doorman_session`: the Accounts API's signed-in devices. Each login is a
//! row holding the `jti` of the refresh token currently valid for it and
//! the one it replaced (with when), so rotation can tolerate a racing tab
//! for a moment and treat later reuse of an old token as theft.

use super::{Store, StoreError, Timestamp, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i32,
    pub user_id: i32,
    pub current_jti: String,
    pub previous_jti: Option<String>,
    pub rotated_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub client_addr: String,
    pub user_agent: String,
    pub revoked_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, user_id, current_jti, previous_jti, rotated_at, created_at, last_used_at, \
                       expires_at, client_addr, user_agent, revoked_at";

impl Store {
    pub async fn insert_session(
        &self,
        user_id: i32,
        jti: &str,
        expires_at: Timestamp,
        client_addr: &str,
        user_agent: &str,
        (auth_time, amr): (Timestamp, &str),
    ) -> Result<i32, StoreError> {
        let now = Timestamp::now();
        let (id,): (i32,) = on_pool!(self, pool => sqlx::query_as(
            "INSERT INTO doorman_session (user_id, current_jti, created_at, last_used_at, expires_at, \
             client_addr, user_agent, auth_time, amr) VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8) \
             RETURNING id",
        )
        .bind(user_id)
        .bind(jti)
        .bind(now)
        .bind(expires_at)
        .bind(client_addr)
        .bind(user_agent)
        .bind(auth_time)
        .bind(amr)
        .fetch_one(pool)
        .await)?;
        Ok(id)
    }

    /// The session whose current or previous refresh token is `jti`.
    pub async fn find_session_by_jti(&self, jti: &str) -> Result<Option<SessionRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM doorman_session WHERE current_jti = $1 OR previous_jti = $1"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(jti)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Moves the session on to `to` if its current token is still
    /// `current` (as read); returns whether it did, so two racing refreshes
    /// cannot both rotate.
    pub async fn rotate_session(
        &self,
        id: i32,
        current: &str,
        to: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_session SET previous_jti = current_jti, current_jti = $3, rotated_at = $4, \
             last_used_at = $4, expires_at = $5 \
             WHERE id = $1 AND revoked_at IS NULL AND current_jti = $2",
        )
        .bind(id)
        .bind(current)
        .bind(to)
        .bind(now)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Revokes sessions of a user: one (`Some(id)`), or all but `keep`.
    pub async fn revoke_sessions(
        &self,
        user_id: i32,
        only: Option<i32>,
        keep: Option<i32>,
    ) -> Result<u64, StoreError> {
        let now = Timestamp::now();
        Ok(on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_session SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
             AND ($3 = 0 OR id = $3) AND id <> $4",
        )
        .bind(user_id)
        .bind(now)
        .bind(only.unwrap_or(0))
        .bind(keep.unwrap_or(0))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// The user's live sessions, newest first.
    pub async fn list_sessions(&self, user_id: i32) -> Result<Vec<SessionRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM doorman_session WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 ORDER BY id DESC"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(Timestamp::now())
            .fetch_all(pool)
            .await)?,
        )
    }
}
