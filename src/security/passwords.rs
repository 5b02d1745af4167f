//! The async face of password hashing. `PasswordService` owns two policies:
//! hashing never runs on the async runtime's threads, nor on its shared
//! blocking pool, but on a small set of dedicated threads (`concurrency`
//! of them, one per CPU by default), so at most that many hashes run at once
//! and a burst of logins queues instead of exhausting memory — each Argon2
//! run holds its whole memory cost. It also keeps timing flat: an unknown
//! user, or one whose stored hash cannot be checked, costs one
//! current-parameters Argon2 verification just like a real account.
//!
//! Why dedicated threads rather than `spawn_blocking` behind a semaphore
//! (what this was first): the blocking pool hands work to whichever of its
//! up to 512 threads is free, and glibc gives threads their own malloc
//! arenas, each of which kept a freed 19 MiB Argon2 buffer. The benchmark
//! saw the server's RSS climb to ~700 MiB after a login burst and stay
//! there. With a fixed set of threads the memory held is bounded by
//! `concurrency` buffers, and a thread reuses its buffer from one hash to
//! the next. Hand-written because it is a queue and a few threads; no crate
//! adds anything here.

use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::sync::oneshot;

use crate::model::Password;
#[cfg(test)]
use crate::security::hashers::Argon2Params;
use crate::security::hashers::{self, HashPolicy, Verification};

/// Why a hash could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The hashing work panicked, or its thread has gone.
    #[error("password hashing task failed")]
    TaskFailed,
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A hashing thread that has had no work for this long gives its Argon2
/// memory (19 MiB with the default parameters) back. Kept while logins keep
/// coming, so a burst reuses it; released when they stop, so the server's
/// resident memory between bursts is what serving requests needs. Each
/// idle thread times out on its own (they wait on one condition variable).
const IDLE_RELEASE: Duration = Duration::from_secs(1);

/// The jobs waiting for a hashing thread. Hand-written (a `VecDeque` under a
/// mutex with a condition variable) rather than a channel: every idle
/// thread must be able to time out and release its memory, and a channel's
/// receiver can only be waited on by one thread at a time.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    /// Set when the service is dropped: the threads finish.
    closed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Jobs run outside the lock and catch their panics, so a poisoned
        // lock still guards a consistent queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next job, or `None` once the queue is closed.
    fn take(&self, holding_memory: &mut bool) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            let (next, waited) = self
                .ready
                .wait_timeout(state, IDLE_RELEASE)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            if waited.timed_out() && *holding_memory && state.jobs.is_empty() {
                // Freed outside the lock: queueing a job (from the async
                // runtime) must never wait for an unmap.
                drop(state);
                hashers::release_thread_memory();
                *holding_memory = false;
                state = self.lock();
            }
        }
    }
}

/// The hashing threads. They end when the last `PasswordService` clone is
/// dropped.
struct Workers {
    queue: Arc<Queue>,
    /// How many threads started; 0 makes every hash fail at once rather
    /// than wait for ever.
    threads: usize,
}

impl Workers {
    fn start(threads: usize) -> Workers {
        let queue = Arc::new(Queue::default());
        let mut started = 0;
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("doorman-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    let mut holding_memory = false;
                    while let Some(job) = queue.take(&mut holding_memory) {
                        job();
                        holding_memory = true;
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(error) => {
                    tracing::error!(%error, "could not start a password hashing thread");
                }
            }
        }
        Workers {
            queue,
            threads: started,
        }
    }

    /// Queues `job`; false if no thread can ever run it.
    fn push(&self, job: Job) -> bool {
        if self.threads == 0 {
            return false;
        }
        self.queue.lock().jobs.push_back(job);
        self.queue.ready.notify_one();
        true
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
    }
}

/// Puts the calling (hashing) thread at the lowest CPU priority, nice 19.
/// With one hashing thread per core, a login burst keeps every core busy;
/// at equal priority a request that needs no hash (`users/me/`) then waits
/// for the scheduler behind them — the benchmark measured its p99 going
/// from 8 to 15 ms. At nice 19 the kernel runs the async runtime first and
/// gives hashing the rest, so logins lose only the CPU other requests use.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // On Linux, PRIO_PROCESS with a thread id applies to that thread.
        let tid = rustix::thread::gettid();
        if let Err(error) = rustix::process::setpriority_process(Some(tid), 19) {
            tracing::warn!(%error, "could not lower the priority of a password hashing thread");
        }
    }
}

/// Runs password hashing off the runtime with bounded concurrency.
/// Cheap to clone; clones share the same threads.
#[derive(Clone)]
pub struct PasswordService {
    policy: HashPolicy,
    workers: Arc<Workers>,
    /// The longest check seen so far (nanoseconds of hashing, not of
    /// waiting for a thread): what a failed login is padded to, so that
    /// an account on a slow legacy hash cannot be told from one that does
    /// not exist.
    slowest: Arc<std::sync::atomic::AtomicU64>,
}

/// A single pathological hash (say, PBKDF2 with a hundred million
/// iterations) must not make every failed login that slow.
const SLOWEST_CAP: Duration = Duration::from_secs(2);

impl std::fmt::Debug for PasswordService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordService")
            .field("policy", &self.policy)
            .field("threads", &self.workers.threads)
            .finish()
    }
}

impl PasswordService {
    /// `concurrency` is the number of hashes allowed to run at once (and of
    /// hashing threads); 0 means one per available CPU.
    pub fn new(policy: HashPolicy, concurrency: usize) -> Self {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            concurrency
        };
        Self {
            policy,
            workers: Arc::new(Workers::start(concurrency.min(1024))),
            slowest: Arc::default(),
        }
    }

    /// How new hashes are made.
    pub fn policy(&self) -> &HashPolicy {
        &self.policy
    }

    /// Hashes `password` with the current parameters (Django's encoded form).
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let password = password.clone();
        let policy = self.policy.clone();
        self.run(move || policy.make(password.expose())).await
    }

    /// Checks `password` against `encoded`; `None` means there is no such
    /// user, which does the same work as a real check and answers `NoMatch`.
    pub async fn verify(&self, password: &Password, encoded: Option<&str>) -> Verification {
        self.verify_timed(password, encoded).await.0
    }

    /// The longest check seen so far (see `slowest`), at most two seconds.
    pub fn slowest(&self) -> Duration {
        Duration::from_nanos(self.slowest.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Learns what checking each of `hashes` costs (they are checked
    /// against a password none of them holds), so the failed-login floor
    /// is right before the first attacker measures it.
    pub async fn learn_costs(&self, hashes: Vec<String>) {
        let probe = Password::new("doorman: what does this hash cost?".into());
        for encoded in hashes {
            self.verify_timed(&probe, Some(&encoded)).await;
        }
    }

    /// `verify`, and how long the hashing itself took.
    pub async fn verify_timed(
        &self,
        password: &Password,
        encoded: Option<&str>,
    ) -> (Verification, Duration) {
        let password = password.clone();
        let encoded = encoded.map(str::to_owned);
        let policy = self.policy.clone();
        let outcome = self
            .run(move || {
                let started = std::time::Instant::now();
                let outcome = check(&password, encoded.as_deref(), &policy);
                (outcome, started.elapsed())
            })
            .await;
        let (outcome, took) =
            outcome.unwrap_or((Verification::Invalid("internal"), Duration::ZERO));
        let nanos = u64::try_from(took.min(SLOWEST_CAP).as_nanos()).unwrap_or(u64::MAX);
        self.slowest
            .fetch_max(nanos, std::sync::atomic::Ordering::Relaxed);
        (outcome, took)
    }
}

impl PasswordService {
    /// Queues `work` for the hashing threads and waits for its result. If
    /// the caller's future is dropped (the client went away), work already
    /// running still finishes, and the bound on concurrent hashes holds.
    async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            // The receiver may be gone (caller dropped); nothing to do then.
            let _ = done.send(outcome.ok());
        });
        if !self.workers.push(job) {
            tracing::error!("no password hashing thread is running");
            return Err(PasswordError::TaskFailed);
        }
        match result.await {
            Ok(Some(value)) => Ok(value),
            _ => {
                tracing::error!("password hashing task failed");
                Err(PasswordError::TaskFailed)
            }
        }
    }
}

/// One check, on a hashing thread.
fn check(password: &Password, encoded: Option<&str>, policy: &HashPolicy) -> Verification {
    let Some(encoded) = encoded else {
        policy.dummy_verify(password.expose());
        return Verification::NoMatch;
    };
    let outcome = policy.verify(password.expose(), encoded);
    // Unusable and invalid hashes are answered without hashing; pad them to
    // a real check's cost so that response time does not tell an attacker
    // which accounts have no password.
    if matches!(outcome, Verification::Unusable | Verification::Invalid(_)) {
        policy.dummy_verify(password.expose());
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(concurrency: usize) -> PasswordService {
        PasswordService::new(
            HashPolicy::argon2(Argon2Params::danger_fast_for_tests()),
            concurrency,
        )
    }

    fn password(text: &str) -> Password {
        Password::new(text.to_owned())
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let service = service(2);
        let encoded = service.hash(&password("pässwörd✓")).await.expect("hashes");
        assert_eq!(
            service.verify(&password("pässwörd✓"), Some(&encoded)).await,
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            service.verify(&password("wrong"), Some(&encoded)).await,
            Verification::NoMatch
        );
    }

    /// A thread keeps its Argon2 memory between hashes and gives it back
    /// once it has been idle for `IDLE_RELEASE`.
    #[tokio::test]
    async fn idle_threads_release_their_memory() {
        let service = service(1);
        service.hash(&password("pw")).await.expect("hashes");
        let kept = service.run(hashers::kept_blocks).await.expect("runs");
        assert!(kept > 0, "kept between hashes");
        tokio::time::sleep(IDLE_RELEASE + Duration::from_millis(300)).await;
        let kept = service.run(hashers::kept_blocks).await.expect("runs");
        assert_eq!(kept, 0, "released when idle");
    }

    #[tokio::test]
    async fn unknown_user_is_no_match() {
        assert_eq!(
            service(1).verify(&password("x"), None).await,
            Verification::NoMatch
        );
    }

    #[tokio::test]
    async fn unusable_and_invalid_pass_through() {
        let service = service(1);
        let unusable = hashers::make_unusable_password();
        assert_eq!(
            service.verify(&password("x"), Some(&unusable)).await,
            Verification::Unusable
        );
        assert!(matches!(
            service.verify(&password("x"), Some("bogus$1")).await,
            Verification::Invalid(_)
        ));
    }

    #[tokio::test]
    async fn zero_concurrency_means_cpu_count() {
        let service = service(0);
        assert!(service.workers.threads >= 1);
        assert_eq!(
            service.policy().argon2,
            Argon2Params::danger_fast_for_tests()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_work_all_completes_on_one_thread() {
        let service = service(1);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let service = service.clone();
                tokio::spawn(async move { service.hash(&password(&format!("pw{i}"))).await })
            })
            .collect();
        for task in tasks {
            assert!(task.await.expect("joins").is_ok());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_concurrency_hashes_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let service = service(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (service, running, peak) = (service.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    service
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(5));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.expect("joins").is_ok());
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=2).contains(&peak), "peak {peak}");
    }

    #[tokio::test]
    async fn panicking_work_is_an_error_not_a_crash() {
        let service = service(1);
        let result: Result<(), _> = service.run(|| panic!("boom")).await;
        assert!(matches!(result, Err(PasswordError::TaskFailed)));
        // The thread survived the panic and takes the next job.
        assert!(service.hash(&password("after")).await.is_ok());
    }
}
