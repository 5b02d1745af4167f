//! The account flows Djoser offers (and the Accounts API reuses):
//! registration, activation, password and username changes and resets.
//! Each writes its change and the e-mail it causes in one transaction, so a
//! mail is queued exactly when the change lands; nothing here waits for the
//! mail server. Validation follows Djoser's two phases: every field problem
//! is reported together; only then object-level rules run, first failure
//! wins (see the wire notes §1.6 and §2).

use super::{
    Error,
    password::Password,
    sessions,
    users::{
        EmailAddress, NewUser, PasswordChange, User, Username, Users, attributes, conflict_as_field,
    },
};
use crate::{
    config::{LoginField, Settings},
    mail::MessageKind,
    security::{
        django_tokens::{decode_uid, encode_uid},
        hashers::{Verification, is_usable},
        validators::UserAttributes,
    },
    store::{Timestamp, Tx, UserChanges},
};

/// Djoser's messages (`djoser.constants.Messages`).
pub mod messages {
    pub const INVALID_TOKEN: &str = "Invalid token for given user.";
    pub const INVALID_UID: &str = "Invalid user id or user doesn't exist.";
    pub const STALE_TOKEN: &str = "Stale token for given user.";
    pub const PASSWORD_MISMATCH: &str = "The two password fields didn't match.";
    pub const INVALID_PASSWORD: &str = "Invalid password.";
    pub const EMAIL_NOT_FOUND: &str = "User with given email does not exist.";
    pub const CANNOT_CREATE_USER: &str = "Unable to create account.";
    pub use crate::domain::users::{EMAIL_TAKEN, USERNAME_TAKEN};

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
pub struct Accounts {
    users: Users,
}

impl Accounts {
    pub fn new(users: Users) -> Accounts {
        Accounts { users }
    }

    pub fn settings(&self) -> &Settings {
        self.users.settings()
    }

    pub fn users(&self) -> &Users {
        &self.users
    }

    /// `POST users/`: creates the account (inactive when activation
    /// e-mails are on) and queues the activation or confirmation mail.
    pub async fn register(&self, r: Registration) -> Result<User, FlowError> {
        let email = r.email.as_ref().map(|e| e.as_str()).unwrap_or("");
        self.users.validate_password(
            &r.password,
            &UserAttributes {
                username: r.username.as_str(),
                first_name: &r.first_name,
                last_name: &r.last_name,
                email,
            },
        )?;
        check_retype(&r.password, r.re_password.as_ref())?;
        let dj = &self.users.settings().djoser;
        let new = NewUser {
            username: r.username,
            email: r.email.clone(),
            first_name: r.first_name,
            last_name: r.last_name,
            password: Some(r.password),
            is_active: !dj.send_activation_email,
            is_staff: false,
            is_superuser: false,
        };
        let encoded = self.users.hash(new.password.as_ref()).await?;
        let mut tx = self.users.store().begin().await?;
        let user = match tx.insert_user(&new, email, &encoded).await {
            Ok(user) => user,
            Err(e) => return Err(conflict_as_field(e, None).into()),
        };
        if dj.send_activation_email {
            let token = self.users.make_token(&user, &encoded);
            self.users
                .queue(
                    &mut tx,
                    MessageKind::Activation,
                    &user,
                    Some((&dj.activation_url, &token)),
                )
                .await?;
        } else if dj.send_confirmation_email {
            self.users
                .queue(&mut tx, MessageKind::Confirmation, &user, None)
                .await?;
        }
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(user)
    }

    /// Resolves a uid to the user and stored hash, or the uid error.
    async fn user_from_uid(&self, uid: &str) -> Result<Option<(User, String)>, Error> {
        let Some(id) = decode_uid(uid) else {
            return Ok(None);
        };
        Ok(self.users.store().find_credentials_by_id(id).await?)
    }

    /// `POST users/activation/`.
    pub async fn activate(&self, uid: &str, token: &str) -> Result<(), FlowError> {
        let Some((user, hash)) = self.user_from_uid(uid).await? else {
            return Err(Error::field("uid", messages::INVALID_UID).into());
        };
        if !self.users.check_token(&user, &hash, token) {
            return Err(Error::field("token", messages::INVALID_TOKEN).into());
        }
        if user.is_active {
            return Err(FlowError::Stale);
        }
        let mut tx = self.users.store().begin().await?;
        tx.update_user(
            user.id,
            &UserChanges {
                is_active: Some(true),
                ..Default::default()
            },
        )
        .await?;
        if self.users.settings().djoser.send_confirmation_email {
            self.users
                .queue(&mut tx, MessageKind::Confirmation, &user, None)
                .await?;
        }
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(())
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

    /// `POST users/resend_activation/`.
    async fn resend_activation_now(&self, email: &EmailAddress) -> Result<(), FlowError> {
        let found = self.user_by_email(email.as_str(), false).await?;
        if found.is_none() && self.show_email_not_found() {
            return Err(FlowError::EmailNotFound);
        }
        let dj = &self.users.settings().djoser;
        if !dj.send_activation_email {
            return Err(FlowError::ActivationOff);
        }
        if let Some((user, hash)) = found {
            let token = self.users.make_token(&user, &hash);
            let mut tx = self.users.store().begin().await?;
            self.users
                .queue(
                    &mut tx,
                    MessageKind::Activation,
                    &user,
                    Some((&dj.activation_url, &token)),
                )
                .await?;
            tx.commit().await?;
            self.users.mailer().wake();
        }
        Ok(())
    }

    /// `POST users/reset_password/` and `users/reset_{U}/`: a reset link
    /// for an active user with a usable password; silence otherwise.
    async fn request_reset_now(
        &self,
        email: &EmailAddress,
        username: bool,
    ) -> Result<(), FlowError> {
        let found = self.user_by_email(email.as_str(), true).await?;
        let Some((user, hash)) = found else {
            return if self.show_email_not_found() {
                Err(FlowError::EmailNotFound)
            } else {
                Ok(())
            };
        };
        let dj = &self.users.settings().djoser;
        let (kind, pattern) = if username {
            (MessageKind::UsernameReset, &dj.username_reset_confirm_url)
        } else {
            (MessageKind::PasswordReset, &dj.password_reset_confirm_url)
        };
        let token = self.users.make_token(&user, &hash);
        let mut tx = self.users.store().begin().await?;
        self.users
            .queue(&mut tx, kind, &user, Some((pattern, &token)))
            .await?;
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(())
    }

    /// The Accounts API's `forgot-password/`: a reset link built from
    /// `accounts.password_reset_url` for an active user with a usable
    /// password; silence otherwise. Returns the link's uid and token when a
    /// mail was queued (the caller decides whether to show them).
    async fn forgot_password_now(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<(String, String)>, FlowError> {
        let Some((user, hash)) = self.user_by_email(email.as_str(), true).await? else {
            return Ok(None);
        };
        let token = self.users.make_token(&user, &hash);
        let pattern = self.users.settings().accounts.password_reset_url.clone();
        let mut tx = self.users.store().begin().await?;
        self.users
            .queue(
                &mut tx,
                MessageKind::PasswordReset,
                &user,
                Some((&pattern, &token)),
            )
            .await?;
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(Some((encode_uid(user.id), token)))
    }

    /// `POST users/resend_activation/`, taking the same time whether or not
    /// the address is known (see `level_timing`).
    pub async fn resend_activation(&self, email: &EmailAddress) -> Result<(), FlowError> {
        level_timing(self.resend_activation_now(email)).await
    }

    /// `POST users/reset_password/` and `users/reset_{U}/`, in constant time.
    pub async fn request_reset(
        &self,
        email: &EmailAddress,
        username: bool,
    ) -> Result<(), FlowError> {
        level_timing(self.request_reset_now(email, username)).await
    }

    /// The Accounts API's `forgot-password/`, in constant time.
    pub async fn forgot_password(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<(String, String)>, FlowError> {
        level_timing(self.forgot_password_now(email)).await
    }

    /// Checks the caller's current password (a field-phase check).
    pub async fn check_current_password(
        &self,
        user: &User,
        password: &Password,
    ) -> Result<bool, Error> {
        let hash = self.users.store().password_hash(user.id).await?;
        let verdict = self.users.verify(password, hash.as_deref()).await;
        Ok(matches!(verdict, Verification::Match { .. }))
    }

    /// `POST users/set_password/` (object phase onward). Other sessions of
    /// the user are revoked; the caller's own opaque token survives unless
    /// `logout_on_password_change`.
    pub async fn set_password(
        &self,
        user: &User,
        new: &Password,
        again: Option<&Password>,
        keep_token: Option<i32>,
    ) -> Result<(), FlowError> {
        self.users
            .validate_password(new, &attributes(user))
            .map_err(|e| rename_field(e, "new_password"))?;
        check_retype(new, again)?;
        let change = PasswordChange {
            keep_token,
            notify: true,
            ..Default::default()
        };
        self.users.store_password(user, new, change).await?;
        Ok(())
    }

    /// `POST users/reset_password_confirm/`: validators (against the user
    /// the link names, unlike Djoser), retype, uid, token; then the new
    /// password, `last_login` touched and every session of the user
    /// revoked. The link works once: the write happens only if the hash it
    /// was made from is still stored, so of concurrent uses one wins.
    pub async fn reset_password_confirm(
        &self,
        uid: &str,
        token: &str,
        new: &Password,
        again: Option<&Password>,
    ) -> Result<(), FlowError> {
        // Djoser's order: validators, retype, uid, token. Similarity to the
        // user's own attributes is checked only once the token has proved
        // the caller holds the link; earlier it would let anyone probe a
        // user's name and address through the validator's messages.
        self.users
            .validate_password(new, &UserAttributes::default())
            .map_err(|e| rename_field(e, "new_password"))?;
        check_retype(new, again)?;
        let Some((user, hash)) = self.user_from_uid(uid).await? else {
            return Err(Error::field("uid", messages::INVALID_UID).into());
        };
        if !self.users.check_token(&user, &hash, token) {
            return Err(Error::field("token", messages::INVALID_TOKEN).into());
        }
        self.users
            .validate_password(new, &attributes(&user))
            .map_err(|e| rename_field(e, "new_password"))?;
        let change = PasswordChange {
            replacing: Some(&hash),
            touch_last_login: true,
            notify: true,
            ..Default::default()
        };
        match self.users.store_password(&user, new, change).await? {
            true => Ok(()),
            false => Err(Error::field("token", messages::INVALID_TOKEN).into()),
        }
    }

    /// Applies a new login-field value (username or e-mail) to `user`.
    fn login_change(&self, value: &str) -> UserChanges {
        match self.users.settings().users.login_field {
            LoginField::Username => UserChanges {
                username: Some(value.to_string()),
                ..Default::default()
            },
            // The address is the login; `username` follows it (see
            // registration), so a former address frees its username too.
            LoginField::Email => UserChanges {
                username: Some(value.chars().take(Username::MAX_LEN).collect()),
                email: Some(value.to_string()),
                ..Default::default()
            },
        }
    }

    /// `POST users/set_{U}/` (after the field phase).
    pub async fn set_login(&self, user: &User, value: &str) -> Result<(), FlowError> {
        let mut tx = self.users.store().begin().await?;
        self.apply_login_change(&mut tx, user.id, value).await?;
        if self
            .users
            .settings()
            .djoser
            .username_changed_email_confirmation
        {
            let changed = self.with_login(user, value);
            self.users
                .queue(
                    &mut tx,
                    MessageKind::UsernameChangedConfirmation,
                    &changed,
                    None,
                )
                .await?;
        }
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(())
    }

    async fn apply_login_change(&self, tx: &mut Tx, id: i32, value: &str) -> Result<(), FlowError> {
        match tx.update_user(id, &self.login_change(value)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let name = format!("new_{}", self.users.settings().users.login_field.name());
                Err(conflict_as_field(e, Some(&name)).into())
            }
        }
    }

    /// The user as it is after a login-field change (for the mail).
    fn with_login(&self, user: &User, value: &str) -> User {
        let mut changed = user.clone();
        match self.users.settings().users.login_field {
            LoginField::Username => changed.username = value.to_string(),
            LoginField::Email => {
                changed.username = value.chars().take(Username::MAX_LEN).collect();
                changed.email = value.to_string();
            }
        }
        changed
    }

    /// `POST users/reset_{U}_confirm/` (after the field phase and retype):
    /// uid, token, then the change with `last_login` touched.
    pub async fn reset_login_confirm(
        &self,
        uid: &str,
        token: &str,
        value: &str,
    ) -> Result<(), FlowError> {
        let Some((user, hash)) = self.user_from_uid(uid).await? else {
            return Err(Error::field("uid", messages::INVALID_UID).into());
        };
        if !self.users.check_token(&user, &hash, token) {
            return Err(Error::field("token", messages::INVALID_TOKEN).into());
        }
        let mut tx = self.users.store().begin().await?;
        self.apply_login_change(&mut tx, user.id, value).await?;
        tx.set_last_login(user.id, Timestamp::now()).await?;
        if self
            .users
            .settings()
            .djoser
            .username_changed_email_confirmation
        {
            let changed = self.with_login(&user, value);
            self.users
                .queue(
                    &mut tx,
                    MessageKind::UsernameChangedConfirmation,
                    &changed,
                    None,
                )
                .await?;
        }
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(())
    }

    /// `POST token/logout_all/`: every opaque token and every JWT of the
    /// user stop working.
    pub async fn logout_all(&self, user_id: i32) -> Result<(), FlowError> {
        let mut tx = self.users.store().begin().await?;
        let revoked = sessions::revoke_all(&mut tx, user_id, None).await?;
        tx.commit().await?;
        revoked.settle().await;
        Ok(())
    }

    /// Djoser's `token/logout/` when the caller authenticated with a JWT:
    /// all of the caller's opaque tokens go.
    pub async fn delete_all_tokens(&self, user_id: i32) -> Result<(), FlowError> {
        let mut tx = self.users.store().begin().await?;
        tx.delete_user_tokens(user_id, None).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// How long an e-mail flow (reset, resend) takes at least. A known address
/// costs a token, a rendered mail and a committed write; an unknown one a
/// single read. Answering both no sooner than this keeps response times from
/// telling which addresses are registered.
const EMAIL_FLOW_FLOOR: std::time::Duration = std::time::Duration::from_millis(150);

async fn level_timing<T>(work: impl std::future::Future<Output = T>) -> T {
    let started = tokio::time::Instant::now();
    let result = work.await;
    tokio::time::sleep_until(started + EMAIL_FLOW_FLOOR).await;
    result
}

/// Djoser's retype rule: a second copy, when asked for, must match.
fn check_retype(password: &Password, again: Option<&Password>) -> Result<(), FlowError> {
    match again {
        Some(again) if again.expose() != password.expose() => {
            Err(Error::field("non_field_errors", messages::PASSWORD_MISMATCH).into())
        }
        _ => Ok(()),
    }
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
