//! The login field (username, or e-mail when users log in by address):
//! `set_{U}` and `reset_{U}_confirm`.

use super::*;

impl Flows {
    /// Applies a new login-field value (username or e-mail) to `user`.
    pub(super) fn login_change(&self, value: &str) -> UserChanges {
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
        self.refuse_unverified_address(user, value)?;
        let mut tx = self.users.store().begin().await?;
        self.apply_login_change(&mut tx, user.id, value).await?;
        self.confirm_login_change(&mut tx, user, value).await?;
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(())
    }

    /// Queues Djoser's "your login changed" mail when the setting asks for
    /// it, to the address the account has after the change (which the
    /// caller may have chosen), spending that address's mail budget: a
    /// refusal rolls the change back with the mail.
    async fn confirm_login_change(
        &self,
        tx: &mut Tx,
        user: &User,
        value: &str,
    ) -> Result<(), FlowError> {
        if !self
            .users
            .settings()
            .djoser
            .username_changed_email_confirmation
        {
            return Ok(());
        }
        let changed = self.with_login(user, value);
        if !changed.email.is_empty() {
            self.users.spend_recipient(&changed.email).await?;
        }
        self.users
            .queue(tx, MessageKind::UsernameChangedConfirmation, &changed, None)
            .await?;
        Ok(())
    }

    async fn apply_login_change(&self, tx: &mut Tx, id: i32, value: &str) -> Result<(), FlowError> {
        match tx.update_user(id, &self.login_change(value)).await {
            Ok(()) => {
                let kind = match self.users.settings().users.login_field {
                    LoginField::Username => Kind::UsernameChanged,
                    LoginField::Email => Kind::EmailChanged,
                };
                let event = Event::new(kind, Some(id), value)
                    .by_target()
                    .detail(format!("now {value}"));
                self.users.audit().in_tx(tx, event).await?;
                Ok(())
            }
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

    /// With `users.email_change = "verified"` and addresses as the login,
    /// a new address is set only through a link to it
    /// (`request_email_change`), not by `set_email/` or
    /// `reset_email_confirm/`, which prove only the old one.
    fn refuse_unverified_address(&self, user: &User, value: &str) -> Result<(), FlowError> {
        if self.users.settings().users.login_field == LoginField::Email
            && self.email_change_verified()
            && !value.eq_ignore_ascii_case(&user.email)
        {
            return Err(Error::field("new_email", super::EMAIL_CHANGE_VERIFIED).into());
        }
        Ok(())
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
        self.refuse_unverified_address(&user, value)?;
        let mut tx = self.users.store().begin().await?;
        self.apply_login_change(&mut tx, user.id, value).await?;
        tx.set_last_login(user.id, Timestamp::now()).await?;
        self.confirm_login_change(&mut tx, &user, value).await?;
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(())
    }
}
