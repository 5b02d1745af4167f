//! One node's budgets, decided by governor's GCRA.
//!
//! governor's own keyed stores can only spend: a limiter asks its store to
//! measure and replace a key's state. Two things this service needs are not
//! there, so the store is ours (governor's `StateStore` is the extension
//! point made for this): a *look* that measures without replacing (a
//! failed-login budget refuses the attempt before the password is checked,
//! but only a failure spends it), and *forgetting* a key (a successful
//! login starts its account's count again). The arithmetic stays
//! governor's.

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

/// A budget's key (a digest, so an attacker's long input costs 16 bytes),
/// and whether this decision may spend from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Probe {
    pub key: [u8; 16],
    pub spend: bool,
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
                if !probe.spend {
                    return Ok(result);
                }
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
        if !probe.spend {
            return f(None).map(|(result, _)| result);
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
        }
    }

    /// `Ok` if one more request fits; spends it when `spend`. `Err` is
    /// how long until one fits.
    pub fn decide(&self, key: [u8; 16], spend: bool) -> Result<(), Duration> {
        self.limiter
            .check_key(&Probe { key, spend })
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
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
            budgets.decide(key, true).unwrap();
        }
        let wait = budgets.decide(key, true).unwrap_err();
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Another key has its own budget.
        budgets.decide([2; 16], true).unwrap();
    }

    #[test]
    fn looking_spends_nothing_and_forgetting_refills() {
        let budgets = Budgets::new(Rate::new(2, 60));
        let key = [7; 16];
        for _ in 0..10 {
            budgets.decide(key, false).unwrap();
        }
        assert_eq!(budgets.len(), 0, "a look stores nothing");
        budgets.decide(key, true).unwrap();
        budgets.decide(key, true).unwrap();
        assert!(
            budgets.decide(key, false).is_err(),
            "a look sees the spent budget"
        );
        budgets.forget(key);
        budgets.decide(key, true).unwrap();
    }
}
