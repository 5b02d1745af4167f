//! Signed-in sessions: opaque API tokens (DRF-authtoken style, one per
//! login so several devices can be signed in, stored as SHA-256 digests)
//! and simplejwt-compatible JWTs. Revocation: an opaque token is deleted; a
//! refresh token is denied by its `jti`; "everything of this user" sets the
//! user's `tokens_valid_after`, which retires every JWT issued before it.
//! A JWT's issue instant is read to the millisecond from its `jti` when
//! doorman made it (a UUIDv7); tokens made elsewhere count from the start of
//! their `iat` second, so they are never kept by mistake.

use std::sync::Arc;

use time::OffsetDateTime;

use super::{
    Error,
    audit::{Audit, Event, Kind},
    users::User,
};
pub use crate::security::jwt::SignIn;
use crate::{
    config::JwtSettings,
    security::{
        jwt::{Claims, JwtError, JwtKeys, TokenPair, TokenType},
        opaque,
    },
    store::{SessionRow, Store, Timestamp, TokenRef, Tx},
};

/// Why presented credentials were refused, in the words of the layer that
/// would refuse them in Django (DRF's TokenAuthentication, simplejwt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// DRF: unknown token key.
    InvalidToken,
    /// DRF: the token's user is inactive.
    TokenUserInactive,
    /// simplejwt: the JWT itself is bad (signature, expiry, type, revoked).
    Jwt(JwtError),
    /// simplejwt: the token names no existing user.
    UserNotFound,
    /// simplejwt: the user is inactive.
    UserInactive,
}

/// Why a session operation did not give what was asked: the credentials
/// were refused (rendered as DRF or simplejwt would), or something broke.
#[derive(Debug)]
pub enum AuthError {
    Refused(AuthFailure),
    Failed(Error),
}

impl From<AuthFailure> for AuthError {
    fn from(f: AuthFailure) -> Self {
        AuthError::Refused(f)
    }
}

impl From<Error> for AuthError {
    fn from(e: Error) -> Self {
        AuthError::Failed(e)
    }
}

impl From<crate::store::StoreError> for AuthError {
    fn from(e: crate::store::StoreError) -> Self {
        AuthError::Failed(e.into())
    }
}

/// A caller and how they proved who they are.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
}

#[derive(Debug, Clone)]
pub enum Via {
    /// An opaque token: doorman's (by row id) or DRF's.
    Token(TokenRef),
    /// An access JWT.
    Jwt(Claims),
}

#[derive(Clone)]
pub struct Sessions {
    store: Store,
    keys: Arc<JwtKeys>,
    settings: JwtSettings,
    /// How long a rotated-out refresh token of a login still works.
    reuse_grace_secs: u64,
    audit: Audit,
}

impl Sessions {
    pub fn new(
        store: Store,
        secret_key: &str,
        fallback_keys: &[String],
        settings: JwtSettings,
        reuse_grace_secs: u64,
        audit: Audit,
    ) -> Sessions {
        let keys = JwtKeys::new(
            secret_key,
            settings.access_token_lifetime as i64,
            settings.refresh_token_lifetime as i64,
            settings.leeway,
        )
        .with_fallbacks(fallback_keys);
        Sessions {
            store,
            keys: Arc::new(keys),
            settings,
            reuse_grace_secs,
            audit,
        }
    }

    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    /// A new opaque token for `user`, signed in as `sign_in` says;
    /// returns the key (shown once).
    pub async fn create_token(
        &self,
        user: &User,
        label: &str,
        sign_in: &SignIn,
    ) -> Result<String, Error> {
        let key = opaque::generate_key();
        self.store
            .insert_token(
                user.id,
                &opaque::digest(&key),
                label,
                unix_timestamp(sign_in.auth_time),
                &sign_in.amr_text(),
            )
            .await?;
        Ok(key)
    }

    /// How the caller's credential was signed in: a JWT's claims (only a
    /// second-factor login writes them), an opaque token's row; `None`
    /// when that is not known (a password login's JWT, a DRF token, a
    /// token made before doorman kept it).
    pub async fn sign_in_of(&self, caller: &Caller) -> Result<Option<SignIn>, Error> {
        Ok(match &caller.via {
            Via::Jwt(claims) => claims.sign_in.clone(),
            Via::Token(TokenRef::Own(id)) => {
                self.store.token_sign_in(*id).await?.and_then(|(at, amr)| {
                    at.map(|at| SignIn::from_text(at.0.unix_timestamp(), &amr))
                })
            }
            Via::Token(TokenRef::Drf { .. }) => None,
        })
    }

    /// The active user holding this opaque token.
    pub async fn authenticate_token(&self, key: &str) -> Result<Caller, AuthError> {
        let Some((token, user)) = self.store.find_token(key, &opaque::digest(key)).await? else {
            return Err(AuthFailure::InvalidToken.into());
        };
        if !user.is_active {
            return Err(AuthFailure::TokenUserInactive.into());
        }
        Ok(Caller {
            user,
            via: Via::Token(token),
        })
    }

    /// The active user an access JWT speaks for.
    pub async fn authenticate_access(&self, token: &str) -> Result<Caller, AuthError> {
        let claims = match self.keys.decode_access(token, now()) {
            Ok(c) => c,
            Err(e) => return Err(AuthFailure::Jwt(e).into()),
        };
        let user = self.token_user(&claims).await?;
        Ok(Caller {
            user,
            via: Via::Jwt(claims),
        })
    }

    /// Loads the user a decoded token names, refusing tokens issued before
    /// the user's cut-off.
    async fn token_user(&self, claims: &Claims) -> Result<User, AuthError> {
        let Some(id) = claims.user_pk() else {
            return Err(AuthFailure::UserNotFound.into());
        };
        let Some((user, cutoff)) = self.store.find_user_with_cutoff(id).await? else {
            return Err(AuthFailure::UserNotFound.into());
        };
        if !user.is_active {
            return Err(AuthFailure::UserInactive.into());
        }
        if cutoff.is_some_and(|c| issued_before(&claims.jti, claims.iat, c)) {
            return Err(AuthFailure::Jwt(JwtError::Invalid).into());
        }
        Ok(user)
    }

    async fn issued_before_cutoff(&self, jti: &str, iat: i64, user_id: i32) -> Result<bool, Error> {
        let Some(cutoff) = self.store.tokens_valid_after(user_id).await? else {
            return Ok(false);
        };
        Ok(issued_before(jti, iat, cutoff))
    }

    /// `jwt/create/`: a refresh and an access token. Only a login with a
    /// second factor writes `sign_in` into them; a password login's tokens
    /// stay simplejwt's five claims, byte for byte the shape Django makes.
    pub async fn issue_pair(&self, user: &User, sign_in: &SignIn) -> Result<TokenPair, Error> {
        if self.settings.update_last_login {
            self.store.set_last_login(user.id, Timestamp::now()).await?;
        }
        let carried = sign_in.is_multi_factor().then_some(sign_in);
        Ok(self.keys.issue_pair(user.id, carried, now()))
    }

    /// `jwt/refresh/`: a new access token (and, with rotation, a new refresh
    /// token; the old one is denied when `blacklist_after_rotation`).
    pub async fn refresh(&self, refresh: &str) -> Result<(String, Option<String>), AuthError> {
        let claims = self.live_refresh(refresh).await?;
        let user = self.token_user(&claims).await?;
        if let Some(session) = self.store.find_session_by_jti(&claims.jti).await? {
            // A login of the Accounts API: its rules hold here too.
            self.check_session(&claims, &user, &session).await?;
            if !self.settings.rotate_refresh_tokens {
                let (access, _) = self.keys.access_from_refresh(&claims, now());
                return Ok((access, None));
            }
            let pair = self.rotate_in_session(&claims, &user, &session).await?;
            return Ok((pair.access, Some(pair.refresh)));
        }
        let (access, _) = self.keys.access_from_refresh(&claims, now());
        if !self.settings.rotate_refresh_tokens {
            return Ok((access, None));
        }
        if self.settings.blacklist_after_rotation {
            self.deny(&claims).await?;
        }
        let (new_refresh, _) = self
            .keys
            .issue_refresh(user.id, claims.sign_in.as_ref(), now());
        Ok((access, Some(new_refresh)))
    }

    /// A refresh token that decodes and is not denied.
    async fn live_refresh(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = match self.keys.decode(token, Some(TokenType::Refresh), now()) {
            Ok(c) => c,
            Err(e) => return Err(AuthFailure::Jwt(e).into()),
        };
        if self.store.is_jti_denied(&claims.jti).await? {
            return Err(AuthFailure::Jwt(JwtError::Blacklisted).into());
        }
        if let Some(session) = self.store.find_session_by_jti(&claims.jti).await?
            && session.revoked_at.is_some()
        {
            return Err(AuthFailure::Jwt(JwtError::Blacklisted).into());
        }
        Ok(claims)
    }

    /// `jwt/verify/`: signature, expiry and `jti`, any token type; a denied
    /// refresh token or one retired by a logout-all is refused too.
    pub async fn verify(&self, token: &str) -> Result<(), AuthError> {
        let verified = match self.keys.verify_claims(token, now()) {
            Ok(v) => v,
            Err(e) => return Err(AuthFailure::Jwt(e).into()),
        };
        if self.store.is_jti_denied(&verified.jti).await? {
            return Err(AuthFailure::Jwt(JwtError::Blacklisted).into());
        }
        if let Some(session) = self.store.find_session_by_jti(&verified.jti).await?
            && (session.revoked_at.is_some()
                || (session.current_jti != verified.jti && !self.within_grace(&session)))
        {
            return Err(AuthFailure::Jwt(JwtError::Blacklisted).into());
        }
        if let (Some(id), Some(iat)) = (verified.user_pk, verified.iat)
            && self.issued_before_cutoff(&verified.jti, iat, id).await?
        {
            return Err(AuthFailure::Jwt(JwtError::Invalid).into());
        }
        Ok(())
    }

    /// `jwt/blacklist/`: that refresh token stops working.
    pub async fn blacklist(&self, refresh: &str) -> Result<(), AuthError> {
        let claims = self.live_refresh(refresh).await?;
        self.deny(&claims).await?;
        let user = claims.user_pk();
        let event = Event::new(Kind::Logout, user, "")
            .by(user)
            .detail("jwt/blacklist: this refresh token");
        self.audit.alone(&self.store, event).await;
        Ok(())
    }

    async fn deny(&self, claims: &Claims) -> Result<(), Error> {
        let expires = OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or_else(|_| now());
        let issued = OffsetDateTime::from_unix_timestamp(claims.iat).ok();
        self.store
            .deny_jti(
                &claims.jti,
                claims.user_pk(),
                issued.map(Timestamp),
                Timestamp(expires),
            )
            .await?;
        Ok(())
    }

    /// Djoser's `token/logout/` with an opaque token: that token (doorman's
    /// or DRF's) of `user` stops working.
    pub async fn logout_token(&self, user: &User, token: &TokenRef) -> Result<(), Error> {
        self.store.delete_token(user.id, token).await?;
        let event = Event::new(Kind::Logout, Some(user.id), &user.username)
            .by(Some(user.id))
            .detail(match token {
                TokenRef::Own(_) => "token/logout: this opaque token",
                TokenRef::Drf { .. } => "token/logout: this DRF token",
            });
        self.audit.alone(&self.store, event).await;
        Ok(())
    }
}

/// Revokes, inside `tx`, every opaque token of the user but `keep`, and
/// every JWT issued until now.
///
/// JWTs carry their issue time to the millisecond, so "until now" means up
/// to and including the current millisecond: the cut-off is the start of
/// the next one. A token issued in the same millisecond as the revocation,
/// before or after it, is therefore revoked (the safe side). With a plain
/// `now` and a strict comparison a token issued just before, in the same
/// millisecond, survived. Once `tx` is committed, call
/// [`Revoked::settle`] before answering, so that every token issued after
/// the answer is past the cut-off.
pub async fn revoke_all(
    tx: &mut Tx,
    user_id: i32,
    keep: Option<&TokenRef>,
) -> Result<Revoked, Error> {
    tx.delete_user_tokens(user_id, keep).await?;
    // Logins waiting for a second factor end too.
    tx.drop_challenges(user_id).await?;
    let now = now();
    let cutoff =
        OffsetDateTime::from_unix_timestamp_nanos((unix_ms(now) + 1) * 1_000_000).unwrap_or(now);
    tx.set_tokens_valid_after(user_id, Timestamp(cutoff))
        .await?;
    Ok(Revoked { cutoff })
}

/// A revocation's cut-off, to wait for after committing.
#[must_use = "call settle() after committing, before answering"]
pub struct Revoked {
    cutoff: OffsetDateTime,
}

impl Revoked {
    /// Returns once the clock has passed the cut-off (at most about a
    /// millisecond; usually at once, as committing takes longer). Waiting
    /// here rather than inside the transaction keeps the database's write
    /// lock short.
    pub async fn settle(self) {
        let wait = self.cutoff - now();
        if wait.is_positive() {
            tokio::time::sleep(wait.unsigned_abs()).await;
        }
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Unix seconds as a stored instant (now, for a value out of range).
fn unix_timestamp(secs: i64) -> Timestamp {
    Timestamp(OffsetDateTime::from_unix_timestamp(secs).unwrap_or_else(|_| now()))
}

impl Caller {
    /// A digest naming the credential this request came with, to key what
    /// is remembered about it (a reauthentication): an access JWT by its
    /// `jti`, an opaque token by its row or DRF key.
    pub fn credential_key(&self) -> String {
        let name = match &self.via {
            Via::Jwt(claims) => format!("jwt:{}", claims.jti),
            Via::Token(TokenRef::Own(id)) => format!("token:{id}"),
            Via::Token(TokenRef::Drf { key }) => format!("drf:{key}"),
        };
        opaque::digest(&name)
    }
}

fn unix_ms(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

/// Whether a token (by its `jti` and `iat`) predates a user's cut-off.
fn issued_before(jti: &str, iat: i64, cutoff: Timestamp) -> bool {
    issued_at_ms(jti, iat) < unix_ms(cutoff.0)
}

/// Milliseconds since the epoch when the token was issued: from a UUIDv7
/// `jti` (doorman's), else the start of the `iat` second.
fn issued_at_ms(jti: &str, iat: i64) -> i128 {
    let from_jti = uuid::Uuid::try_parse(jti)
        .ok()
        .filter(|u| u.get_version_num() == 7)
        .and_then(|u| u.get_timestamp())
        .map(|ts| {
            let (secs, nanos) = ts.to_unix();
            secs as i128 * 1000 + nanos as i128 / 1_000_000
        });
    from_jti.unwrap_or(iat as i128 * 1000)
}

/// What the Accounts API's `token/refresh/` and `login/` hand out.
#[derive(Debug, Clone)]
pub struct IssuedPair {
    pub access: String,
    pub refresh: String,
    pub session_id: Option<i32>,
}

/// Which logins the Accounts API's `logout/` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutScope {
    /// The login of the refresh token given.
    This,
    /// Every login but that one.
    Others,
    /// Every login, token and JWT.
    Global,
}

impl LogoutScope {
    /// The wire name (`""` for `This`, the default).
    pub fn parse(name: &str) -> Option<LogoutScope> {
        match name {
            "" => Some(LogoutScope::This),
            "others" => Some(LogoutScope::Others),
            "global" => Some(LogoutScope::Global),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            LogoutScope::This => "",
            LogoutScope::Others => "others",
            LogoutScope::Global => "global",
        }
    }
}

/// Where a login came from, for the sessions list.
#[derive(Debug, Clone, Default)]
pub struct Device {
    pub client_addr: String,
    pub user_agent: String,
}

impl Sessions {
    /// A login of the Accounts API: a token pair and a session row that
    /// follows its refresh token through rotations.
    pub async fn login_session(
        &self,
        user: &User,
        device: &Device,
        sign_in: &SignIn,
    ) -> Result<IssuedPair, Error> {
        let pair = self.issue_pair(user, sign_in).await?;
        let expires =
            OffsetDateTime::from_unix_timestamp(pair.refresh_claims.exp).unwrap_or_else(|_| now());
        let user_agent: String = device.user_agent.chars().take(255).collect();
        let id = self
            .store
            .insert_session(
                user.id,
                &pair.refresh_claims.jti,
                Timestamp(expires),
                &device.client_addr,
                &user_agent,
                (unix_timestamp(sign_in.auth_time), &sign_in.amr_text()),
            )
            .await?;
        Ok(IssuedPair {
            access: pair.access,
            refresh: pair.refresh,
            session_id: Some(id),
        })
    }

    /// The Accounts API's `token/refresh/`: always rotates. The token just
    /// replaced stays usable for `grace_secs` (two tabs refreshing at once);
    /// presented later, it is taken for a stolen copy and the whole login
    /// is revoked.
    pub async fn rotate(&self, refresh: &str) -> Result<IssuedPair, AuthError> {
        let claims = self.live_refresh(refresh).await?;
        let user = self.token_user(&claims).await?;
        let Some(session) = self.store.find_session_by_jti(&claims.jti).await? else {
            // A refresh token from /auth/jwt/create/: rotate it out.
            let (refresh, new_claims) =
                self.keys
                    .issue_refresh(user.id, claims.sign_in.as_ref(), now());
            let (access, _) = self.keys.access_from_refresh(&new_claims, now());
            self.deny(&claims).await?;
            return Ok(IssuedPair {
                access,
                refresh,
                session_id: None,
            });
        };
        self.check_session(&claims, &user, &session).await?;
        self.rotate_in_session(&claims, &user, &session).await
    }

    fn within_grace(&self, session: &SessionRow) -> bool {
        session
            .rotated_at
            .is_some_and(|t| (now() - t.0).whole_seconds() <= self.reuse_grace_secs as i64)
    }

    /// Refuses a token of a revoked login, and treats a rotated-out token
    /// presented after the grace window as stolen: the login is revoked.
    async fn check_session(
        &self,
        claims: &Claims,
        user: &User,
        session: &SessionRow,
    ) -> Result<(), AuthError> {
        if session.revoked_at.is_some() {
            return Err(AuthFailure::Jwt(JwtError::Blacklisted).into());
        }
        if session.current_jti != claims.jti && !self.within_grace(session) {
            tracing::warn!(
                user_id = user.id,
                session = session.id,
                "rotated-out refresh token reused; revoking the login"
            );
            self.store
                .revoke_sessions(user.id, Some(session.id), None)
                .await?;
            self.deny(claims).await?;
            return Err(AuthFailure::Jwt(JwtError::Blacklisted).into());
        }
        Ok(())
    }

    /// Moves a login on to a new refresh token. The update only applies to
    /// the row as it was read, so of two racing refreshes one wins and the
    /// other is refused; every token leaving the row is denied.
    async fn rotate_in_session(
        &self,
        claims: &Claims,
        user: &User,
        session: &SessionRow,
    ) -> Result<IssuedPair, AuthError> {
        let (new_refresh, new_claims) =
            self.keys
                .issue_refresh(user.id, claims.sign_in.as_ref(), now());
        let (access, _) = self.keys.access_from_refresh(&new_claims, now());
        let expires = Timestamp(
            OffsetDateTime::from_unix_timestamp(new_claims.exp).unwrap_or_else(|_| now()),
        );
        if !self
            .store
            .rotate_session(session.id, &session.current_jti, &new_claims.jti, expires)
            .await?
        {
            return Err(AuthFailure::Jwt(JwtError::Blacklisted).into());
        }
        // The row now holds (previous = the current we read, current = new):
        // the token presented, if it was not that current one, and the old
        // previous are out.
        for gone in [Some(&claims.jti), session.previous_jti.as_ref()]
            .into_iter()
            .flatten()
            .filter(|j| **j != session.current_jti)
        {
            self.store
                .deny_jti(gone, Some(user.id), None, session.expires_at)
                .await?;
        }
        Ok(IssuedPair {
            access,
            refresh: new_refresh,
            session_id: Some(session.id),
        })
    }

    /// The session a refresh token belongs to (for logout).
    pub async fn session_of(&self, refresh: &str, user_id: i32) -> Result<Option<i32>, Error> {
        let Ok(claims) = self.keys.decode(refresh, Some(TokenType::Refresh), now()) else {
            return Ok(None);
        };
        Ok(self
            .store
            .find_session_by_jti(&claims.jti)
            .await?
            .filter(|s| s.user_id == user_id)
            .map(|s| s.id))
    }

    /// The Accounts API's `logout/` for `user_id`: `This` ends the login
    /// `refresh` belongs to (and denies that token), `Others` every other
    /// login of the user, `Global` everything (every token, JWT and login,
    /// as `logout_all`). The caller's own access JWT keeps working until it
    /// expires except under `Global`.
    pub async fn logout(
        &self,
        user_id: i32,
        refresh: Option<&str>,
        scope: LogoutScope,
    ) -> Result<(), Error> {
        let current = match refresh {
            Some(r) => self.session_of(r, user_id).await?,
            None => None,
        };
        match scope {
            LogoutScope::This => {
                let Some(r) = refresh else {
                    return Err(Error::field("refresh", "This field is required."));
                };
                self.deny_refresh(r, user_id).await?;
                if let Some(id) = current {
                    self.store.revoke_sessions(user_id, Some(id), None).await?;
                }
            }
            LogoutScope::Others => {
                self.store
                    .revoke_sessions(user_id, None, Some(current.unwrap_or(0)))
                    .await?;
            }
            LogoutScope::Global => {
                let mut tx = self.store.begin().await?;
                let revoked = revoke_all(&mut tx, user_id, None).await?;
                let event = Event::new(Kind::TokensRevoked, Some(user_id), "")
                    .by(Some(user_id))
                    .detail("Accounts API logout, scope global: every token, JWT and login");
                self.audit.in_tx(&mut tx, event).await?;
                tx.commit().await?;
                revoked.settle().await;
                self.store.revoke_sessions(user_id, None, None).await?;
            }
        }
        let event = Event::new(Kind::Logout, Some(user_id), "")
            .by(Some(user_id))
            .detail(format!("Accounts API logout, scope {}", scope.name()));
        self.audit.alone(&self.store, event).await;
        Ok(())
    }

    /// Denies a refresh token if it is a valid one of `user_id`.
    pub async fn deny_refresh(&self, refresh: &str, user_id: i32) -> Result<(), Error> {
        if let Ok(claims) = self.keys.decode(refresh, Some(TokenType::Refresh), now())
            && claims.user_pk() == Some(user_id)
        {
            self.deny(&claims).await?;
        }
        Ok(())
    }
}
