//! Passwords: reset requests by mail (Djoser's and the Accounts API's),
//! the current-password check, `set_password` and `reset_password_confirm`.

use super::*;

impl Flows {
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
        let queued = async {
            let mut tx = self.users.store().begin().await?;
            self.users
                .queue(&mut tx, kind, &user, Some((pattern, &token)))
                .await?;
            let what = if username {
                "username reset link sent"
            } else {
                "password reset link sent"
            };
            let event = Event::new(Kind::PasswordResetRequested, Some(user.id), &user.username)
                .detail(what);
            self.users.audit().in_tx(&mut tx, event).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if !written(queued)? {
            return Ok(());
        }
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
        let queued = async {
            let mut tx = self.users.store().begin().await?;
            self.users
                .queue(
                    &mut tx,
                    MessageKind::PasswordReset,
                    &user,
                    Some((&pattern, &token)),
                )
                .await?;
            let event = Event::new(Kind::PasswordResetRequested, Some(user.id), &user.username)
                .detail("password reset link sent (Accounts API)");
            self.users.audit().in_tx(&mut tx, event).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if !written(queued)? {
            return Ok(None);
        }
        self.users.mailer().wake();
        Ok(Some((encode_uid(user.id), token)))
    }

    /// `POST users/reset_password/` and `users/reset_{U}/`, in constant time.
    pub async fn request_reset(
        &self,
        email: &EmailAddress,
        username: bool,
    ) -> Result<(), FlowError> {
        self.spend_recipient(email).await?;
        level_timing(self.request_reset_now(email, username)).await
    }

    /// The Accounts API's `forgot-password/`, in constant time.
    pub async fn forgot_password(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<(String, String)>, FlowError> {
        self.spend_recipient(email).await?;
        level_timing(self.forgot_password_now(email)).await
    }

    /// Checks the caller's current password (a field-phase check):
    /// `Users::check_current_password`.
    pub async fn check_current_password(
        &self,
        user: &User,
        password: &Password,
    ) -> Result<bool, Error> {
        self.users.check_current_password(user, password).await
    }

    /// `POST users/set_password/` (object phase onward). Other sessions of
    /// the user are revoked; the caller's own opaque token survives unless
    /// `logout_on_password_change`.
    pub async fn set_password(
        &self,
        user: &User,
        new: &Password,
        again: Option<&Password>,
        keep_token: Option<&crate::store::TokenRef>,
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
}
