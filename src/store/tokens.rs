//! Credentials that outlive a request: opaque API tokens (only their
//! SHA-256 digests are stored), the per-user `tokens_valid_after` cut-off
//! that retires every JWT issued before it, and the denylist of refresh
//! tokens logged out one by one.

use super::{Store, StoreError, Timestamp, Tx, on_pool, on_tx};
use crate::model::User;

impl Tx {
    pub async fn insert_token(
        &mut self,
        user_id: i32,
        digest: &str,
        label: &str,
    ) -> Result<i32, StoreError> {
        let (id,): (i32,) = on_tx!(self, conn => sqlx::query_as(
            "INSERT INTO doorman_token (digest, user_id, label, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(digest)
        .bind(user_id)
        .bind(label)
        .bind(Timestamp::now())
        .fetch_one(conn)
        .await)?;
        Ok(id)
    }

    /// Removes every opaque token of the user; returns how many.
    pub async fn delete_user_tokens(
        &mut self,
        user_id: i32,
        except: Option<i32>,
    ) -> Result<u64, StoreError> {
        Ok(on_tx!(self, conn => sqlx::query(
            "DELETE FROM doorman_token WHERE user_id = $1 AND id <> $2",
        )
        .bind(user_id)
        .bind(except.unwrap_or(0))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// JWTs of this user issued before `at` are refused from now on.
    pub async fn set_tokens_valid_after(
        &mut self,
        user_id: i32,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.touch_users();
        on_tx!(self, conn => sqlx::query(
            "INSERT INTO doorman_user_security (user_id, tokens_valid_after) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET tokens_valid_after = excluded.tokens_valid_after",
        )
        .bind(user_id)
        .bind(at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Store {
    pub async fn insert_token(
        &self,
        user_id: i32,
        digest: &str,
        label: &str,
    ) -> Result<i32, StoreError> {
        let mut tx = self.begin().await?;
        let id = tx.insert_token(user_id, digest, label).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The token's id and its user, by digest, in one round trip: this
    /// runs on every request authenticated with `Token`.
    pub async fn find_token(&self, digest: &str) -> Result<Option<(i32, User)>, StoreError> {
        self.find_user_by_token_digest(digest).await
    }

    pub async fn delete_token(&self, id: i32) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM doorman_token WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn tokens_valid_after(&self, user_id: i32) -> Result<Option<Timestamp>, StoreError> {
        let row: Option<(Timestamp,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT tokens_valid_after FROM doorman_user_security WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(t,)| t))
    }

    /// Denies one refresh token (by `jti`) until it would have expired.
    pub async fn deny_jti(
        &self,
        jti: &str,
        user_id: Option<i32>,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO doorman_jwt_denylist (jti, user_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(user_id)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn is_jti_denied(&self, jti: &str) -> Result<bool, StoreError> {
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT 1 FROM doorman_jwt_denylist WHERE jti = $1",
        )
        .bind(jti)
        .fetch_optional(pool)
        .await)?;
        Ok(row.is_some())
    }

    /// Forgets denylist entries whose tokens have expired anyway.
    pub async fn purge_denylist(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query("DELETE FROM doorman_jwt_denylist WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
        )
    }
}
