//! The audit trail: which security events are recorded, with what, and
//! the request context every record carries.
//!
//! Each change records its event in its own transaction (`in_tx`), so a
//! change and its record land together or not at all; events that change
//! nothing (a failed login) are written alone (`alone`). Every record is
//! also counted per kind for `/metrics`.
//!
//! The request's context (client address, user agent, request id) is
//! ambient, like the tracing span: the HTTP frame sets it once per request
//! (`within`) and the records read it here, rather than threading three
//! more arguments through every domain operation that records something.
//! Outside a request (the CLI) the context says so.

use std::future::Future;

use crate::{
    metrics::Metrics,
    model::{AuditEntry, AuditQuery, NewAuditEntry},
    store::{Store, Tx},
};

use super::{Error, access::Principal};

/// Where a request came from, as the records show it.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub address: String,
    pub user_agent: String,
    pub request_id: String,
}

tokio::task_local! {
    static CONTEXT: Context;
}

/// Runs `work` with `context` as the context of every record it writes.
pub async fn within<F: Future>(context: Context, work: F) -> F::Output {
    CONTEXT.scope(context, work).await
}

/// The context of the running request; the CLI's outside one.
pub fn current() -> Context {
    CONTEXT
        .try_with(Context::clone)
        .unwrap_or_else(|_| Context {
            address: String::new(),
            user_agent: "doorman cli".into(),
            request_id: String::new(),
        })
}

/// The events recorded. The names are stable: they are stored, filtered
/// on and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LoginSucceeded,
    LoginFailed,
    Logout,
    Lockout,
    Unlock,
    PasswordChanged,
    PasswordResetRequested,
    UsernameChanged,
    EmailChanged,
    Activated,
    TokensRevoked,
    UserCreated,
    UserChanged,
    UserDeleted,
    RoleCreated,
    RoleChanged,
    RoleDeleted,
    ProfileRolesChanged,
    MfaChanged,
    EmailChangeRequested,
}

impl Kind {
    pub const ALL: [Kind; 20] = [
        Kind::LoginSucceeded,
        Kind::LoginFailed,
        Kind::Logout,
        Kind::Lockout,
        Kind::Unlock,
        Kind::PasswordChanged,
        Kind::PasswordResetRequested,
        Kind::UsernameChanged,
        Kind::EmailChanged,
        Kind::Activated,
        Kind::TokensRevoked,
        Kind::UserCreated,
        Kind::UserChanged,
        Kind::UserDeleted,
        Kind::RoleCreated,
        Kind::RoleChanged,
        Kind::RoleDeleted,
        Kind::ProfileRolesChanged,
        Kind::MfaChanged,
        Kind::EmailChangeRequested,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LoginSucceeded => "login_succeeded",
            Kind::LoginFailed => "login_failed",
            Kind::Logout => "logout",
            Kind::Lockout => "lockout",
            Kind::Unlock => "unlock",
            Kind::PasswordChanged => "password_changed",
            Kind::PasswordResetRequested => "password_reset_requested",
            Kind::UsernameChanged => "username_changed",
            Kind::EmailChanged => "email_changed",
            Kind::Activated => "activated",
            Kind::TokensRevoked => "tokens_revoked",
            Kind::UserCreated => "user_created",
            Kind::UserChanged => "user_changed",
            Kind::UserDeleted => "user_deleted",
            Kind::RoleCreated => "role_created",
            Kind::RoleChanged => "role_changed",
            Kind::RoleDeleted => "role_deleted",
            Kind::ProfileRolesChanged => "profile_roles_changed",
            Kind::MfaChanged => "mfa_changed",
            Kind::EmailChangeRequested => "email_change_requested",
        }
    }
}

/// One event before it is stored: what, about whom, by whom, and how it
/// ended (`success`, `failure` or `refused`).
#[derive(Debug, Clone)]
pub struct Event {
    kind: Kind,
    outcome: &'static str,
    actor_id: Option<i32>,
    target_id: Option<i32>,
    target: String,
    detail: String,
}

impl Event {
    /// A successful `kind` concerning the user `target_id` (named `target`).
    pub fn new(kind: Kind, target_id: Option<i32>, target: &str) -> Event {
        Event {
            kind,
            outcome: "success",
            actor_id: None,
            target_id,
            target: truncate(target, 254),
            detail: String::new(),
        }
    }

    /// Done by `actor`.
    pub fn by(mut self, actor: Option<i32>) -> Event {
        self.actor_id = actor;
        self
    }

    /// Done by the target themself when in a request (a signed-in user, or
    /// whoever holds their reset link); by the operator at the CLI.
    pub fn by_target(mut self) -> Event {
        self.actor_id = CONTEXT.try_with(|_| self.target_id).ok().flatten();
        self
    }

    pub fn failed(mut self) -> Event {
        self.outcome = "failure";
        self
    }

    pub fn refused(mut self) -> Event {
        self.outcome = "refused";
        self
    }

    /// What changed or why it failed, in words; never a secret.
    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = truncate(&detail.into(), 1000);
        self
    }

    fn entry(self) -> NewAuditEntry {
        let context = current();
        NewAuditEntry {
            kind: self.kind.as_str(),
            outcome: self.outcome,
            actor_id: self.actor_id,
            target_id: self.target_id,
            target: self.target,
            address: context.address,
            user_agent: truncate(&context.user_agent, 256),
            request_id: context.request_id,
            detail: self.detail,
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Writes records and counts them.
#[derive(Clone)]
pub struct Audit {
    metrics: std::sync::Arc<Metrics>,
}

impl Audit {
    pub fn new(metrics: std::sync::Arc<Metrics>) -> Audit {
        Audit { metrics }
    }

    /// Records `event` in `tx`, with the change it describes. Counted at
    /// once: a rolled-back change is rare enough (a fault) not to skew it.
    pub async fn in_tx(&self, tx: &mut Tx, event: Event) -> Result<(), Error> {
        let kind = event.kind;
        tx.insert_audit(&event.entry()).await?;
        self.metrics.count_audit(kind.as_str());
        Ok(())
    }

    /// Records an event that goes with no change. A failure to write it is
    /// logged and does not fail the request it describes.
    pub async fn alone(&self, store: &Store, event: Event) {
        let kind = event.kind;
        match store.insert_audit(&event.entry()).await {
            Ok(()) => self.metrics.count_audit(kind.as_str()),
            Err(e) => {
                tracing::warn!(kind = kind.as_str(), error = %e, "cannot record an audit event")
            }
        }
    }
}

/// Most events one read returns.
pub const MAX_PAGE: u32 = 500;

/// Reads the trail (see `AuditQuery`) as `caller` (`None`: the operator at
/// the CLI). Only a full admin reads it: it holds every user's addresses
/// and sign-in times, superusers' included, so a delegated permission to
/// view users is not enough. The limit is held to 1..=500 and a kind must
/// be one of `Kind::ALL`.
pub async fn trail(
    store: &Store,
    caller: Option<&Principal>,
    mut query: AuditQuery,
) -> Result<Vec<AuditEntry>, Error> {
    if caller.is_some_and(|c| !c.is_full_admin()) {
        return Err(Error::Forbidden);
    }
    query.limit = query.limit.clamp(1, MAX_PAGE);
    if let Some(kind) = &query.kind
        && !Kind::ALL.iter().any(|k| k.as_str() == kind)
    {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        return Err(Error::field(
            "kind",
            format!("Unknown event kind; one of: {}.", known.join(", ")),
        ));
    }
    Ok(store.audit(&query).await?)
}
