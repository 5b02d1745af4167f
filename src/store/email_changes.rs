//! `doorman_email_change`: e-mail changes waiting for the new address to
//! confirm them. A link is good once: using it is one conditional UPDATE
//! whose row count decides, so two clicks (or two nodes) cannot both apply.

use super::{Store, StoreError, Timestamp, Tx, on_pool, on_tx};

/// A waiting e-mail change, as its link finds it.
#[derive(Debug, Clone)]
pub struct EmailChangeRow {
    pub id: i32,
    pub user_id: i32,
    pub new_email: String,
    pub expires_at: Timestamp,
    pub used: bool,
}

impl Store {
    /// The change a link's token (by digest) names.
    pub async fn email_change(&self, digest: &str) -> Result<Option<EmailChangeRow>, StoreError> {
        let row: Option<(i32, i32, String, Timestamp, Option<Timestamp>)> = on_pool!(self, pool => sqlx::query_as(
                "SELECT id, user_id, new_email, expires_at, used_at FROM doorman_email_change \
                 WHERE token_digest = $1",
            )
            .bind(digest)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(
            |(id, user_id, new_email, expires_at, used_at)| EmailChangeRow {
                id,
                user_id,
                new_email,
                expires_at,
                used: used_at.is_some(),
            },
        ))
    }

    /// Forgets changes whose links have expired; returns how many.
    pub async fn purge_email_changes(&self) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query(
            "DELETE FROM doorman_email_change WHERE expires_at <= $1",
        )
        .bind(Timestamp::now())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }
}

impl Tx {
    /// A new waiting change for `user_id`; any earlier one of the user's
    /// stops working (only the latest link applies).
    pub async fn replace_email_change(
        &mut self,
        user_id: i32,
        new_email: &str,
        digest: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.drop_email_changes(user_id).await?;
        on_tx!(self, conn => sqlx::query(
            "INSERT INTO doorman_email_change (user_id, new_email, token_digest, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(new_email)
        .bind(digest)
        .bind(Timestamp::now())
        .bind(expires_at)
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Marks a waiting change used; `false` when it was used, expired or
    /// gone by now.
    pub async fn use_email_change(&mut self, id: i32) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        Ok(on_tx!(self, conn => sqlx::query(
            "UPDATE doorman_email_change SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
             AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected() == 1))?)
    }

    /// Every waiting change of the user ends.
    pub async fn drop_email_changes(&mut self, user_id: i32) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(
            "DELETE FROM doorman_email_change WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}
