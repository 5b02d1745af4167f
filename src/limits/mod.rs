//! Rate limits (SPEC §7): a budget per class of request and key (the
//! client address, an account at an address, a mail recipient), in this
//! node's memory (`memory`, governor's GCRA) or, with
//! `rate_limit.redis_url`, in Redis so every node draws on one budget
//! (`redis`). When Redis cannot be reached each node falls back to its own
//! budgets: the service stays available, the limits become per node, and
//! the log and `/readyz` say so.
//!
//! A decision spends (`take`, atomic: two concurrent requests cannot both
//! have the last one); a request that turned out not to count gives its
//! share back (`give_back`: a failed-login budget is spent before the
//! password is checked, and a success returns it); `forget` starts a key
//! afresh.

mod memory;
mod redis;

use std::{sync::Arc, time::Duration};

use sha2::{Digest, Sha256};

use crate::config::{Rate, RateLimitSettings};

/// The classes of `[rate_limit]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Failed logins in a row for one account from one address.
    LoginFailuresPerAccount,
    LoginFailuresPerAddress,
    Logins,
    Registrations,
    Mail,
    MailPerRecipient,
    Confirms,
    Refreshes,
    Requests,
}

impl Class {
    pub const ALL: [Class; 9] = [
        Class::LoginFailuresPerAccount,
        Class::LoginFailuresPerAddress,
        Class::Logins,
        Class::Registrations,
        Class::Mail,
        Class::MailPerRecipient,
        Class::Confirms,
        Class::Refreshes,
        Class::Requests,
    ];

    /// The setting's name, also the Redis key's part.
    pub fn name(self) -> &'static str {
        match self {
            Class::LoginFailuresPerAccount => "login_failures_per_account",
            Class::LoginFailuresPerAddress => "login_failures_per_address",
            Class::Logins => "logins_per_address",
            Class::Registrations => "registrations_per_address",
            Class::Mail => "mail_per_address",
            Class::MailPerRecipient => "mail_per_recipient",
            Class::Confirms => "confirms_per_address",
            Class::Refreshes => "refreshes_per_address",
            Class::Requests => "requests_per_address",
        }
    }

    fn rate(self, s: &RateLimitSettings) -> Option<Rate> {
        match self {
            Class::LoginFailuresPerAccount => s.login_failures_per_account.0,
            Class::LoginFailuresPerAddress => s.login_failures_per_address.0,
            Class::Logins => s.logins_per_address.0,
            Class::Registrations => s.registrations_per_address.0,
            Class::Mail => s.mail_per_address.0,
            Class::MailPerRecipient => s.mail_per_recipient.0,
            Class::Confirms => s.confirms_per_address.0,
            Class::Refreshes => s.refreshes_per_address.0,
            Class::Requests => s.requests_per_address.0,
        }
    }
}

/// Over a budget: the whole seconds until the next request fits (at
/// least 1), as `Retry-After` and DRF's message give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
}

impl Throttled {
    fn after(wait: Duration) -> Throttled {
        Throttled {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
        .at_least_one()
    }

    fn at_least_one(self) -> Throttled {
        Throttled {
            retry_after_secs: self.retry_after_secs.max(1),
        }
    }
}

struct Budget {
    class: Class,
    rate: Rate,
    memory: memory::Budgets,
}

struct Inner {
    budgets: Vec<Budget>,
    shared: Option<redis::Shared>,
}

/// Every budget of this node (cheap to clone).
#[derive(Clone)]
pub struct Limits(Arc<Inner>);

impl Limits {
    /// The budgets the settings ask for; none when `enabled` is off.
    pub fn new(settings: &RateLimitSettings) -> Result<Limits, String> {
        let budgets = match settings.enabled {
            false => Vec::new(),
            true => Class::ALL
                .into_iter()
                .filter_map(|class| {
                    class.rate(settings).map(|rate| Budget {
                        class,
                        rate,
                        memory: memory::Budgets::new(rate),
                    })
                })
                .collect(),
        };
        let shared = match (&settings.redis_url, settings.enabled) {
            (Some(url), true) => Some(redis::Shared::new(url)?),
            _ => None,
        };
        Ok(Limits(Arc::new(Inner { budgets, shared })))
    }

    /// No limits at all (tools that serve no requests).
    pub fn off() -> Limits {
        Limits(Arc::new(Inner {
            budgets: Vec::new(),
            shared: None,
        }))
    }

    fn budget(&self, class: Class) -> Option<&Budget> {
        self.0.budgets.iter().find(|b| b.class == class)
    }

    /// Spends one request of `class` for `key`, or says how long to wait.
    pub async fn take(&self, class: Class, key: &str) -> Result<(), Throttled> {
        self.decide(class, key, redis::Action::Take).await
    }

    /// Returns one request of `class` spent for `key`.
    pub async fn give_back(&self, class: Class, key: &str) {
        let _ = self.decide(class, key, redis::Action::GiveBack).await;
    }

    /// Starts `key`'s budget afresh.
    pub async fn forget(&self, class: Class, key: &str) {
        let _ = self.decide(class, key, redis::Action::Forget).await;
    }

    async fn decide(
        &self,
        class: Class,
        key: &str,
        action: redis::Action,
    ) -> Result<(), Throttled> {
        let Some(budget) = self.budget(class) else {
            return Ok(());
        };
        let digest = digest(class, key);
        if let Some(shared) = &self.0.shared {
            let redis_key = format!("doorman:rate:{}:{}", class.name(), hex::encode(digest));
            if let Some(answer) = shared.decide(&redis_key, budget.rate, action).await {
                // The node's own budget follows along, so that falling back
                // starts from what this node has seen.
                match action {
                    redis::Action::Forget => budget.memory.forget(digest),
                    redis::Action::GiveBack => budget.memory.give_back(digest),
                    redis::Action::Take if answer.is_ok() => {
                        let _ = budget.memory.take(digest);
                    }
                    redis::Action::Take => {}
                }
                return answer.map_err(Throttled::after);
            }
        }
        match action {
            redis::Action::Forget => {
                budget.memory.forget(digest);
                Ok(())
            }
            redis::Action::Take => budget.memory.take(digest).map_err(Throttled::after),
            redis::Action::GiveBack => {
                budget.memory.give_back(digest);
                Ok(())
            }
        }
    }

    /// Drops keys whose budgets are full again (run now and then).
    pub fn sweep(&self) {
        for budget in &self.0.budgets {
            budget.memory.sweep();
        }
    }

    /// Checks Redis, when configured (for `doorman check`).
    pub async fn check_shared(&self) -> Option<Result<(), String>> {
        match &self.0.shared {
            Some(shared) => Some(shared.ping().await),
            None => None,
        }
    }
}

/// A fixed-size key: the class and the key text, hashed (a key may be an
/// attacker's input, and an e-mail address is not kept in Redis as such).
fn digest(class: Class, key: &str) -> [u8; 16] {
    let mut hash = Sha256::new();
    hash.update(class.name().as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    let full = hash.finalize();
    let mut out = [0; 16];
    out.copy_from_slice(&full[..16]);
    out
}
