//! Credentials that outlive a request: opaque API tokens (only their
//! SHA-256 digests are stored), the keys of DRF's `authtoken_token` in a
//! database shared with Django (stored in clear by DRF, read and deleted
//! here, never written), the per-user `tokens_valid_after` cut-off that
//! retires every JWT issued before it, and the denylist of refresh tokens
//! logged out one by one.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use super::{Store, StoreError, Timestamp, Tx, on_pool, on_tx};
use crate::model::User;

/// DRF's token table.
const DRF_TOKENS: &str = "authtoken_token";
/// simplejwt's blacklist app: `blacklistedtoken.token_id` points at the
/// `outstandingtoken` row holding the `jti`.
const JWT_BLACKLIST: &str = "token_blacklist_blacklistedtoken";

/// Which opaque token authenticated a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    /// A row of `doorman_token`, by id.
    Own(i32),
    /// A row of DRF's `authtoken_token`, by its key (DRF stores keys in
    /// clear): a logout deletes that very key, not whichever the user
    /// holds by then.
    Drf { key: String },
}

/// Whether a table exists, asked again at most once a minute: DRF's token
/// table may be added by Django's `migrate` while doorman runs, and asking
/// on every unknown key would cost a catalog query each.
#[derive(Default)]
pub(crate) struct Presence {
    checked: Mutex<Option<(Instant, bool)>>,
}

const PRESENCE_TTL: Duration = Duration::from_secs(60);

impl Presence {
    fn known(&self) -> Option<bool> {
        let checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        checked.and_then(|(at, present)| (at.elapsed() < PRESENCE_TTL).then_some(present))
    }

    fn set(&self, present: bool) {
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), present));
    }
}

/// A query answering one row if table `$1` exists.
fn table_exists_sql(backend: super::Backend) -> &'static str {
    match backend {
        super::Backend::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1",
        super::Backend::Postgres => "SELECT 1 WHERE to_regclass($1) IS NOT NULL",
    }
}

impl Tx {
    /// A new opaque token; `auth_time` and `amr` say how its login proved
    /// who the user is.
    pub async fn insert_token(
        &mut self,
        user_id: i32,
        digest: &str,
        label: &str,
        auth_time: Timestamp,
        amr: &str,
    ) -> Result<i32, StoreError> {
        let (id,): (i32,) = on_tx!(self, conn => sqlx::query_as(
            "INSERT INTO doorman_token (digest, user_id, label, created_at, auth_time, amr) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(digest)
        .bind(user_id)
        .bind(label)
        .bind(Timestamp::now())
        .bind(auth_time)
        .bind(amr)
        .fetch_one(conn)
        .await)?;
        Ok(id)
    }

    /// Removes every opaque token of the user but `except` — doorman's and,
    /// in a database shared with Django, the user's DRF token; returns how
    /// many.
    pub async fn delete_user_tokens(
        &mut self,
        user_id: i32,
        except: Option<&TokenRef>,
    ) -> Result<u64, StoreError> {
        // Tokens are cached with the users (`user_cache`).
        self.touch_users();
        let (keep, keep_key) = match except {
            Some(TokenRef::Own(id)) => (*id, ""),
            Some(TokenRef::Drf { key }) => (0, key.as_str()),
            None => (0, ""),
        };
        let mut n = on_tx!(self, conn => sqlx::query(
            "DELETE FROM doorman_token WHERE user_id = $1 AND id <> $2",
        )
        .bind(user_id)
        .bind(keep)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        if self.table_exists(DRF_TOKENS).await? {
            n += on_tx!(self, conn => sqlx::query(
                "DELETE FROM authtoken_token WHERE user_id = $1 AND key <> $2",
            )
                .bind(user_id)
                .bind(keep_key)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(n)
    }

    async fn table_exists(&mut self, table: &str) -> Result<bool, StoreError> {
        let sql = table_exists_sql(self.backend());
        let found: Option<(i32,)> = on_tx!(self, conn => sqlx::query_as(sql)
            .bind(table)
            .fetch_optional(conn)
            .await)?;
        Ok(found.is_some())
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
        auth_time: Timestamp,
        amr: &str,
    ) -> Result<i32, StoreError> {
        let mut tx = self.begin().await?;
        let id = tx
            .insert_token(user_id, digest, label, auth_time, amr)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// How the login of one of doorman's opaque tokens proved who the user
    /// is: `auth_time` (none for tokens made before it was kept) and `amr`.
    pub async fn token_sign_in(
        &self,
        id: i32,
    ) -> Result<Option<(Option<Timestamp>, String)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT auth_time, amr FROM doorman_token WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// The token a key is and its user: this runs on every request
    /// authenticated with `Token`. A key checked lately is answered from
    /// memory (`user_cache`); otherwise doorman's tokens are looked up by
    /// the key's digest and then, in a database shared with Django, DRF's
    /// by the key itself (an indexed equality, as DRF looks them up).
    pub async fn find_token(
        &self,
        key: &str,
        digest: &str,
    ) -> Result<Option<(TokenRef, User)>, StoreError> {
        if let Some((token, user_id)) = self.user_cache.get_token(digest)
            && let Some((user, _)) = self.find_user_with_cutoff(user_id).await?
        {
            return Ok(Some((token, user)));
        }
        let generation = self.user_cache.generation();
        if let Some((id, user)) = self.find_user_by_token_digest(digest).await? {
            let token = TokenRef::Own(id);
            self.user_cache
                .put_token(generation, digest, token.clone(), user.id);
            return Ok(Some((token, user)));
        }
        if !self.drf_tokens_present().await? {
            return Ok(None);
        }
        let Some(user) = self.find_user_by_drf_key(key).await? else {
            return Ok(None);
        };
        let token = TokenRef::Drf {
            key: key.to_string(),
        };
        self.user_cache
            .put_token(generation, digest, token.clone(), user.id);
        Ok(Some((token, user)))
    }

    async fn drf_tokens_present(&self) -> Result<bool, StoreError> {
        self.present(&self.drf_tokens, DRF_TOKENS).await
    }

    async fn present(&self, presence: &Presence, table: &str) -> Result<bool, StoreError> {
        if let Some(present) = presence.known() {
            return Ok(present);
        }
        let sql = table_exists_sql(self.backend());
        let found: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(table)
            .fetch_optional(pool)
            .await)?;
        presence.set(found.is_some());
        Ok(found.is_some())
    }

    /// Deletes one opaque token of `user_id`.
    pub async fn delete_token(&self, user_id: i32, token: &TokenRef) -> Result<(), StoreError> {
        match token {
            TokenRef::Own(id) => on_pool!(self, pool => sqlx::query(
                "DELETE FROM doorman_token WHERE id = $1 AND user_id = $2",
            )
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
            TokenRef::Drf { key } => on_pool!(self, pool => sqlx::query(
                "DELETE FROM authtoken_token WHERE key = $1 AND user_id = $2",
            )
            .bind(key)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
        };
        self.user_cache.invalidate();
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

    /// Denies one refresh token (by `jti`) until it would have expired. In
    /// a database shared with Django whose simplejwt has its blacklist app,
    /// the token is blacklisted there too, as simplejwt's `blacklist()`
    /// records it (an outstanding row, made if missing, and its blacklist
    /// entry), so Django refuses it as well. The outstanding row's `token`
    /// is left empty: doorman keeps no copy of a refresh token.
    pub async fn deny_jti(
        &self,
        jti: &str,
        user_id: Option<i32>,
        issued_at: Option<Timestamp>,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let django = self.present(&self.jwt_blacklist, JWT_BLACKLIST).await?;
        let mut tx = self.begin().await?;
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO doorman_jwt_denylist (jti, user_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(user_id)
        .bind(expires_at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        if django {
            // The owner only if the user still exists (the column is a
            // foreign key, checked at commit).
            on_tx!(tx, conn => sqlx::query(
                "INSERT INTO token_blacklist_outstandingtoken (user_id, jti, token, created_at, expires_at) \
                 VALUES ((SELECT id FROM auth_user WHERE id = $2), $1, '', $3, $4) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(user_id)
            .bind(issued_at)
            .bind(expires_at)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
            on_tx!(tx, conn => sqlx::query(
                "INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at) \
                 SELECT id, $2 FROM token_blacklist_outstandingtoken WHERE jti = $1 \
                 ON CONFLICT (token_id) DO NOTHING",
            )
            .bind(jti)
            .bind(Timestamp::now())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await
    }

    /// Whether a refresh token was denied here or, in a database shared
    /// with Django, blacklisted by simplejwt.
    pub async fn is_jti_denied(&self, jti: &str) -> Result<bool, StoreError> {
        let sql = match self.present(&self.jwt_blacklist, JWT_BLACKLIST).await? {
            false => "SELECT 1 FROM doorman_jwt_denylist WHERE jti = $1",
            true => {
                "SELECT 1 FROM doorman_jwt_denylist WHERE jti = $1 \
                 UNION ALL SELECT 1 FROM token_blacklist_blacklistedtoken b \
                 JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id WHERE o.jti = $1"
            }
        };
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(sql)
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
