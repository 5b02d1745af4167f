//! The one home of each change to a user: create, set a password, update,
//! delete.
//! The Djoser API, the Accounts API and the CLI all call these, so what a
//! change brings with it (revoking sessions, re-activation after a new
//! address, removing the picture) and who may make it cannot differ
//! between surfaces. Each writes its change and the mail it causes in one
//! transaction.

use time::OffsetDateTime;

use super::{NewUser, User, Users};
use crate::{
    domain::{
        Error, FieldErrors,
        access::{self, Principal},
        audit::{Event, Kind},
        password::Password,
        profiles::pictures,
        sessions,
    },
    mail::{About, Link, MessageKind},
    security::django_tokens::{TokenUser, encode_uid},
    security::validators::UserAttributes,
    store::{StoreError, Timestamp, Tx, UserChanges},
};

/// Djoser's uniqueness messages.
pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
pub const EMAIL_TAKEN: &str = "user with this email address already exists.";
pub const PASSWORD_MISMATCH: &str = "The two password fields didn't match.";

/// Djoser's retype rule: a second copy, when asked for, must match.
pub fn check_retype(password: &Password, again: Option<&Password>) -> Result<(), Error> {
    match again {
        Some(again) if again.expose() != password.expose() => {
            Err(Error::field("non_field_errors", PASSWORD_MISMATCH))
        }
        _ => Ok(()),
    }
}

/// The mail a new account is sent in the transaction that creates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Welcome {
    Nothing,
    /// The activation link (`djoser.activation_url`).
    Activation,
    /// "Your account is ready."
    Confirmation,
}

/// A change to a user as a surface parsed it: the columns, if given the
/// complete new list of groups, and the field errors found so far.
#[derive(Debug, Default)]
pub struct UserUpdate {
    pub changes: UserChanges,
    pub groups: Option<Vec<i32>>,
    pub errors: FieldErrors,
}

/// DRF's message for unknown primary keys, naming them.
pub fn missing_message(missing: &[i32]) -> String {
    let list: Vec<String> = missing.iter().map(i32::to_string).collect();
    format!(
        "Invalid pk \"{}\" - object does not exist.",
        list.join("\", \"")
    )
}

/// How a new password is written.
#[derive(Debug, Default, Clone, Copy)]
pub struct PasswordChange<'a> {
    /// The caller's own opaque token survives (Djoser's `set_password`
    /// without `logout_on_password_change`).
    pub keep_token: Option<&'a crate::store::TokenRef>,
    /// Write only if the stored hash is still this one: a reset link is
    /// made from the hash, so exactly one of any number of concurrent uses
    /// of one link wins.
    pub replacing: Option<&'a str>,
    /// Also touch `last_login` (a reset: Django's link is then used up).
    pub touch_last_login: bool,
    /// Queue the "password changed" mail when Djoser's setting asks for it.
    pub notify: bool,
}

/// What Django's token generator hashes of a user.
fn token_user<'a>(user: &'a User, hash: &'a str) -> TokenUser<'a> {
    TokenUser {
        id: user.id,
        password_hash: hash,
        last_login: user.last_login,
        email: &user.email,
    }
}

/// The user attributes the similarity validator compares against.
pub fn attributes(user: &User) -> UserAttributes<'_> {
    UserAttributes {
        username: &user.username,
        first_name: &user.first_name,
        last_name: &user.last_name,
        email: &user.email,
    }
}

/// A taken username or e-mail as Djoser's field error (under `field`, or
/// the column's own name); other store errors pass through.
pub fn conflict_as_field(e: StoreError, field: Option<&str>) -> Error {
    match e {
        StoreError::Conflict { field: column } => {
            let message = if column == "email" {
                EMAIL_TAKEN
            } else {
                USERNAME_TAKEN
            };
            Error::field(field.unwrap_or(&column), message)
        }
        other => other.into(),
    }
}

impl Users {
    /// Creates a user with no retyped password and no mail (the CLI,
    /// imports, tests): `create_with` without its options.
    pub async fn create(&self, new: NewUser) -> Result<User, Error> {
        self.create_with(new, None, Welcome::Nothing).await
    }

    /// Creates a user: the password (when given) passes the validators,
    /// then matches its retyped copy (when given), as Djoser orders them;
    /// the row and the `welcome` mail are written together. A taken
    /// username or address is a field error.
    pub async fn create_with(
        &self,
        new: NewUser,
        retyped: Option<&Password>,
        welcome: Welcome,
    ) -> Result<User, Error> {
        let email = new.email.as_ref().map(|e| e.as_str()).unwrap_or("");
        if let Some(password) = &new.password {
            self.validate_password(
                password,
                &UserAttributes {
                    username: new.username.as_str(),
                    first_name: &new.first_name,
                    last_name: &new.last_name,
                    email,
                },
            )?;
            check_retype(password, retyped)?;
        }
        let encoded = self.hash(new.password.as_ref()).await?;
        let mut tx = self.store.begin().await?;
        let user = tx
            .insert_user(&new, email, &encoded)
            .await
            .map_err(|e| conflict_as_field(e, None))?;
        let event = Event::new(Kind::UserCreated, Some(user.id), &user.username);
        self.audit.in_tx(&mut tx, event).await?;
        match welcome {
            Welcome::Nothing => {}
            Welcome::Activation => {
                let token = self.make_token(&user, &encoded);
                let url = &self.settings.djoser.activation_url;
                self.queue(&mut tx, MessageKind::Activation, &user, Some((url, &token)))
                    .await?;
            }
            Welcome::Confirmation => {
                self.queue(&mut tx, MessageKind::Confirmation, &user, None)
                    .await?;
            }
        }
        tx.commit().await?;
        if welcome != Welcome::Nothing {
            self.mailer.wake();
        }
        Ok(user)
    }

    /// The activation/reset token for a user as stored now.
    pub(crate) fn make_token(&self, user: &User, hash: &str) -> String {
        self.tokens
            .make_token(&token_user(user, hash), OffsetDateTime::now_utc())
    }

    pub(crate) fn check_token(&self, user: &User, hash: &str, token: &str) -> bool {
        self.tokens
            .check_token(&token_user(user, hash), token, OffsetDateTime::now_utc())
    }

    /// Queues a message for `user` inside `tx`; with `link`, a uid/token
    /// link from the given pattern. A user without an address gets none.
    pub(crate) async fn queue(
        &self,
        tx: &mut Tx,
        kind: MessageKind,
        user: &User,
        link: Option<(&str, &str)>,
    ) -> Result<(), Error> {
        self.queue_about(tx, kind, user, &user.email, link, About::default())
            .await
    }

    /// `queue` to address `to`, saying what the notice is `about`.
    pub(crate) async fn queue_about(
        &self,
        tx: &mut Tx,
        kind: MessageKind,
        user: &User,
        to: &str,
        link: Option<(&str, &str)>,
        about: About<'_>,
    ) -> Result<(), Error> {
        if to.is_empty() {
            return Ok(());
        }
        let uid = encode_uid(user.id);
        let link = link.map(|(pattern, token)| Link {
            pattern,
            uid: &uid,
            token,
        });
        let mail = self
            .mailer
            .compose_about(kind, to, Some(user), link.as_ref(), about)
            .map_err(Error::internal)?;
        tx.enqueue_mail(&mail).await?;
        Ok(())
    }

    /// What `user` may do, read once.
    pub async fn principal(&self, user: User) -> Result<Principal, Error> {
        Principal::load(&self.store, &self.settings.accounts, user).await
    }

    /// Field-phase checks that need the database: a taken username or
    /// e-mail (`except` the user being changed).
    pub async fn uniqueness_errors(
        &self,
        username: Option<&str>,
        email: Option<&str>,
        except: Option<i32>,
    ) -> Result<FieldErrors, Error> {
        let mut errors = FieldErrors::new();
        if let Some(u) = username
            && self.store.username_taken(u, except).await?
        {
            errors.push(("username".into(), vec![USERNAME_TAKEN.into()]));
        }
        if let Some(e) = email.filter(|e| !e.is_empty())
            && self.settings.users.unique_email
            && self.store.email_taken(e, except).await?
        {
            errors.push(("email".into(), vec![EMAIL_TAKEN.into()]));
        }
        Ok(errors)
    }

    /// Sets a new password after the validators: every token, JWT and
    /// session of the user issued before stops working. The CLI's
    /// `changepassword` uses this.
    pub async fn set_password(&self, user: &User, password: &Password) -> Result<(), Error> {
        self.validate_password(password, &attributes(user))?;
        self.store_password(user, password, PasswordChange::default())
            .await?;
        Ok(())
    }

    /// Hashes and writes an already validated password, revoking what
    /// `change` does not keep, and queues the confirmation mail if asked.
    /// `Ok(false)`: `change.replacing` no longer matched, nothing written.
    pub(crate) async fn store_password(
        &self,
        user: &User,
        password: &Password,
        change: PasswordChange<'_>,
    ) -> Result<bool, Error> {
        let encoded = self.hash(Some(password)).await?;
        let mut tx = self.store.begin().await?;
        let written = match change.replacing {
            Some(old) => tx.replace_password_hash(user.id, old, &encoded).await?,
            None => tx.set_password_hash(user.id, &encoded).await?,
        };
        if !written {
            return Ok(false);
        }
        if change.touch_last_login {
            tx.set_last_login(user.id, Timestamp::now()).await?;
        }
        let keep = match self.settings.djoser.logout_on_password_change {
            true => None,
            false => change.keep_token,
        };
        let revoked = sessions::revoke_all(&mut tx, user.id, keep).await?;
        let how = match change.replacing {
            Some(_) => "through a reset link; every other login revoked",
            None => "set; every other login revoked",
        };
        let event = Event::new(Kind::PasswordChanged, Some(user.id), &user.username)
            .by_target()
            .detail(how);
        self.audit.in_tx(&mut tx, event).await?;
        if change.notify && self.settings.djoser.password_changed_email_confirmation {
            self.queue(
                &mut tx,
                MessageKind::PasswordChangedConfirmation,
                user,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        revoked.settle().await;
        self.mailer.wake();
        Ok(true)
    }

    /// Refuses unless `caller` may change `target` (and, for a new
    /// username or e-mail, its credentials); see `access`.
    pub(crate) async fn authorize_change(
        &self,
        caller: &Principal,
        target: &User,
        credentials: bool,
    ) -> Result<(), Error> {
        if caller.user.id == target.id {
            return Ok(());
        }
        let target = self.principal(target.clone()).await?;
        match credentials {
            true => access::may_change_credentials(caller, &target),
            false => access::may_manage(caller, &target),
        }
    }

    /// Changes `target`'s columns and, if given, the complete list of its
    /// groups, as `caller`: first who may (403), then the field errors the
    /// surface found (`update.errors`, its field phase) with unknown group
    /// ids (400), then the write. With activation e-mails on, a changed
    /// address deactivates the account and an activation mail goes to the
    /// new address, whoever made the change. Group grants follow
    /// `access::check_group_grants`.
    pub async fn update(
        &self,
        caller: &Principal,
        target: &User,
        update: UserUpdate,
    ) -> Result<User, Error> {
        let UserUpdate {
            mut changes,
            groups,
            mut errors,
        } = update;
        let email_changed = changes.email.as_ref().is_some_and(|e| *e != target.email);
        let username_changed = changes
            .username
            .as_ref()
            .is_some_and(|u| *u != target.username);
        self.authorize_change(caller, target, email_changed || username_changed)
            .await?;
        if let Some(groups) = &groups {
            let current: Vec<i32> = self
                .store
                .user_groups(&[target.id])
                .await?
                .into_iter()
                .map(|(_, g)| g.id)
                .collect();
            let changed = access::changed(&current, groups);
            access::check_group_grants(&self.store, &self.settings.accounts, caller, &changed)
                .await?;
            let missing = self.store.missing_groups(groups).await?;
            if !missing.is_empty() {
                errors.push(("groups".into(), vec![missing_message(&missing)]));
            }
        }
        // With verified changes, a user's own new address goes through a
        // link to it (`Flows::request_email_change`); an administrator
        // still sets another user's.
        if email_changed
            && caller.user.id == target.id
            && self.settings.users.email_change == crate::config::EmailChange::Verified
        {
            errors.push((
                "email".into(),
                vec![crate::domain::flows::EMAIL_CHANGE_VERIFIED.into()],
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let activation = self.settings.djoser.send_activation_email;
        if activation && email_changed {
            changes.is_active = Some(false);
        }
        let mut tx = self.store.begin().await?;
        tx.update_user(target.id, &changes)
            .await
            .map_err(|e| conflict_as_field(e, None))?;
        if let Some(groups) = &groups {
            tx.set_user_groups(target.id, groups).await?;
        }
        let updated = changes.applied_to(target);
        for event in change_events(caller, target, &updated, groups.is_some()) {
            self.audit.in_tx(&mut tx, event).await?;
        }
        // Djoser's rule: after any update, an inactive account (now
        // including one whose address just changed) is sent an activation.
        if activation && !updated.is_active {
            let hash = self
                .store
                .password_hash(target.id)
                .await?
                .unwrap_or_default();
            if !updated.email.is_empty() {
                // Refused, the change is rolled back with the mail.
                self.spend_recipient(&updated.email).await?;
            }
            let token = self.make_token(&updated, &hash);
            let url = self.settings.djoser.activation_url.clone();
            self.queue(
                &mut tx,
                MessageKind::Activation,
                &updated,
                Some((&url, &token)),
            )
            .await?;
        }
        tx.commit().await?;
        self.mailer.wake();
        Ok(updated)
    }

    /// Deletes user `id` as `caller` with everything that hangs off it —
    /// groups, permissions, tokens, sessions, profile — and then its picture
    /// file. `NotFound` if there is no such user.
    pub async fn delete(&self, caller: &Principal, id: i32) -> Result<(), Error> {
        if caller.user.id != id {
            let target = self
                .store
                .find_user_by_id(id)
                .await?
                .ok_or(Error::NotFound)?;
            self.authorize_change(caller, &target, false).await?;
        }
        let mut tx = self.store.begin().await?;
        let picture = tx.profile_picture(id).await?;
        let name = match caller.user.id == id {
            true => caller.user.username.clone(),
            false => self
                .store
                .find_user_by_id(id)
                .await?
                .map(|u| u.username)
                .unwrap_or_default(),
        };
        if !tx.delete_user(id).await? {
            return Err(Error::NotFound);
        }
        let event = Event::new(Kind::UserDeleted, Some(id), &name).by(Some(caller.user.id));
        self.audit.in_tx(&mut tx, event).await?;
        tx.commit().await?;
        if let Some(path) = picture
            && !self.store.picture_in_use(&path).await.unwrap_or(true)
        {
            pictures::remove(&self.settings.media, &path).await;
        }
        Ok(())
    }
}

/// The records of one update of `before` into `after` by `caller`: the
/// username and e-mail changes each get their own kind, every other field
/// is named in one `user_changed` (in the manner of Django's change
/// messages: "Changed first_name and is_active.").
fn change_events(caller: &Principal, before: &User, after: &User, groups: bool) -> Vec<Event> {
    let by = Some(caller.user.id);
    let named = |kind| Event::new(kind, Some(before.id), &before.username).by(by);
    let mut events = Vec::new();
    if before.username != after.username {
        events.push(named(Kind::UsernameChanged).detail(format!("now {}", after.username)));
    }
    if before.email != after.email {
        events.push(named(Kind::EmailChanged));
    }
    let mut fields: Vec<&str> = [
        ("first_name", before.first_name != after.first_name),
        ("last_name", before.last_name != after.last_name),
        ("is_active", before.is_active != after.is_active),
        ("is_staff", before.is_staff != after.is_staff),
        ("is_superuser", before.is_superuser != after.is_superuser),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    if groups {
        fields.push("groups");
    }
    if !fields.is_empty() {
        let list = match fields.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        };
        events.push(named(Kind::UserChanged).detail(format!("Changed {list}.")));
    }
    events
}
