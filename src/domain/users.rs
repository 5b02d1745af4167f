//! Users: the operations on users that the CLI and both APIs share
//! (authenticate here; create and every change in `manage.rs`). The records and the
//! typed inputs (`User`, `Username`, `EmailAddress`) live in `model`.

use std::{sync::Arc, time::Duration};

use super::{
    Error,
    audit::{Audit, Event, Kind},
    password::Password,
};
use crate::security::validators;
use crate::{
    config::{LoginField, Settings},
    limits::{Class, Limits},
    mail::Mailer,
    security::{django_tokens::TokenGenerator, hashers::Verification, passwords::PasswordService},
    store::Store,
};

mod admin_view;
mod lockouts;
mod manage;

pub use crate::model::{EmailAddress, NewUser, User, UserSummary, Username};

pub use manage::{
    EMAIL_TAKEN, PASSWORD_MISMATCH, PasswordChange, USERNAME_TAKEN, UserUpdate, Welcome,
    attributes, check_retype, conflict_as_field, missing_message,
};

/// The rules shared by every way of creating or changing users, and the
/// one home of each change (`manage.rs`).
#[derive(Clone)]
pub struct Users {
    store: Store,
    passwords: PasswordService,
    validators: Arc<Vec<validators::PasswordValidator>>,
    mailer: Mailer,
    limits: Limits,
    tokens: Arc<TokenGenerator>,
    settings: Arc<Settings>,
    audit: Audit,
    /// Lockout records being written off the request path (at most 4).
    lockout_writes: Arc<tokio::sync::Semaphore>,
}

impl Users {
    pub fn new(
        store: Store,
        passwords: PasswordService,
        mailer: Mailer,
        limits: Limits,
        audit: Audit,
        settings: Arc<Settings>,
    ) -> Self {
        let key = settings.security.secret_key.clone().unwrap_or_default();
        let tokens = TokenGenerator::new(
            &key,
            settings.security.secret_key_fallbacks.clone(),
            settings.security.token_timeout,
        );
        Self {
            store,
            passwords,
            validators: Arc::new(settings.users.password_validators.clone()),
            mailer,
            limits,
            tokens: Arc::new(tokens),
            settings,
            audit,
            lockout_writes: Arc::new(tokio::sync::Semaphore::new(4)),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// Learns what the stored hashes of other kinds than the current one
    /// cost to check (a sample of them), so failed logins are padded right
    /// from the first one (see `login`).
    pub async fn learn_hash_costs(&self) -> Result<(), Error> {
        let sample = self.store.sample_password_hashes(1000).await?;
        let mut seen = std::collections::BTreeSet::new();
        let distinct: Vec<String> = sample
            .into_iter()
            .filter(|h| {
                crate::security::hashers::cost_parameters(h).is_some_and(|c| seen.insert(c))
            })
            .collect();
        self.passwords.learn_costs(distinct).await;
        Ok(())
    }

    /// Spends from the budget of mails to `email` (`mail_per_recipient`),
    /// known or not: it counts requests for an address, so a refusal says
    /// nothing about whether the address has an account, and an inbox gets
    /// at most that many mails however many clients ask. Every mail sent to
    /// an address a caller chose goes through here.
    pub async fn spend_recipient(&self, email: &str) -> Result<(), Error> {
        let key = email.trim().to_lowercase();
        Ok(self.limits.take(Class::MailPerRecipient, &key).await?)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The audit trail (records and their counters).
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Runs the configured password validators against `password` for a
    /// user with these attributes; all failures are reported together.
    pub fn validate_password(
        &self,
        password: &Password,
        user: &validators::UserAttributes<'_>,
    ) -> Result<(), Error> {
        validators::validate_password(password.expose(), user, &self.validators)
            .map_err(|messages| Error::Validation(vec![("password".to_string(), messages)]))
    }

    /// The encoded hash of `password`, or an unusable one for `None`.
    pub async fn hash(&self, password: Option<&Password>) -> Result<String, Error> {
        match password {
            Some(p) => self.passwords.hash(p).await.map_err(Error::internal),
            None => Ok(crate::security::hashers::make_unusable_password()),
        }
    }

    /// Checks a password against a stored hash; `None` (no such user) does
    /// the same work and never matches.
    pub async fn verify(&self, password: &Password, encoded: Option<&str>) -> Verification {
        self.passwords.verify(password, encoded).await
    }

    /// Checks a signed-in user's password again (a sensitive change asks
    /// for it), under the failed-login budget for this account: whoever
    /// holds a stolen token cannot turn it into the password by guessing.
    /// As at login, the attempt is spent before the check and a match
    /// starts the count again.
    pub async fn check_current_password(
        &self,
        user: &User,
        password: &Password,
    ) -> Result<bool, Error> {
        // With the username's lockout generation, so an admin's unlock
        // clears this budget too, on every node.
        let generation = self
            .store
            .lockout_generation(&budget_login(&user.username))
            .await?;
        let key = format!("current password of user {}\n{generation}", user.id);
        self.limits
            .take(Class::LoginFailuresPerAccount, &key)
            .await?;
        let hash = self.store.password_hash(user.id).await?;
        let verdict = self.verify(password, hash.as_deref()).await;
        let matched = matches!(verdict, Verification::Match { .. });
        if matched {
            self.limits
                .forget(Class::LoginFailuresPerAccount, &key)
                .await;
        }
        Ok(matched)
    }

    /// Signs in: checks `password` for the account named `login`, by each
    /// of `fields` in turn (the Accounts API tries an address, then a
    /// username that contains `@`), under the failed-login budgets of
    /// `[rate_limit]`: for this account from address `from`, and for `from`
    /// as a whole. Both are spent before any password is checked, so
    /// concurrent guesses cannot slip past them, and a spent budget refuses
    /// the attempt unchecked; a success gives the address its share back
    /// and starts the account's count again, so only failures count and the
    /// owner is never locked out from elsewhere.
    pub async fn login(
        &self,
        fields: &[LoginField],
        login: &str,
        password: &Password,
        from: &str,
    ) -> Result<User, Error> {
        self.limits
            .take(Class::LoginFailuresPerAddress, from)
            .await?;
        // Who the login names, by each field (no hashing yet); a fault
        // here says nothing about the password.
        let mut found = Vec::with_capacity(fields.len());
        for field in fields {
            match self.find_credentials(*field, login).await {
                Ok(f) => found.push(f),
                Err(e) => {
                    self.limits
                        .give_back(Class::LoginFailuresPerAddress, from)
                        .await;
                    return Err(e);
                }
            }
        }
        let (owner, found_name) = match found.iter().flatten().next() {
            Some((user, _)) => (Some(user.id), Some(user.username.clone())),
            None => (None, None),
        };
        // The account's budget is keyed by the login as typed (so a refusal
        // links no two names of one account) and that login's lockout
        // generation, which an admin's unlock moves on; every login asks for
        // it the same way, whether it names an account or not.
        let typed = budget_login(login);
        let generation = match self.store.lockout_generation(&typed).await {
            Ok(g) => g,
            Err(e) => {
                self.limits
                    .give_back(Class::LoginFailuresPerAddress, from)
                    .await;
                return Err(e.into());
            }
        };
        let account = format!("{from}\n{typed}\n{generation}");
        if let Err(throttled) = self
            .limits
            .take(Class::LoginFailuresPerAccount, &account)
            .await
        {
            self.limits
                .give_back(Class::LoginFailuresPerAddress, from)
                .await;
            if let Some(user_id) = owner {
                self.note_lockout(user_id, from, throttled.retry_after_secs);
            }
            // Not one record per refused attempt (an attacker could make
            // them as fast as `logins_per_address` allows): the lockout is
            // recorded once, and its row counts the refusals.
            return Err(throttled.into());
        }
        let mut result = Err(Error::InvalidCredentials);
        let mut hashed = Duration::ZERO;
        for candidate in found {
            result = self.check_found(candidate, password, &mut hashed).await;
            if !matches!(result, Err(Error::InvalidCredentials)) {
                break;
            }
        }
        // Recorded for known and unknown logins alike, before the padding,
        // so the write costs both the same.
        // The account is named by its username, never by the login as
        // typed (people type their password there by mistake); a login
        // that matched no account is recorded without a name.
        let owner_name = found_name.as_deref().unwrap_or("");
        let event = match &result {
            Ok(user) => Some(
                Event::new(Kind::LoginSucceeded, Some(user.id), &user.username).by(Some(user.id)),
            ),
            Err(Error::InvalidCredentials) => Some(
                Event::new(Kind::LoginFailed, owner, owner_name)
                    .failed()
                    .detail("wrong password or no such account"),
            ),
            Err(Error::Inactive) => Some(
                Event::new(Kind::LoginFailed, owner, owner_name)
                    .failed()
                    .detail("inactive account"),
            ),
            Err(_) => None,
        };
        if let Some(event) = event {
            self.audit.alone(&self.store, event).await;
        }
        if result.is_err() {
            // Every failure takes as long as the slowest check seen: an
            // account on a slow legacy hash (Django's PBKDF2, say) answers
            // a wrong password no later than an unknown name does. The
            // padding is a sleep, not work.
            let floor = self.passwords.slowest();
            if let Some(rest) = floor.checked_sub(hashed) {
                tokio::time::sleep(rest).await;
            }
        }
        match &result {
            // A failure keeps what it spent.
            Err(Error::InvalidCredentials | Error::Inactive) => {}
            // A success, or a fault that said nothing about the password.
            other => {
                self.limits
                    .give_back(Class::LoginFailuresPerAddress, from)
                    .await;
                match other {
                    Ok(_) => {
                        self.limits
                            .forget(Class::LoginFailuresPerAccount, &account)
                            .await
                    }
                    _ => {
                        self.limits
                            .give_back(Class::LoginFailuresPerAccount, &account)
                            .await
                    }
                }
            }
        }
        result
    }

    /// Checks a password by one login field (the exact username, or the
    /// e-mail address ignoring case), with no budget: `login` is the way in
    /// for requests. On success with a hash weaker than the current policy
    /// (an older algorithm or other parameters), the hash is replaced. An
    /// unknown login costs as much as a known one.
    pub async fn authenticate_by(
        &self,
        field: LoginField,
        login: &str,
        password: &Password,
    ) -> Result<User, Error> {
        self.authenticate_timed(field, login, password).await.0
    }

    /// `authenticate_by`, and how long its password check hashed.
    async fn authenticate_timed(
        &self,
        field: LoginField,
        login: &str,
        password: &Password,
    ) -> (Result<User, Error>, Duration) {
        let mut hashed = Duration::ZERO;
        let result = self
            .authenticate_counting(field, login, password, &mut hashed)
            .await;
        (result, hashed)
    }

    async fn authenticate_counting(
        &self,
        field: LoginField,
        login: &str,
        password: &Password,
        hashed: &mut Duration,
    ) -> Result<User, Error> {
        let found = self.find_credentials(field, login).await?;
        self.check_found(found, password, hashed).await
    }

    /// The user `login` names by `field`, with their stored hash.
    async fn find_credentials(
        &self,
        field: LoginField,
        login: &str,
    ) -> Result<Option<(User, String)>, Error> {
        Ok(match field {
            LoginField::Username => {
                let name = Username::normalize(login);
                self.store.find_credentials_by_username(&name).await?
            }
            LoginField::Email => self
                .store
                .find_credentials_by_email(login)
                .await?
                .into_iter()
                .next(),
        })
    }

    /// Checks `password` against what `find_credentials` found (`None`
    /// costs the same and fails), adding the hashing time to `hashed`;
    /// upgrades a weaker hash on success.
    async fn check_found(
        &self,
        found: Option<(User, String)>,
        password: &Password,
        hashed: &mut Duration,
    ) -> Result<User, Error> {
        let (verdict, took) = self
            .passwords
            .verify_timed(password, found.as_ref().map(|(_, hash)| hash.as_str()))
            .await;
        *hashed += took;
        let Some((user, hash)) = found else {
            return Err(Error::InvalidCredentials);
        };
        match verdict {
            Verification::Match { needs_rehash } => {
                // An inactive account is answered as a wrong password is,
                // and as soon: no upgrade, whose cost would tell that the
                // password was right.
                if !user.is_active {
                    return Err(Error::Inactive);
                }
                if needs_rehash {
                    let fresh = self
                        .passwords
                        .hash(password)
                        .await
                        .map_err(Error::internal)?;
                    // Only replace the hash we verified: a concurrent
                    // password change must win over this upgrade.
                    self.store
                        .replace_password_hash(user.id, &hash, &fresh)
                        .await?;
                }
                Ok(user)
            }
            Verification::Invalid(reason) => {
                tracing::warn!(user_id = user.id, reason, "stored password hash rejected");
                Err(Error::InvalidCredentials)
            }
            Verification::NoMatch | Verification::Unusable => Err(Error::InvalidCredentials),
        }
    }

    pub async fn find_by_username(&self, username: &str) -> Result<User, Error> {
        self.store
            .find_credentials_by_username(username)
            .await?
            .map(|(user, _)| user)
            .ok_or(Error::NotFound)
    }
}

/// A login as the failed-login budget keys it: NFKC, lower-cased, so
/// look-alike spellings of one name share a budget.
pub(crate) fn budget_login(login: &str) -> String {
    Username::normalize(login).to_lowercase()
}
