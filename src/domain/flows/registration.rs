//! `POST users/` and activation: create the account (inactive while
//! activation mails are on), activate it from the link, send the link again.

use super::*;

impl Flows {
    /// `POST users/`: creates the account (inactive when activation
    /// e-mails are on) and queues the activation or confirmation mail.
    pub async fn register(&self, r: Registration) -> Result<User, FlowError> {
        let dj = &self.users.settings().djoser;
        let welcome = if dj.send_activation_email {
            Welcome::Activation
        } else if dj.send_confirmation_email {
            Welcome::Confirmation
        } else {
            Welcome::Nothing
        };
        let new = NewUser {
            username: r.username,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            password: Some(r.password),
            is_active: !dj.send_activation_email,
            is_staff: false,
            is_superuser: false,
        };
        Ok(self
            .users
            .create_with(new, r.re_password.as_ref(), welcome)
            .await?)
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
        let event = Event::new(Kind::Activated, Some(user.id), &user.username).by_target();
        self.users.audit().in_tx(&mut tx, event).await?;
        if self.users.settings().djoser.send_confirmation_email {
            self.users
                .queue(&mut tx, MessageKind::Confirmation, &user, None)
                .await?;
        }
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(())
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
            let queued = async {
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
                Ok(())
            }
            .await;
            if written(queued)? {
                self.users.mailer().wake();
            }
        }
        Ok(())
    }

    /// `POST users/resend_activation/`, taking the same time whether or not
    /// the address is known (see `level_timing`).
    pub async fn resend_activation(&self, email: &EmailAddress) -> Result<(), FlowError> {
        self.spend_recipient(email).await?;
        level_timing(self.resend_activation_now(email)).await
    }
}
