//! `doorman_lockout` (the lockouts admins see) and the per-login
//! generation that clearing them bumps.

use super::{Store, StoreError, Timestamp, Tx, on_pool, on_tx};

/// One address at which a user's failed-login budget ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    pub address: String,
    pub locked_until: Timestamp,
    /// Attempts refused while it lasted.
    pub refused: i32,
}

impl Store {
    /// The lockout generation of a login as the budget keys it (0 before
    /// any clearing).
    pub async fn lockout_generation(&self, login: &str) -> Result<i32, StoreError> {
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT generation FROM doorman_login_generation WHERE login = $1",
        )
        .bind(login)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map_or(0, |(g,)| g))
    }

    /// Notes a refused attempt: the lockout at `address` lasts until
    /// `until` (later refusals move it on and count). `true` when this
    /// began a lockout: the first refusal there, or the first since the
    /// last one there ended (its row not yet purged).
    pub async fn record_lockout(
        &self,
        user_id: i32,
        address: &str,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let (refused,): (i32,) = on_pool!(self, pool => sqlx::query_as(
            "INSERT INTO doorman_lockout (user_id, address, locked_until, refused) \
             VALUES ($1, $2, $3, 1) \
             ON CONFLICT (user_id, address) DO UPDATE SET \
             refused = CASE WHEN doorman_lockout.locked_until <= $4 THEN 1 \
                            ELSE doorman_lockout.refused + 1 END, \
             locked_until = excluded.locked_until \
             RETURNING refused",
        )
        .bind(user_id)
        .bind(address)
        .bind(until)
        .bind(Timestamp::now())
        .fetch_one(pool)
        .await)?;
        Ok(refused == 1)
    }

    /// The user's lockouts still in force, the latest-ending first.
    pub async fn lockouts(&self, user_id: i32) -> Result<Vec<Lockout>, StoreError> {
        let rows: Vec<(String, Timestamp, i32)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT address, locked_until, refused FROM doorman_lockout \
             WHERE user_id = $1 AND locked_until > $2 ORDER BY locked_until DESC, address",
        )
        .bind(user_id)
        .bind(Timestamp::now())
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(address, locked_until, refused)| Lockout {
                address,
                locked_until,
                refused,
            })
            .collect())
    }

    /// Forgets lockouts that have ended; returns how many.
    pub async fn purge_lockouts(&self) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query(
            "DELETE FROM doorman_lockout WHERE locked_until <= $1",
        )
        .bind(Timestamp::now())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }
}

impl Tx {
    /// Clears every lockout of the user and moves the failed-login
    /// budgets of `logins` (their names, as the budgets key them) to a new
    /// generation; returns the lockouts that were in force.
    pub async fn clear_lockouts(
        &mut self,
        user_id: i32,
        logins: &[String],
    ) -> Result<u64, StoreError> {
        let cleared = on_tx!(self, conn => sqlx::query(
            "DELETE FROM doorman_lockout WHERE user_id = $1 AND locked_until > $2",
        )
        .bind(user_id)
        .bind(Timestamp::now())
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        on_tx!(self, conn => sqlx::query(
            "DELETE FROM doorman_lockout WHERE user_id = $1",
        )
        .bind(user_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        for login in logins {
            on_tx!(self, conn => sqlx::query(
                "INSERT INTO doorman_login_generation (login, generation) VALUES ($1, 1) \
                 ON CONFLICT (login) DO UPDATE SET generation = doorman_login_generation.generation + 1",
            )
            .bind(login)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(cleared)
    }
}
