//! Lockouts as admins see them: where a user's failed-login budget ran out
//! (recorded when an attempt was refused), and clearing them — from the
//! Accounts API as an admin who may manage the user, or from the CLI.

use std::sync::Arc;

use time::{Duration as TimeDuration, OffsetDateTime};

use super::{User, Users};
use crate::{
    domain::{
        Error,
        access::Principal,
        audit::{self, Event, Kind},
    },
    store::{Lockout, Timestamp},
};

impl Users {
    /// Records, off the request's path, that a login for `user_id` from
    /// `address` was refused for `retry_after_secs` more seconds: the write
    /// must not make a known account's refusal slower than an unknown's.
    pub(super) fn note_lockout(&self, user_id: i32, address: &str, retry_after_secs: u64) {
        // A bounded number of these writes at once: refusals come as fast
        // as an attacker's login budget allows, and a record skipped under
        // that load loses only a count (the lockout row already exists).
        let Ok(permit) = Arc::clone(&self.lockout_writes).try_acquire_owned() else {
            return;
        };
        let store = self.store.clone();
        let audit = self.audit.clone();
        let address = address.to_string();
        let until = OffsetDateTime::now_utc()
            + TimeDuration::seconds(i64::try_from(retry_after_secs).unwrap_or(i64::MAX / 2));
        // The spawned task has no request of its own: it carries this one's.
        let context = audit::current();
        tokio::spawn(audit::within(context, async move {
            let _permit = permit;
            match store
                .record_lockout(user_id, &address, Timestamp(until))
                .await
            {
                Ok(true) => {
                    // Named by the account's username (never by the login
                    // as typed), read here, off the request's path.
                    let name = match store.find_user_by_id(user_id).await {
                        Ok(Some(user)) => user.username,
                        _ => String::new(),
                    };
                    let event = Event::new(Kind::Lockout, Some(user_id), &name)
                        .refused()
                        .detail(format!("failed-login budget spent at {address}"));
                    audit.alone(&store, event).await;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(user_id, error = %e, "cannot record a lockout"),
            }
        }));
    }

    /// The user's lockouts in force. `caller`: the admin asking (who must
    /// be allowed to manage the user), or `None` for the operator (CLI).
    pub async fn lockouts(
        &self,
        caller: Option<&Principal>,
        user_id: i32,
    ) -> Result<Vec<Lockout>, Error> {
        self.authorize_lockouts(caller, user_id).await?;
        Ok(self.store.lockouts(user_id).await?)
    }

    /// Clears the user's lockouts everywhere (every node, Redis), so they
    /// can sign in again at once from the addresses that were refused;
    /// returns how many were in force. The per-address budgets are the
    /// address's own and are left alone.
    pub async fn unlock(&self, caller: Option<&Principal>, user_id: i32) -> Result<u64, Error> {
        let target = self.authorize_lockouts(caller, user_id).await?;
        let mut tx = self.store.begin().await?;
        let mut logins = vec![super::budget_login(&target.username)];
        if !target.email.is_empty() {
            logins.push(super::budget_login(&target.email));
        }
        let cleared = tx.clear_lockouts(user_id, &logins).await?;
        let event = Event::new(Kind::Unlock, Some(user_id), &target.username)
            .by(caller.map(|c| c.user.id))
            .detail(format!("{cleared} lockout(s) cleared"));
        self.audit.in_tx(&mut tx, event).await?;
        tx.commit().await?;
        Ok(cleared)
    }

    async fn authorize_lockouts(
        &self,
        caller: Option<&Principal>,
        user_id: i32,
    ) -> Result<User, Error> {
        let target = self
            .store
            .find_user_by_id(user_id)
            .await?
            .ok_or(Error::NotFound)?;
        if let Some(caller) = caller {
            self.authorize_change(caller, &target, false).await?;
        }
        Ok(target)
    }
}
