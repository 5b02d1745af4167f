//! A verified change of address: `users/change_email/` mails a link to the
//! new address and a notice to the old one; `users/change_email_confirm/`
//! applies the change once the new address follows the link.

use super::*;
use crate::{config::EmailChange, mail::About, security::opaque, store::TokenRef};

/// How long the link to confirm a new address works.
const LINK_LIFETIME: time::Duration = time::Duration::days(1);

/// Why `PATCH users/me/` (and `set_email/`) refuse a new address while
/// changes must be verified.
pub const EMAIL_CHANGE_VERIFIED: &str =
    "Change your address at users/change_email/: it applies once the new address confirms it.";

impl Flows {
    /// Whether users must change their own address through a link.
    pub fn email_change_verified(&self) -> bool {
        self.users.settings().users.email_change == EmailChange::Verified
    }

    /// `POST users/change_email/`, once the caller has proved who they are:
    /// a link to `new`, good for a day, that makes it the account's
    /// address, and a notice to the current address. A later request
    /// replaces the link. The answer is the same, and as slow, whether or
    /// not `new` belongs to another account (then nothing is sent), so it
    /// tells nobody which addresses are registered.
    pub async fn request_email_change(
        &self,
        user: &User,
        new: &EmailAddress,
    ) -> Result<(), FlowError> {
        if new.as_str().eq_ignore_ascii_case(&user.email) {
            return Ok(());
        }
        self.spend_recipient(new).await?;
        level_timing(self.request_email_change_now(user, new)).await
    }

    async fn request_email_change_now(
        &self,
        user: &User,
        new: &EmailAddress,
    ) -> Result<(), FlowError> {
        let store = self.users.store();
        if self.users.settings().users.unique_email
            && store.email_taken(new.as_str(), Some(user.id)).await?
        {
            return Ok(());
        }
        let token = opaque::generate_key();
        let pattern = self.users.settings().users.email_change_confirm_url.clone();
        let expires = Timestamp::from(time::OffsetDateTime::now_utc() + LINK_LIFETIME);
        let queued = async {
            let mut tx = store.begin().await?;
            tx.replace_email_change(user.id, new.as_str(), &opaque::digest(&token), expires)
                .await?;
            self.users
                .queue_about(
                    &mut tx,
                    MessageKind::EmailChange,
                    user,
                    new.as_str(),
                    Some((&pattern, &token)),
                    About::default(),
                )
                .await?;
            self.users
                .queue_about(
                    &mut tx,
                    MessageKind::EmailChangeNotice,
                    user,
                    &user.email,
                    None,
                    About {
                        new_email: Some(new.as_str()),
                        ..About::default()
                    },
                )
                .await?;
            let event = Event::new(Kind::EmailChangeRequested, Some(user.id), &user.username)
                .by(Some(user.id))
                .detail("a link sent to the new address; the old one notified");
            self.users.audit().in_tx(&mut tx, event).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if written(queued)? {
            self.users.mailer().wake();
        }
        Ok(())
    }

    /// `POST users/change_email_confirm/`: the link from the new address's
    /// mail. Good once and for a day; the address must still be free. The
    /// change signs the user out everywhere but `keep` (the caller's own
    /// opaque token, when they send one), ends the other waiting changes,
    /// and retires every reset link mailed before (they were made from the
    /// old address).
    pub async fn confirm_email_change(
        &self,
        uid: &str,
        token: &str,
        keep: Option<&TokenRef>,
    ) -> Result<(), FlowError> {
        let store = self.users.store();
        let user = match decode_uid(uid) {
            Some(id) => store.find_user_by_id(id).await?,
            None => None,
        };
        let Some(user) = user else {
            return Err(Error::field("uid", messages::INVALID_UID).into());
        };
        let invalid = || FlowError::from(Error::field("token", messages::INVALID_TOKEN));
        let row = match store.email_change(&opaque::digest(token)).await? {
            Some(row) if row.user_id == user.id && !row.used => row,
            _ => return Err(invalid()),
        };
        if row.expires_at <= Timestamp::now() {
            return Err(invalid());
        }
        if self.users.settings().users.unique_email
            && store.email_taken(&row.new_email, Some(user.id)).await?
        {
            return Err(Error::field("email", messages::EMAIL_TAKEN).into());
        }
        let changes = match self.users.settings().users.login_field {
            LoginField::Email => self.login_change(&row.new_email),
            LoginField::Username => UserChanges {
                email: Some(row.new_email.clone()),
                ..Default::default()
            },
        };
        let mut tx = store.begin().await?;
        if !tx.use_email_change(row.id).await? {
            return Err(invalid());
        }
        tx.update_user(user.id, &changes)
            .await
            .map_err(|e| conflict_as_field(e, Some("email")))?;
        tx.drop_email_changes(user.id).await?;
        let revoked = sessions::revoke_all(&mut tx, user.id, keep).await?;
        let event = Event::new(Kind::EmailChanged, Some(user.id), &user.username)
            .by(Some(user.id))
            .detail("confirmed from the new address; every other login revoked");
        self.users.audit().in_tx(&mut tx, event).await?;
        tx.commit().await?;
        revoked.settle().await;
        Ok(())
    }
}
