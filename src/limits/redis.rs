//! Budgets shared by every node through Redis. governor decides in one
//! process's memory only, so the shared decision is a short Lua script
//! (the same GCRA: a theoretical arrival time per key) that Redis runs
//! atomically: two nodes spending from one budget at the same instant
//! cannot both take its last request. Redis's own clock is used, so the
//! nodes' clocks need not agree.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use redis::{AsyncTypedCommands as _, Script, aio::ConnectionManager};

use crate::config::Rate;

/// KEYS[1]: the budget. ARGV: the interval between requests (µs), the
/// burst (requests), and `take`, `give_back` or `forget`. Answers 0 when a
/// request fits (or for the other two), otherwise the wait in µs.
const GCRA: &str = r"
if ARGV[3] == 'forget' then
  redis.call('DEL', KEYS[1])
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
if ARGV[3] == 'give_back' then
  local stored = tonumber(redis.call('GET', KEYS[1]))
  if stored then
    local back = stored - interval
    if back <= now then
      redis.call('DEL', KEYS[1])
    else
      redis.call('SET', KEYS[1], back, 'PX', math.ceil((back - now) / 1000) + 1)
    end
  end
  return 0
end
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local fits_at = next_tat - interval * tonumber(ARGV[2])
if fits_at > now then
  return fits_at - now
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0
";

/// How long the nodes keep to their own budgets after Redis failed once,
/// before asking it again (so an outage costs one timeout per period, not
/// one per request).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// What a Redis call takes at most before the node decides alone.
const TIMEOUT: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Take,
    GiveBack,
    Forget,
}

pub struct Shared {
    connection: ConnectionManager,
    script: Script,
    resting_until: Mutex<Option<Instant>>,
    down: AtomicBool,
}

impl Shared {
    /// Connects lazily: a Redis that is down at start-up only means the
    /// nodes decide alone until it is up.
    pub fn new(url: &str) -> Result<Shared, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let connection = client
            .get_connection_manager_lazy(config)
            .map_err(|e| e.to_string())?;
        Ok(Shared {
            connection,
            script: Script::new(GCRA),
            resting_until: Mutex::new(None),
            down: AtomicBool::new(false),
        })
    }

    /// Redis's decision, or `None` when Redis cannot be asked now.
    pub async fn decide(
        &self,
        key: &str,
        rate: Rate,
        action: Action,
    ) -> Option<Result<(), Duration>> {
        if let Some(until) = *self.resting_until.lock().unwrap_or_else(|p| p.into_inner())
            && Instant::now() < until
        {
            return None;
        }
        let interval = (rate.period.as_micros() / u128::from(rate.count.max(1))).max(1) as u64;
        let action = match action {
            Action::Take => "take",
            Action::GiveBack => "give_back",
            Action::Forget => "forget",
        };
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(key);
        invocation.arg(interval).arg(rate.count).arg(action);
        let call = invocation.invoke_async::<u64>(&mut connection);
        let answer = tokio::time::timeout(TIMEOUT * 2, call).await;
        match answer {
            Ok(Ok(wait)) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limits: Redis answers again; budgets are shared");
                }
                Some(match wait {
                    0 => Ok(()),
                    us => Err(Duration::from_micros(us)),
                })
            }
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_string(),
                };
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        reason,
                        "rate limits: Redis cannot be reached; each node keeps its own budgets until it can"
                    );
                }
                *self.resting_until.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(Instant::now() + RETRY_AFTER_FAILURE);
                None
            }
        }
    }

    /// Answers PING (for `doorman check`).
    pub async fn ping(&self) -> Result<(), String> {
        let mut connection = self.connection.clone();
        tokio::time::timeout(TIMEOUT * 2, connection.ping())
            .await
            .map_err(|_| "timed out".to_string())?
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
