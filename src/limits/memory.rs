//! One node's budgets, decided by governor's GCRA.
//!
//! governor's own keyed stores can only spend: a limiter asks its store to
//! measure and replace a key's state. Two things this service needs are not
//! there, so the store is ours (governor's `StateStore` is the extension
//! point made for this): *giving back* what a request spent (a failed-login
//! budget is spent before the password is checked, so concurrent guesses
//! cannot all slip past it, and a success returns it), and *forgetting* a
//! key (a successful login starts its account's count again). The
//! decision arithmetic stays governor's.

use std::{
    num::{NonZeroU32, NonZeroU64},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use dashmap::DashMap;
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    nanos::Nanos,
    state::{StateStore, keyed::ShrinkableKeyedStateStore},
};

use crate::config::Rate;

/// A budget's key (a digest, so an attacker's long input costs 16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Probe {
    pub key: [u8; 16],
}

/// Each key's theoretical arrival time, in governor's nanoseconds since
/// the limiter started (0: none yet).
#[derive(Default)]
struct Cells(DashMap<[u8; 16], AtomicU64>);

#[derive(Clone, Default)]
struct Shared(Arc<Cells>);

impl StateStore for Shared {
    type Key = Probe;

    fn measure_and_replace<T, F, E>(&self, probe: &Probe, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let decide = |cell: &AtomicU64| {
            let mut seen = cell.load(Ordering::Acquire);
            loop {
                let (result, next) = f(NonZeroU64::new(seen).map(|n| Nanos::from(n.get())))?;
                match cell.compare_exchange_weak(
                    seen,
                    u64::from(next),
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(result),
                    Err(now) => seen = now,
                }
            }
        };
        if let Some(cell) = self.0.0.get(&probe.key) {
            return decide(&cell);
        }
        let cell = self.0.0.entry(probe.key).or_default();
        decide(&cell)
    }
}

impl ShrinkableKeyedStateStore<Probe> for Shared {
    fn retain_recent(&self, drop_below: Nanos) {
        let below = u64::from(drop_below);
        self.0
            .0
            .retain(|_, cell| cell.load(Ordering::Relaxed) > below);
    }

    fn len(&self) -> usize {
        self.0.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.0.is_empty()
    }
}

/// One class's budgets on this node.
pub struct Budgets {
    limiter:
        RateLimiter<Probe, Shared, DefaultClock, NoOpMiddleware<<DefaultClock as Clock>::Instant>>,
    cells: Shared,
    clock: DefaultClock,
    /// Nanoseconds between two requests: what one request moves the
    /// theoretical arrival time.
    interval: u64,
}

impl Budgets {
    pub fn new(rate: Rate) -> Budgets {
        let burst = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
        let interval = (rate.period / burst.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(interval)
            .expect("a positive interval")
            .allow_burst(burst);
        let clock = DefaultClock::default();
        let cells = Shared::default();
        Budgets {
            limiter: RateLimiter::new(quota, cells.clone(), clock.clone()),
            cells,
            clock,
            interval: u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// Spends one request if it fits; `Err` is how long until one does.
    pub fn take(&self, key: [u8; 16]) -> Result<(), Duration> {
        self.limiter
            .check_key(&Probe { key })
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Returns one request spent earlier (never more than was spent: the
    /// arrival time only moves back towards "unused").
    pub fn give_back(&self, key: [u8; 16]) {
        if let Some(cell) = self.cells.0.0.get(&key) {
            let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                Some(tat.saturating_sub(self.interval))
            });
        }
    }

    pub fn forget(&self, key: [u8; 16]) {
        self.cells.0.0.remove(&key);
    }

    /// Drops the keys whose budget is full again, so memory follows the
    /// keys in use rather than every key ever seen.
    pub fn sweep(&self) {
        self.limiter.retain_recent();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_with_the_wait() {
        let budgets = Budgets::new(Rate::new(3, 60));
        let key = [1; 16];
        for _ in 0..3 {
            budgets.take(key).unwrap();
        }
        let wait = budgets.take(key).unwrap_err();
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Another key has its own budget.
        budgets.take([2; 16]).unwrap();
    }

    #[test]
    fn giving_back_and_forgetting_refill() {
        let budgets = Budgets::new(Rate::new(2, 60));
        let key = [7; 16];
        budgets.take(key).unwrap();
        budgets.take(key).unwrap();
        assert!(budgets.take(key).is_err());
        budgets.give_back(key);
        budgets.take(key).unwrap();
        assert!(budgets.take(key).is_err());
        budgets.forget(key);
        assert_eq!(budgets.len(), 0);
        budgets.take(key).unwrap();
        budgets.take(key).unwrap();
        // Giving back more than was spent leaves a full budget, no more.
        for _ in 0..5 {
            budgets.give_back(key);
        }
        budgets.take(key).unwrap();
        budgets.take(key).unwrap();
        assert!(budgets.take(key).is_err());
    }
}
