//! Djoser's flows (the Accounts API reuses some): registration and
//! activation (`registration.rs`), password changes and resets
//! (`password.rs`), login-field changes and resets (`login.rs`), signing
//! out everywhere (here).
//! Each writes its change and the e-mail it causes in one transaction, so a
//! mail is queued exactly when the change lands; nothing here waits for the
//! mail server. Validation follows Djoser's two phases: every field problem
//! is reported together; only then object-level rules run, first failure
//! wins (see the wire notes §1.6 and §2).

use super::{
    Error,
    audit::{Event, Kind},
    password::Password,
    sessions,
    users::{
        EmailAddress, NewUser, PasswordChange, User, Username, Users, Welcome, attributes,
        check_retype, conflict_as_field,
    },
};
use crate::{
    config::LoginField,
    mail::MessageKind,
    security::{
        django_tokens::{decode_uid, encode_uid},
        hashers::is_usable,
        validators::UserAttributes,
    },
    store::{Timestamp, Tx, UserChanges},
};

/// Djoser's messages (`djoser.constants.Messages`).
pub mod messages {
    pub const INVALID_TOKEN: &str = "Invalid token for given user.";
    pub const INVALID_UID: &str = "Invalid user id or user doesn't exist.";
    pub const STALE_TOKEN: &str = "Stale token for given user.";
    pub const INVALID_PASSWORD: &str = "Invalid password.";
    pub const EMAIL_NOT_FOUND: &str = "User with given email does not exist.";
    pub const CANNOT_CREATE_USER: &str = "Unable to create account.";
    pub use crate::domain::users::{EMAIL_TAKEN, PASSWORD_MISMATCH, USERNAME_TAKEN};

    pub fn username_mismatch(field: &str) -> String {
        format!("The two {field} fields didn't match.")
    }
}

/// What a registration carries once its fields have been parsed.
#[derive(Debug)]
pub struct Registration {
    pub username: Username,
    pub email: Option<EmailAddress>,
    pub first_name: String,
    pub last_name: String,
    pub password: Password,
    pub re_password: Option<Password>,
}

/// Outcomes the HTTP layer renders in Djoser's particular shapes.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Domain(#[from] Error),
    /// 403 `{"detail": STALE_TOKEN}`: the account is already active.
    #[error("stale token")]
    Stale,
    /// 400 `["User with given email does not exist."]` (a bare list).
    #[error("email not found")]
    EmailNotFound,
    /// 400 with an empty body: resending activation while activation is off.
    #[error("activation is off")]
    ActivationOff,
}

impl From<crate::store::StoreError> for FlowError {
    fn from(e: crate::store::StoreError) -> Self {
        FlowError::Domain(e.into())
    }
}

#[derive(Clone)]
pub struct Flows {
    users: Users,
}

mod email_change;
mod login;
pub use email_change::EMAIL_CHANGE_VERIFIED;
mod password;
mod registration;

impl Flows {
    pub fn new(users: Users) -> Flows {
        Flows { users }
    }

    /// Resolves a uid to the user and stored hash, or the uid error.
    async fn user_from_uid(&self, uid: &str) -> Result<Option<(User, String)>, Error> {
        let Some(id) = decode_uid(uid) else {
            return Ok(None);
        };
        Ok(self.users.store().find_credentials_by_id(id).await?)
    }

    fn show_email_not_found(&self) -> bool {
        let dj = &self.users.settings().djoser;
        dj.password_reset_show_email_not_found || dj.username_reset_show_email_not_found
    }

    /// The one user an e-mail flow addresses: matched ignoring case, with a
    /// usable password, active or not as asked. Addresses are unique, so at
    /// most one can match; should an adopted database still hold
    /// duplicates, the lowest id wins rather than an error.
    async fn user_by_email(
        &self,
        email: &str,
        active: bool,
    ) -> Result<Option<(User, String)>, Error> {
        Ok(self
            .users
            .store()
            .find_credentials_by_email(email)
            .await?
            .into_iter()
            .find(|(u, hash)| u.is_active == active && is_usable(hash)))
    }

    async fn spend_recipient(&self, email: &EmailAddress) -> Result<(), FlowError> {
        Ok(self.users.spend_recipient(email.as_str()).await?)
    }

    /// `POST token/logout_all/`: every opaque token and every JWT of the
    /// user stop working.
    pub async fn logout_all(&self, user_id: i32) -> Result<(), FlowError> {
        let mut tx = self.users.store().begin().await?;
        let revoked = sessions::revoke_all(&mut tx, user_id, None).await?;
        let event = Event::new(Kind::TokensRevoked, Some(user_id), "")
            .by(Some(user_id))
            .detail("logout_all: every token and JWT");
        self.users.audit().in_tx(&mut tx, event).await?;
        tx.commit().await?;
        revoked.settle().await;
        Ok(())
    }

    /// Djoser's `token/logout/` when the caller authenticated with a JWT:
    /// all of the caller's opaque tokens go.
    pub async fn delete_all_tokens(&self, user_id: i32) -> Result<(), FlowError> {
        let mut tx = self.users.store().begin().await?;
        tx.delete_user_tokens(user_id, None).await?;
        let event = Event::new(Kind::Logout, Some(user_id), "")
            .by(Some(user_id))
            .detail("token/logout with a JWT: every opaque token");
        self.users.audit().in_tx(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// How long an e-mail flow (reset, resend) takes at least. A known address
/// costs a token, a rendered mail and a committed write; an unknown one a
/// single read. Answering both no sooner than this keeps response times from
/// telling which addresses are registered.
const EMAIL_FLOW_FLOOR: std::time::Duration = std::time::Duration::from_millis(150);

/// The outcome of a mail flow's write for a known address: `Ok(true)`
/// written; a database fault is logged and answered as the unknown
/// address's silence (`Ok(false)`), since a 503 only a registered address
/// can cause would tell which are (the lookup before it failing would
/// have failed for both); anything else stays an error.
fn written(result: Result<(), FlowError>) -> Result<bool, FlowError> {
    match result {
        Ok(()) => Ok(true),
        Err(FlowError::Domain(Error::Unavailable(cause))) => {
            tracing::warn!(error = %cause, "a mail flow's write failed; answered as for an unknown address");
            Ok(false)
        }
        Err(other) => Err(other),
    }
}

async fn level_timing<T>(work: impl std::future::Future<Output = T>) -> T {
    let started = tokio::time::Instant::now();
    let result = work.await;
    tokio::time::sleep_until(started + EMAIL_FLOW_FLOOR).await;
    result
}

/// Password-validator errors come keyed `password`; Djoser reports them
/// under the field that was submitted (`new_password`).
fn rename_field(e: Error, to: &str) -> Error {
    match e {
        Error::Validation(errors) => Error::Validation(
            errors
                .into_iter()
                .map(|(_, messages)| (to.to_string(), messages))
                .collect(),
        ),
        other => other,
    }
}
