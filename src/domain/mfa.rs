//! Second factors: an authenticator app (TOTP) and recovery codes, the
//! login that waits for one, and asking for the password (and a code) again
//! before a factor changes.
//!
//! A user "has MFA" once a TOTP secret is confirmed. Until then nothing
//! about their logins changes: `after_password` lets every login through.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use time::OffsetDateTime;

use super::{
    Error,
    access::Principal,
    audit::{Event, Kind},
    password::Password,
    sessions::{self, Caller, Sessions, SignIn},
    users::Users,
};
use crate::{
    config::Settings,
    mail::{About, MessageKind},
    model::User,
    security::{mfa as crypto, opaque},
    store::{ChallengeRow, Store, Timestamp, TokenRef, TotpRow, Tx},
};

mod passkeys;
pub use passkeys::{MAX_PASSKEYS, NAME_MAX, PasskeyInfo, Registered, relying_party};
pub use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

/// What finishes a waiting login.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// A TOTP or recovery code.
    Code(&'a str),
    /// A passkey's assertion, for the options of `mfa/login/webauthn/options/`.
    Passkey(&'a PublicKeyCredential),
}

/// How long a login waits for its second factor.
pub const CHALLENGE_SECS: u64 = 300;
/// Wrong codes that end a waiting login.
pub const CHALLENGE_ATTEMPTS: i32 = 5;
/// How long a TOTP setup waits for its first code.
const SETUP_SECS: u64 = 600;

pub const INVALID_CODE: &str = "Invalid code.";
pub const MFA_REQUIRED: &str = "Two-factor authentication is required.";
pub const MFA_TOKEN_INVALID: &str =
    "This two-factor login has expired or was used; sign in with your password again.";
pub const REAUTHENTICATION_REQUIRED: &str = "Reauthentication required.";
const APP_LOCKED: &str = "Codes from the authenticator app are refused after too many wrong ones; \
     use a recovery code, or ask an administrator.";

/// Wrong codes in a row after which each try waits (1 s, doubling).
const SLOW_FROM: i32 = 5;
/// The longest wait between tries.
const MAX_WAIT_SECS: u64 = 900;
/// Wrong codes in a row after which the app's codes are refused.
const LOCK_AFTER: i32 = 100;

/// Which login endpoint a waiting login started at, so that its finish
/// answers in that endpoint's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    /// `jwt/create/`: a refresh and an access JWT.
    Jwt,
    /// `token/login/` and its 1.x names: an opaque token.
    Token,
    /// `/api/auth/login/`: an Accounts API session.
    Accounts,
}

impl Issue {
    pub fn as_str(self) -> &'static str {
        match self {
            Issue::Jwt => "jwt",
            Issue::Token => "token",
            Issue::Accounts => "accounts",
        }
    }

    pub fn parse(s: &str) -> Option<Issue> {
        [Issue::Jwt, Issue::Token, Issue::Accounts]
            .into_iter()
            .find(|i| i.as_str() == s)
    }
}

/// A login that needs its second factor: the client finishes it at
/// `mfa/login/` with `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub token: String,
    pub methods: Vec<&'static str>,
    pub expires_in: u64,
}

/// What `GET mfa/` shows.
#[derive(Debug, Clone)]
pub struct MfaStatus {
    pub enabled: bool,
    pub passkeys: Vec<PasskeyInfo>,
    /// The confirmed authenticator app: when it was set up, last used.
    pub totp: Option<(Timestamp, Option<Timestamp>)>,
    /// Recovery codes: how many, how many unused.
    pub recovery_codes: Option<(usize, usize)>,
}

/// A TOTP setup waiting for its first code.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://` key URI, for a QR code.
    pub url: String,
}

#[derive(Clone)]
pub struct Mfa {
    users: Users,
    sessions: Sessions,
    sealer: crypto::SecretBox,
    issuer: String,
    /// `mfa.reauthentication_timeout`.
    recent_secs: u64,
    /// `security.reauthentication`.
    guard_password_and_delete: bool,
    /// The WebAuthn relying party (`webauthn` settings).
    relying_party: Arc<webauthn_rs::Webauthn>,
    /// `webauthn.passwordless`.
    passwordless: bool,
}

/// RFC 8176 method names.
const PWD: &str = "pwd";
const OTP: &str = "otp";
const MULTI: &str = "mfa";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unix_now_i64() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX)
}

/// A login (or reauthentication) with the password and a code.
fn two_factors() -> SignIn {
    SignIn::new(unix_now_i64(), &[PWD, OTP, MULTI])
}

fn later(secs: u64) -> Timestamp {
    Timestamp::from(OffsetDateTime::now_utc() + Duration::from_secs(secs))
}

impl Mfa {
    /// An error names a bad `webauthn` setting.
    pub fn new(users: Users, sessions: Sessions, settings: &Settings) -> Result<Self, String> {
        let key = settings
            .security
            .mfa_key
            .clone()
            .or_else(|| settings.security.secret_key.clone())
            .unwrap_or_default();
        Ok(Self {
            users,
            sessions,
            sealer: crypto::SecretBox::new(&key),
            issuer: settings.site_context().site_name,
            recent_secs: settings.mfa.reauthentication_timeout,
            guard_password_and_delete: settings.security.reauthentication,
            relying_party: Arc::new(relying_party(settings)?),
            passwordless: settings.webauthn.passwordless,
        })
    }

    fn store(&self) -> &Store {
        self.users.store()
    }

    /// Whether the user has a confirmed factor.
    pub async fn enabled(&self, user_id: i32) -> Result<bool, Error> {
        Ok(self.store().has_mfa(user_id).await?)
    }

    /// Whether the user has a confirmed authenticator app.
    async fn totp_on(&self, user_id: i32) -> Result<bool, Error> {
        Ok(self
            .store()
            .totp(user_id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some()))
    }

    pub async fn status(&self, user: &User) -> Result<MfaStatus, Error> {
        let totp = self
            .store()
            .totp(user.id)
            .await?
            .filter(|t| t.confirmed_at.is_some());
        let codes = self.store().recovery_codes(user.id).await?;
        let passkeys = self.passkeys(user.id).await?;
        Ok(MfaStatus {
            enabled: totp.is_some() || !passkeys.is_empty(),
            passkeys,
            totp: totp.map(|t| (t.confirmed_at.unwrap_or(t.created_at), t.last_used_at)),
            recovery_codes: (!codes.is_empty())
                .then(|| (codes.len(), codes.iter().filter(|c| !c.used).count())),
        })
    }

    /// The methods a user with MFA may finish a login with.
    async fn methods(&self, user_id: i32) -> Result<Vec<&'static str>, Error> {
        let mut methods = Vec::new();
        if self.totp_on(user_id).await? {
            methods.push("totp");
        }
        if !self.store().passkeys(user_id).await?.is_empty() {
            methods.push("webauthn");
        }
        let codes = self.store().recovery_codes(user_id).await?;
        if codes.iter().any(|c| !c.used) {
            methods.push("recovery_codes");
        }
        Ok(methods)
    }

    /// Called by every login endpoint once the password was right. A user
    /// without MFA passes. A user with MFA passes with a right `code` sent
    /// along (one-request logins for scripts); without one the login waits
    /// (`Error::MfaRequired`), and nothing is issued. Returns how the login
    /// proved who the user is, for what it issues.
    pub async fn after_password(
        &self,
        user: &User,
        issue: Issue,
        code: Option<&str>,
    ) -> Result<SignIn, Error> {
        if !self.enabled(user.id).await? {
            return Ok(SignIn::new(unix_now_i64(), &[PWD]));
        }
        if let Some(code) = code {
            return match self.check_code(user, code).await? {
                true => Ok(two_factors()),
                false => Err(Error::field("code", INVALID_CODE)),
            };
        }
        let token = crypto::new_login_token();
        self.store()
            .insert_challenge(
                &opaque::digest(&token),
                user.id,
                issue.as_str(),
                later(CHALLENGE_SECS),
            )
            .await?;
        Err(Error::MfaRequired(MfaChallenge {
            token,
            methods: self.methods(user.id).await?,
            expires_in: CHALLENGE_SECS,
        }))
    }

    /// `mfa/login/`: the waiting login `token` with a TOTP or recovery
    /// code. Returns the user, where the login started and how it was
    /// proved. A token that is
    /// unknown, used, expired or has had `CHALLENGE_ATTEMPTS` wrong codes
    /// is `MfaTokenInvalid`; a wrong code is a field error.
    pub async fn finish_login(
        &self,
        token: &str,
        proof: Proof<'_>,
    ) -> Result<(User, Issue, SignIn), Error> {
        let (challenge, user) = self.live_challenge(token).await?;
        let issue = Issue::parse(&challenge.issue).ok_or(Error::MfaTokenInvalid)?;
        // The try is booked before the proof is checked, so parallel
        // requests cannot each get a guess past the limit.
        if !self
            .store()
            .book_challenge_try(challenge.id, CHALLENGE_ATTEMPTS)
            .await?
        {
            return Err(Error::MfaTokenInvalid);
        }
        let sign_in = match proof {
            Proof::Code(code) => match self.check_code(&user, code).await? {
                true => two_factors(),
                false => return Err(Error::field("code", INVALID_CODE)),
            },
            Proof::Passkey(credential) => {
                match self
                    .passkey_is_right(&user, challenge.id, credential)
                    .await?
                {
                    true => passkeys::password_and_passkey(),
                    false => {
                        return Err(Error::field("credential", "The passkey was not accepted."));
                    }
                }
            }
        };
        if !self.store().consume_challenge(challenge.id).await? {
            return Err(Error::MfaTokenInvalid);
        }
        Ok((user, issue, sign_in))
    }

    /// The waiting login `token` names, still open, and its active user;
    /// `MfaTokenInvalid` otherwise.
    async fn live_challenge(&self, token: &str) -> Result<(ChallengeRow, User), Error> {
        let Some(challenge) = self.store().challenge(&opaque::digest(token)).await? else {
            return Err(Error::MfaTokenInvalid);
        };
        if challenge.consumed
            || challenge.attempts >= CHALLENGE_ATTEMPTS
            || challenge.expires_at <= Timestamp::now()
        {
            return Err(Error::MfaTokenInvalid);
        }
        match self.store().find_user_by_id(challenge.user_id).await? {
            Some(user) if user.is_active => Ok((challenge, user)),
            _ => Err(Error::MfaTokenInvalid),
        }
    }

    /// A TOTP code (six digits) or an unused recovery code of a user with
    /// MFA; either is good once. Each try is booked in the user's row
    /// before the code is checked (one at a time, on every node, whatever
    /// the rate limits say): from the fifth wrong code in a row the next try
    /// waits, twice as long each time up to 15 minutes, and from the 100th
    /// the app's codes are refused until a recovery code works or an
    /// administrator clears them (NIST SP 800-63B §3.2.2).
    async fn check_code(&self, user: &User, code: &str) -> Result<bool, Error> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let from_app = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
        let app = self
            .store()
            .totp(user.id)
            .await?
            .filter(|t| t.confirmed_at.is_some());
        let Some(row) = app else {
            // A user whose factors are passkeys only: their recovery codes
            // still work. Wrong ones are limited per waiting login (five)
            // and by the login budgets; the count in a row is kept in the
            // app's row, which this user has none of.
            if from_app || !self.enabled(user.id).await? {
                return Ok(false);
            }
            return self.recovery_code_is_right(user, &code).await;
        };
        if from_app && row.failures >= LOCK_AFTER {
            return Err(Error::State(APP_LOCKED.into()));
        }
        self.book_try(user, &row).await?;
        let right = if from_app {
            self.totp_is_right(user, &row, &code).await?
        } else {
            self.recovery_code_is_right(user, &code).await?
        };
        if right {
            self.store().clear_code_failures(user.id).await?;
        }
        Ok(right)
    }

    /// Books one try in the user's TOTP row (see `check_code`).
    async fn book_try(&self, user: &User, row: &TotpRow) -> Result<(), Error> {
        let now = OffsetDateTime::now_utc();
        if let Some(at) = row.next_try_at
            && at.0 > now
        {
            return Err(Error::Throttled {
                retry_after: (at.0 - now).whole_seconds().max(1) as u64,
            });
        }
        let failures = row.failures.saturating_add(1);
        let wait = (failures >= SLOW_FROM).then(|| {
            let secs = 1u64 << (failures - SLOW_FROM).min(20);
            Timestamp::from(now + Duration::from_secs(secs.min(MAX_WAIT_SECS)))
        });
        if !self
            .store()
            .book_code_try(user.id, row.failures, wait)
            .await?
        {
            // Another try of this user's is being checked right now.
            return Err(Error::Throttled { retry_after: 1 });
        }
        Ok(())
    }

    async fn totp_is_right(&self, user: &User, row: &TotpRow, code: &str) -> Result<bool, Error> {
        let Some(secret) = self.sealer.open(&row.secret, &user.id.to_string()) else {
            tracing::error!(
                user_id = user.id,
                "a TOTP secret does not open with this key (security.mfa_key or \
                 security.secret_key changed?)"
            );
            return Ok(false);
        };
        let Some(step) = crypto::totp_step(&secret, code, unix_now()) else {
            return Ok(false);
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        Ok(self.store().take_totp_step(user.id, step).await?)
    }

    async fn recovery_code_is_right(&self, user: &User, code: &str) -> Result<bool, Error> {
        let Some(canonical) = crypto::normalise_recovery_code(code) else {
            return Ok(false);
        };
        let unused: Vec<_> = self
            .store()
            .recovery_codes(user.id)
            .await?
            .into_iter()
            .filter(|c| !c.used)
            .collect();
        // Every unused code is checked, matched or not, so the time taken
        // does not say which one matched.
        let matched = tokio::task::spawn_blocking(move || {
            let mut matched = None;
            for row in &unused {
                if crypto::recovery_code_matches(&canonical, &row.code_hash) {
                    matched = Some(row.id);
                }
            }
            matched
        })
        .await
        .map_err(Error::internal)?;
        match matched {
            Some(id) => Ok(self.store().use_recovery_code(user.id, id).await?),
            None => Ok(false),
        }
    }

    /// The password again, and for a user with MFA a code too: how the
    /// user proved themselves now. Nothing sent is
    /// `ReauthenticationRequired`; a wrong one is a field error.
    async fn prove_again(
        &self,
        user: &User,
        password: Option<&Password>,
        code: Option<&str>,
    ) -> Result<SignIn, Error> {
        let Some(password) = password else {
            return Err(Error::ReauthenticationRequired);
        };
        if !self.users.check_current_password(user, password).await? {
            return Err(Error::field(
                "current_password",
                super::flows::messages::INVALID_PASSWORD,
            ));
        }
        if !self.enabled(user.id).await? {
            return Ok(SignIn::new(unix_now_i64(), &[PWD]));
        }
        let Some(code) = code else {
            return Err(Error::ReauthenticationRequired);
        };
        if !self.check_code(user, code).await? {
            return Err(Error::field("code", INVALID_CODE));
        }
        Ok(two_factors())
    }

    /// How the caller last proved who they are with the credential of this
    /// request: its sign-in, or a later `reauthenticate/`, whichever is
    /// newer (`None` when neither is known).
    pub async fn last_proof(&self, caller: &Caller) -> Result<Option<SignIn>, Error> {
        let signed_in = self.sessions.sign_in_of(caller).await?;
        let again = self
            .store()
            .reauth(&caller.credential_key(), caller.user.id)
            .await?
            .map(|(at, amr)| SignIn::from_text(at.0.unix_timestamp(), &amr));
        Ok(match (signed_in, again) {
            (Some(a), Some(b)) => Some(if b.auth_time >= a.auth_time { b } else { a }),
            (a, b) => a.or(b),
        })
    }

    /// Whether the caller proved who they are within the timeout, as
    /// strongly as their account needs. A sign-in counts only when it used
    /// two factors: a password sign-in alone is what a stolen token would
    /// show too, so a user without MFA proves themselves again (through
    /// `reauthenticate/`, binding the proof to this credential) before a
    /// token's first minutes can add a factor and lock its owner out. A
    /// reauthentication counts with both factors once MFA is on.
    async fn recently_proved(&self, caller: &Caller) -> Result<bool, Error> {
        let mfa = self.enabled(caller.user.id).await?;
        let fresh = |proof: &SignIn| {
            let age = unix_now_i64().saturating_sub(proof.auth_time);
            age >= 0 && age < i64::try_from(self.recent_secs).unwrap_or(i64::MAX)
        };
        if let Some(signed_in) = self.sessions.sign_in_of(caller).await?
            && signed_in.is_multi_factor()
            && fresh(&signed_in)
        {
            return Ok(true);
        }
        let again = self
            .store()
            .reauth(&caller.credential_key(), caller.user.id)
            .await?
            .map(|(at, amr)| SignIn::from_text(at.0.unix_timestamp(), &amr));
        Ok(again.is_some_and(|p| fresh(&p) && (p.is_multi_factor() || !mfa)))
    }

    /// A sensitive change asks again: passes when the caller proved who
    /// they are recently enough (`recently_proved`); otherwise the
    /// password, and for a user with MFA a code too, must come with it
    /// (`prove_again`).
    pub async fn reauthenticate(
        &self,
        caller: &Caller,
        password: Option<&Password>,
        code: Option<&str>,
    ) -> Result<(), Error> {
        if password.is_none() && self.recently_proved(caller).await? {
            return Ok(());
        }
        self.prove_again(&caller.user, password, code).await?;
        Ok(())
    }

    /// `POST reauthenticate/`: the password (and a code once MFA is on)
    /// again; for `mfa.reauthentication_timeout` seconds the credential of
    /// this request may then make sensitive changes without them. Returns
    /// how the caller proved themselves and for how many seconds it counts.
    pub async fn reauthenticate_now(
        &self,
        caller: &Caller,
        password: Option<&Password>,
        code: Option<&str>,
    ) -> Result<(SignIn, u64), Error> {
        let proof = self.prove_again(&caller.user, password, code).await?;
        if self.recent_secs == 0 {
            // Nothing would count as recent: the proof is only checked.
            return Ok((proof, 0));
        }
        self.store()
            .record_reauth(
                &caller.credential_key(),
                caller.user.id,
                &proof.amr_text(),
                later(self.recent_secs),
            )
            .await?;
        Ok((proof, self.recent_secs))
    }

    /// With `security.reauthentication` on, a password change or an
    /// account deletion, which has checked the current password already,
    /// also needs a recent two-factor proof or a `code` sent along once the
    /// caller has MFA. Off, or for a user without MFA, it passes.
    pub async fn guard_credentials_change(
        &self,
        caller: &Caller,
        code: Option<&str>,
    ) -> Result<(), Error> {
        if !self.guard_password_and_delete
            || !self.enabled(caller.user.id).await?
            || self.recently_proved(caller).await?
        {
            return Ok(());
        }
        let Some(code) = code else {
            return Err(Error::ReauthenticationRequired);
        };
        if !self.check_code(&caller.user, code).await? {
            return Err(Error::field("code", INVALID_CODE));
        }
        Ok(())
    }

    /// `mfa/totp/setup/`: a new secret waiting for its first code (a
    /// setup begun before is replaced). A user with a confirmed app must
    /// remove it first.
    pub async fn begin_totp(
        &self,
        caller: &Caller,
        password: Option<&Password>,
        code: Option<&str>,
    ) -> Result<TotpSetup, Error> {
        let user = &caller.user;
        if self.totp_on(user.id).await? {
            return Err(Error::State(
                "An authenticator app is already set up; remove it first.".into(),
            ));
        }
        // Once MFA is on (a passkey), adding an app wants a code too.
        self.reauthenticate(caller, password, code).await?;
        let secret = crypto::new_totp_secret();
        let url = crypto::totp_url(&secret, &self.issuer, &user.username)
            .ok_or_else(|| Error::internal(std::fmt::Error))?;
        let sealed = self.sealer.seal(&secret, &user.id.to_string());
        if !self
            .store()
            .begin_totp(user.id, &sealed, later(SETUP_SECS))
            .await?
        {
            return Err(Error::State(
                "An authenticator app is already set up; remove it first.".into(),
            ));
        }
        Ok(TotpSetup {
            secret: crypto::totp_secret_text(&secret),
            url,
        })
    }

    /// `mfa/totp/confirm/`: the first code from the app turns MFA on and
    /// signs the user out everywhere else (every JWT issued before, every
    /// other opaque token and session): whoever was signed in without the
    /// factor is no longer. `keep` is the caller's own opaque token.
    /// Returns the new recovery codes (shown once). Wrong codes are booked
    /// as at login, so a stolen token cannot guess its way through.
    pub async fn confirm_totp(
        &self,
        user: &User,
        code: &str,
        keep: Option<&TokenRef>,
    ) -> Result<Option<Vec<String>>, Error> {
        let Some(row) = self.store().totp(user.id).await? else {
            return Err(Error::NotFound);
        };
        let alive = row.expires_at.is_some_and(|t| t > Timestamp::now());
        if row.confirmed_at.is_some() || !alive {
            return Err(Error::NotFound);
        }
        let secret = self
            .sealer
            .open(&row.secret, &user.id.to_string())
            .ok_or(Error::NotFound)?;
        self.book_try(user, &row).await?;
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let Some(step) = crypto::totp_step(&secret, &code, unix_now()) else {
            return Err(Error::field("code", INVALID_CODE));
        };
        let first = !self.enabled(user.id).await?;
        let codes = match first {
            true => Some(new_codes().await?),
            false => None,
        };
        let mut tx = self.store().begin().await?;
        if !tx
            .confirm_totp(
                user.id,
                &row.secret,
                i64::try_from(step).unwrap_or(i64::MAX),
            )
            .await?
        {
            return Err(Error::NotFound);
        }
        let mut revoked = None;
        if let Some((_, hashes)) = &codes {
            tx.replace_recovery_codes(user.id, hashes).await?;
            revoked = Some(sessions::revoke_all(&mut tx, user.id, keep).await?);
        }
        let what = match first {
            true => "authenticator app set up; other sessions signed out",
            false => "authenticator app set up",
        };
        self.record(&mut tx, user, what, "totp_added").await?;
        tx.commit().await?;
        if let Some(revoked) = revoked {
            revoked.settle().await;
        }
        self.users.mailer().wake();
        Ok(codes.map(|(shown, _)| shown))
    }

    /// `DELETE mfa/totp/`: removes the app; with no factor left, the
    /// recovery codes and waiting logins go too.
    pub async fn remove_totp(
        &self,
        caller: &Caller,
        password: Option<&Password>,
        code: Option<&str>,
    ) -> Result<(), Error> {
        let user = &caller.user;
        let Some(row) = self.store().totp(user.id).await? else {
            return Err(Error::NotFound);
        };
        self.reauthenticate(caller, password, code).await?;
        let mut tx = self.store().begin().await?;
        tx.delete_totp(user.id).await?;
        if !tx.has_factor(user.id).await? {
            tx.delete_recovery_codes(user.id).await?;
            tx.drop_challenges(user.id).await?;
        }
        if row.confirmed_at.is_some() {
            self.record(&mut tx, user, "authenticator app removed", "totp_removed")
                .await?;
        }
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(())
    }

    /// `POST mfa/recovery_codes/`: a new set; the old one stops working.
    pub async fn regenerate_codes(
        &self,
        caller: &Caller,
        password: Option<&Password>,
        code: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        let user = &caller.user;
        if !self.enabled(user.id).await? {
            return Err(Error::State(
                "Recovery codes come with a second factor; set one up first.".into(),
            ));
        }
        self.reauthenticate(caller, password, code).await?;
        let (codes, hashes) = new_codes().await?;
        let mut tx = self.store().begin().await?;
        tx.replace_recovery_codes(user.id, &hashes).await?;
        self.record(
            &mut tx,
            user,
            "recovery codes replaced",
            "recovery_codes_replaced",
        )
        .await?;
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(codes)
    }
}

impl Mfa {
    /// The audit record of a change to the user's own factors, and the
    /// notice mailed to them, in the change's transaction.
    async fn record(
        &self,
        tx: &mut Tx,
        user: &User,
        what: &str,
        change: &str,
    ) -> Result<(), Error> {
        self.record_by(tx, user, Some(user.id), what, change).await
    }

    /// `record` of a change made by `by` (`None`: the command line).
    /// `change` names the notice's wording (see the `mfa_changed`
    /// templates); a user without an address gets none.
    async fn record_by(
        &self,
        tx: &mut Tx,
        user: &User,
        by: Option<i32>,
        what: &str,
        change: &str,
    ) -> Result<(), Error> {
        let event = Event::new(Kind::MfaChanged, Some(user.id), &user.username)
            .by(by)
            .detail(what);
        self.users.audit().in_tx(tx, event).await?;
        self.users
            .queue_about(
                tx,
                MessageKind::MfaChanged,
                user,
                &user.email,
                None,
                About {
                    change: Some(change),
                    ..About::default()
                },
            )
            .await
    }

    /// For a user who lost their factors: an administrator who may change
    /// the user's credentials (`caller`; `None` is the command line)
    /// removes every factor and recovery code and signs the user out
    /// everywhere. Not for one's own account, which must use
    /// `DELETE mfa/totp/` with the password and a code. `false` when the
    /// user had no factor.
    pub async fn reset(&self, caller: Option<&Principal>, user_id: i32) -> Result<bool, Error> {
        let target = self
            .store()
            .find_user_by_id(user_id)
            .await?
            .ok_or(Error::NotFound)?;
        if let Some(caller) = caller {
            if caller.user.id == user_id {
                return Err(Error::Forbidden);
            }
            self.users.authorize_change(caller, &target, true).await?;
        }
        let mut tx = self.store().begin().await?;
        let had_app = tx.delete_totp(user_id).await?;
        let had_passkey = tx.delete_passkeys(user_id).await?;
        let had = had_app || had_passkey;
        tx.delete_recovery_codes(user_id).await?;
        let revoked = sessions::revoke_all(&mut tx, user_id, None).await?;
        self.record_by(
            &mut tx,
            &target,
            caller.map(|c| c.user.id),
            "second factors reset by an administrator; sessions signed out",
            "reset_by_admin",
        )
        .await?;
        tx.commit().await?;
        revoked.settle().await;
        self.users.mailer().wake();
        Ok(had)
    }
}

/// A new set of recovery codes and their stored forms (hashed off the
/// runtime).
async fn new_codes() -> Result<(Vec<String>, Vec<String>), Error> {
    let codes = crypto::new_recovery_codes();
    let shown = codes.clone();
    let hashes = tokio::task::spawn_blocking(move || {
        codes
            .iter()
            .map(|c| crypto::hash_recovery_code(c))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(Error::internal)?;
    Ok((shown, hashes))
}
