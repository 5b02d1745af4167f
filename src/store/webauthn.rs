//! Passkeys: `doorman_webauthn_credential` (each credential as webauthn-rs
//! serialises it), `doorman_webauthn_user` (the random user handle) and
//! `doorman_webauthn_ceremony` (ceremonies in progress, finished once by a
//! conditional UPDATE, on any node).

use super::{Store, StoreError, Timestamp, Tx, on_pool, on_tx};

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub id: i32,
    pub user_id: i32,
    pub name: String,
    /// webauthn-rs's `Passkey` as JSON.
    pub passkey: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A ceremony in progress.
#[derive(Debug, Clone)]
pub struct CeremonyRow {
    pub id: i32,
    pub purpose: String,
    pub user_id: Option<i32>,
    pub issue: String,
    /// webauthn-rs's ceremony state as JSON.
    pub state: String,
    pub expires_at: Timestamp,
    pub consumed: bool,
}

type CeremonyTuple = (
    i32,
    String,
    Option<i32>,
    String,
    String,
    Timestamp,
    Option<Timestamp>,
);

type PasskeyTuple = (i32, i32, String, String, Timestamp, Option<Timestamp>);

fn passkey_row((id, user_id, name, passkey, created_at, last_used_at): PasskeyTuple) -> PasskeyRow {
    PasskeyRow {
        id,
        user_id,
        name,
        passkey,
        created_at,
        last_used_at,
    }
}

impl Store {
    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: i32) -> Result<Vec<PasskeyRow>, StoreError> {
        let rows: Vec<PasskeyTuple> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id, name, passkey, created_at, last_used_at \
             FROM doorman_webauthn_credential WHERE user_id = $1 ORDER BY id",
        )
            .bind(user_id)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(passkey_row).collect())
    }

    /// The passkey with this credential id (base64url).
    pub async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<PasskeyRow>, StoreError> {
        let row: Option<PasskeyTuple> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id, name, passkey, created_at, last_used_at \
             FROM doorman_webauthn_credential WHERE credential_id = $1",
        )
            .bind(credential_id)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(passkey_row))
    }

    /// The user whose WebAuthn handle this is.
    pub async fn user_of_handle(&self, handle: &str) -> Result<Option<i32>, StoreError> {
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT user_id FROM doorman_webauthn_user WHERE handle = $1",
        )
        .bind(handle)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(id,)| id))
    }

    /// The user's WebAuthn handle, made (from `fresh`) on first use.
    pub async fn webauthn_handle(&self, user_id: i32, fresh: &str) -> Result<String, StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO doorman_webauthn_user (user_id, handle) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(fresh)
        .execute(pool)
        .await
        .map(|_| ()))?;
        let (handle,): (String,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT handle FROM doorman_webauthn_user WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(pool)
        .await)?;
        Ok(handle)
    }

    /// Renames one of the user's passkeys; `false` when it is not theirs.
    pub async fn rename_passkey(
        &self,
        user_id: i32,
        id: i32,
        name: &str,
    ) -> Result<bool, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_webauthn_credential SET name = $3 WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user_id)
        .bind(name)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))?)
    }

    /// After a login: the passkey's new state (its counter) and when.
    pub async fn touch_passkey(&self, id: i32, passkey: Option<&str>) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_webauthn_credential SET last_used_at = $2, \
             passkey = COALESCE($3, passkey) WHERE id = $1",
        )
        .bind(id)
        .bind(Timestamp::now())
        .bind(passkey)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// A new ceremony under token `digest`, replacing one with the same
    /// digest (the digest of a registration names its user, that of a
    /// second-factor login its waiting login, so each has one at a time).
    pub async fn insert_ceremony(
        &self,
        digest: &str,
        purpose: &str,
        user_id: Option<i32>,
        issue: &str,
        state: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(tx, conn => sqlx::query("DELETE FROM doorman_webauthn_ceremony WHERE token_digest = $1")
            .bind(digest)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO doorman_webauthn_ceremony (token_digest, purpose, user_id, issue, state, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(digest)
        .bind(purpose)
        .bind(user_id)
        .bind(issue)
        .bind(state)
        .bind(Timestamp::now())
        .bind(expires_at)
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
        tx.commit().await?;
        Ok(())
    }

    /// The ceremony a token (by digest) names.
    pub async fn ceremony(&self, digest: &str) -> Result<Option<CeremonyRow>, StoreError> {
        let row: Option<CeremonyTuple> = on_pool!(self, pool => sqlx::query_as(
                "SELECT id, purpose, user_id, issue, state, expires_at, consumed_at \
                 FROM doorman_webauthn_ceremony WHERE token_digest = $1",
            )
            .bind(digest)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(
            |(id, purpose, user_id, issue, state, expires_at, consumed_at)| CeremonyRow {
                id,
                purpose,
                user_id,
                issue,
                state,
                expires_at,
                consumed: consumed_at.is_some(),
            },
        ))
    }

    /// Finishes a ceremony; `false` when it was finished or has expired.
    pub async fn consume_ceremony(&self, id: i32) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        Ok(on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_webauthn_ceremony SET consumed_at = $2 WHERE id = $1 \
             AND consumed_at IS NULL AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))?)
    }

    /// Forgets ceremonies that have expired; returns how many.
    pub async fn purge_ceremonies(&self) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query(
            "DELETE FROM doorman_webauthn_ceremony WHERE expires_at <= $1",
        )
        .bind(Timestamp::now())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }
}

impl Tx {
    /// Stores a new passkey; a credential id stored already is a conflict.
    pub async fn insert_passkey(
        &mut self,
        user_id: i32,
        credential_id: &str,
        name: &str,
        passkey: &str,
    ) -> Result<i32, StoreError> {
        let (id,): (i32,) = on_tx!(self, conn => sqlx::query_as(
            "INSERT INTO doorman_webauthn_credential (user_id, credential_id, name, passkey, \
             created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(credential_id)
        .bind(name)
        .bind(passkey)
        .bind(Timestamp::now())
        .fetch_one(&mut *conn)
        .await)?;
        Ok(id)
    }

    /// Deletes one of the user's passkeys; `false` when it is not theirs.
    pub async fn delete_passkey(&mut self, user_id: i32, id: i32) -> Result<bool, StoreError> {
        Ok(on_tx!(self, conn => sqlx::query(
            "DELETE FROM doorman_webauthn_credential WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected() == 1))?)
    }

    /// Deletes every passkey of the user; whether there was one.
    pub async fn delete_passkeys(&mut self, user_id: i32) -> Result<bool, StoreError> {
        Ok(on_tx!(self, conn => sqlx::query(
            "DELETE FROM doorman_webauthn_credential WHERE user_id = $1",
        )
        .bind(user_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected() > 0))?)
    }

    /// Whether the user still has a factor (inside a change that may have
    /// removed one).
    pub async fn has_factor(&mut self, user_id: i32) -> Result<bool, StoreError> {
        let row: Option<(i32,)> = on_tx!(self, conn => sqlx::query_as(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM doorman_totp WHERE user_id = $1 \
             AND confirmed_at IS NOT NULL) OR EXISTS (SELECT 1 FROM doorman_webauthn_credential \
             WHERE user_id = $1)",
        )
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(row.is_some())
    }
}
