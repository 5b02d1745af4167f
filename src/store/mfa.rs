//! Second factors: `doorman_totp`, `doorman_recovery_code` and the logins
//! waiting for a factor (`doorman_mfa_challenge`). Every "at most once"
//! rule is one conditional UPDATE whose row count decides, so it holds
//! across nodes on both backends without locks.

use super::{Store, StoreError, Timestamp, Tx, on_pool, on_tx};

/// A user's authenticator-app secret, confirmed or being set up.
#[derive(Debug, Clone)]
pub struct TotpRow {
    pub secret: String,
    pub created_at: Timestamp,
    /// A setup in progress dies then; `None` once confirmed.
    pub expires_at: Option<Timestamp>,
    pub confirmed_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// Wrong codes in a row, and when the next try may come.
    pub failures: i32,
    pub next_try_at: Option<Timestamp>,
}

/// One recovery code as stored.
#[derive(Debug, Clone)]
pub struct RecoveryCodeRow {
    pub id: i32,
    pub code_hash: String,
    pub used: bool,
}

/// A login waiting for its second factor.
#[derive(Debug, Clone)]
pub struct ChallengeRow {
    pub id: i32,
    pub user_id: i32,
    pub issue: String,
    pub attempts: i32,
    pub expires_at: Timestamp,
    pub consumed: bool,
}

type TotpTuple = (
    String,
    Timestamp,
    Option<Timestamp>,
    Option<Timestamp>,
    Option<Timestamp>,
    i32,
    Option<Timestamp>,
);

impl Store {
    pub async fn totp(&self, user_id: i32) -> Result<Option<TotpRow>, StoreError> {
        let row: Option<TotpTuple> = on_pool!(self, pool => sqlx::query_as(
            "SELECT secret, created_at, expires_at, confirmed_at, last_used_at, failures, \
             next_try_at FROM doorman_totp WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(
            |(
                secret,
                created_at,
                expires_at,
                confirmed_at,
                last_used_at,
                failures,
                next_try_at,
            )| {
                TotpRow {
                    secret,
                    created_at,
                    expires_at,
                    confirmed_at,
                    last_used_at,
                    failures,
                    next_try_at,
                }
            },
        ))
    }

    /// Whether the user has a confirmed factor: an authenticator app or a
    /// passkey.
    pub async fn has_mfa(&self, user_id: i32) -> Result<bool, StoreError> {
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM doorman_totp WHERE user_id = $1 \
             AND confirmed_at IS NOT NULL) OR EXISTS (SELECT 1 FROM doorman_webauthn_credential \
             WHERE user_id = $1)",
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
        Ok(row.is_some())
    }

    /// Starts (or restarts) a setup with `secret`, unless a confirmed
    /// secret is there; `false` then.
    pub async fn begin_totp(
        &self,
        user_id: i32,
        secret: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let written = on_pool!(self, pool => sqlx::query(
            "INSERT INTO doorman_totp (user_id, secret, created_at, expires_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, \
             created_at = excluded.created_at, expires_at = excluded.expires_at, \
             last_step = -1, last_used_at = NULL, failures = 0, next_try_at = NULL \
             WHERE doorman_totp.confirmed_at IS NULL",
        )
        .bind(user_id)
        .bind(secret)
        .bind(now)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(written == 1)
    }

    /// Books a try with a code before it is checked: the failure count
    /// goes from `seen` to `seen + 1` and the next try must wait until
    /// `next_try_at`. `false` when the row moved on meanwhile (a racing
    /// try booked first) or a wait is not over: one try at a time per
    /// user, on every node.
    pub async fn book_code_try(
        &self,
        user_id: i32,
        seen: i32,
        next_try_at: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let booked = on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_totp SET failures = failures + 1, next_try_at = $1 \
             WHERE user_id = $2 AND failures = $3 AND (next_try_at IS NULL OR next_try_at <= $4)",
        )
        .bind(next_try_at)
        .bind(user_id)
        .bind(seen)
        .bind(Timestamp::now())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(booked == 1)
    }

    /// A right code: the count of wrong ones starts again.
    pub async fn clear_code_failures(&self, user_id: i32) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_totp SET failures = 0, next_try_at = NULL WHERE user_id = $1",
        )
        .bind(user_id)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Accepts time step `step` of the user's confirmed secret if no
    /// later or equal step was accepted before.
    pub async fn take_totp_step(&self, user_id: i32, step: i64) -> Result<bool, StoreError> {
        let taken = on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_totp SET last_step = $1, last_used_at = $2 \
             WHERE user_id = $3 AND confirmed_at IS NOT NULL AND last_step < $1",
        )
        .bind(step)
        .bind(Timestamp::now())
        .bind(user_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(taken == 1)
    }

    pub async fn recovery_codes(&self, user_id: i32) -> Result<Vec<RecoveryCodeRow>, StoreError> {
        let rows: Vec<(i32, String, Option<Timestamp>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, code_hash, used_at FROM doorman_recovery_code WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, code_hash, used_at)| RecoveryCodeRow {
                id,
                code_hash,
                used: used_at.is_some(),
            })
            .collect())
    }

    /// Uses recovery code `id` of the user; `false` when it was used.
    pub async fn use_recovery_code(&self, user_id: i32, id: i32) -> Result<bool, StoreError> {
        let used = on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_recovery_code SET used_at = $1 \
             WHERE id = $2 AND user_id = $3 AND used_at IS NULL",
        )
        .bind(Timestamp::now())
        .bind(id)
        .bind(user_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(used == 1)
    }

    pub async fn insert_challenge(
        &self,
        digest: &str,
        user_id: i32,
        issue: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO doorman_mfa_challenge (token_digest, user_id, issue, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(digest)
        .bind(user_id)
        .bind(issue)
        .bind(Timestamp::now())
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn challenge(&self, digest: &str) -> Result<Option<ChallengeRow>, StoreError> {
        let row: Option<(i32, i32, String, i32, Timestamp, Option<Timestamp>)> = on_pool!(self, pool => sqlx::query_as(
                "SELECT id, user_id, issue, attempts, expires_at, consumed_at \
                 FROM doorman_mfa_challenge WHERE token_digest = $1",
            )
            .bind(digest)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(
            |(id, user_id, issue, attempts, expires_at, consumed_at)| ChallengeRow {
                id,
                user_id,
                issue,
                attempts,
                expires_at,
                consumed: consumed_at.is_some(),
            },
        ))
    }

    /// Books a try at a challenge before its code is checked: `false` when
    /// it is used, expired or has had `max_attempts` tries, so parallel
    /// requests cannot each get a guess past the limit.
    pub async fn book_challenge_try(&self, id: i32, max_attempts: i32) -> Result<bool, StoreError> {
        let booked = on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_mfa_challenge SET attempts = attempts + 1 \
             WHERE id = $1 AND consumed_at IS NULL AND attempts < $2 AND expires_at > $3",
        )
        .bind(id)
        .bind(max_attempts)
        .bind(Timestamp::now())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(booked == 1)
    }

    /// Uses a challenge up: `true` for the one caller that finds it unused
    /// and alive.
    pub async fn consume_challenge(&self, id: i32) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let consumed = on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_mfa_challenge SET consumed_at = $1 \
             WHERE id = $2 AND consumed_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(consumed == 1)
    }

    /// Forgets challenges and reauthentications that have expired; returns
    /// how many.
    pub async fn purge_challenges(&self) -> Result<u64, StoreError> {
        let mut purged = 0;
        for sql in [
            "DELETE FROM doorman_mfa_challenge WHERE expires_at <= $1",
            "DELETE FROM doorman_reauth WHERE expires_at <= $1",
        ] {
            purged += on_pool!(self, pool => sqlx::query(sql)
                .bind(Timestamp::now())
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(purged)
    }

    /// Records that the holder of `credential` (a digest naming it) proved
    /// again, by `amr`, to be `user_id`, good until `expires_at`; replaces
    /// an earlier record of the same credential.
    pub async fn record_reauth(
        &self,
        credential: &str,
        user_id: i32,
        amr: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO doorman_reauth (credential, user_id, amr, at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential) DO UPDATE SET \
             user_id = excluded.user_id, amr = excluded.amr, at = excluded.at, \
             expires_at = excluded.expires_at",
        )
        .bind(credential)
        .bind(user_id)
        .bind(amr)
        .bind(Timestamp::now())
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The live reauthentication of `credential` for `user_id`: when, and
    /// by what.
    pub async fn reauth(
        &self,
        credential: &str,
        user_id: i32,
    ) -> Result<Option<(Timestamp, String)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT at, amr FROM doorman_reauth WHERE credential = $1 AND user_id = $2 \
             AND expires_at > $3",
        )
        .bind(credential)
        .bind(user_id)
        .bind(Timestamp::now())
        .fetch_optional(pool)
        .await)?)
    }
}

impl Tx {
    /// Confirms the setup in progress with its first accepted step; `false`
    /// when there is none alive (expired, confirmed already, or replaced
    /// by a setup with another secret since it was read).
    pub async fn confirm_totp(
        &mut self,
        user_id: i32,
        secret: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let confirmed = on_tx!(self, conn => sqlx::query(
            "UPDATE doorman_totp SET confirmed_at = $1, last_step = $2, last_used_at = $1, \
             expires_at = NULL, failures = 0, next_try_at = NULL \
             WHERE user_id = $3 AND confirmed_at IS NULL AND expires_at > $1 AND secret = $4",
        )
        .bind(now)
        .bind(step)
        .bind(user_id)
        .bind(secret)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(confirmed == 1)
    }

    /// Removes the user's authenticator-app secret; whether there was one
    /// confirmed.
    pub async fn delete_totp(&mut self, user_id: i32) -> Result<bool, StoreError> {
        let row: Option<(Option<Timestamp>,)> = on_tx!(self, conn => sqlx::query_as(
            "DELETE FROM doorman_totp WHERE user_id = $1 RETURNING confirmed_at",
        )
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(matches!(row, Some((Some(_),))))
    }

    /// Makes `hashes` the user's whole set of recovery codes.
    pub async fn replace_recovery_codes(
        &mut self,
        user_id: i32,
        hashes: &[String],
    ) -> Result<(), StoreError> {
        self.delete_recovery_codes(user_id).await?;
        let now = Timestamp::now();
        for hash in hashes {
            on_tx!(self, conn => sqlx::query(
                "INSERT INTO doorman_recovery_code (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(hash)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        }
        Ok(())
    }

    pub async fn delete_recovery_codes(&mut self, user_id: i32) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query("DELETE FROM doorman_recovery_code WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Ends every login of the user still waiting for a factor, and every
    /// reauthentication: the credentials they were for are being revoked
    /// or the factors they proved have changed.
    pub async fn drop_challenges(&mut self, user_id: i32) -> Result<(), StoreError> {
        for sql in [
            "DELETE FROM doorman_mfa_challenge WHERE user_id = $1",
            "DELETE FROM doorman_reauth WHERE user_id = $1",
        ] {
            on_tx!(self, conn => sqlx::query(sql)
                .bind(user_id)
                .execute(&mut *conn)
                .await
                .map(|_| ()))?;
        }
        Ok(())
    }
}
