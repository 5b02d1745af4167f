//! The async face of password hashing. `PasswordService` owns two policies:
//! hashing never runs on the async runtime's worker threads (it goes to
//! `spawn_blocking`), and at most `concurrency` hashes run at once (a
//! semaphore), so a burst of logins queues instead of exhausting memory —
//! each Argon2 run holds its whole memory cost. It also keeps timing flat:
//! an unknown user, or one whose stored hash cannot be checked, costs one
//! current-parameters Argon2 verification just like a real account.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::domain::password::Password;
use crate::security::hashers::{self, Argon2Params, Verification};

/// Why a hash could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The blocking hashing task panicked or was cancelled at shutdown.
    #[error("password hashing task failed")]
    TaskFailed,
}

/// Runs password hashing off the runtime with bounded concurrency.
/// Cheap to clone; clones share the same permits.
#[derive(Clone)]
pub struct PasswordService {
    params: Argon2Params,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for PasswordService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordService")
            .field("params", &self.params)
            .field("available_permits", &self.permits.available_permits())
            .finish()
    }
}

impl PasswordService {
    /// `concurrency` is the number of hashes allowed to run at once;
    /// 0 means one per available CPU.
    pub fn new(params: Argon2Params, concurrency: usize) -> Self {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            concurrency
        };
        Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> &Argon2Params {
        &self.params
    }

    /// Hashes `password` with the current parameters (Django's encoded form).
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let password = password.clone();
        let params = self.params.clone();
        self.run(move || hashers::make_password(password.expose(), &params))
            .await
    }

    /// Checks `password` against `encoded`; `None` means there is no such
    /// user, which does the same work as a real check and answers `NoMatch`.
    pub async fn verify(&self, password: &Password, encoded: Option<&str>) -> Verification {
        let password = password.clone();
        let encoded = encoded.map(str::to_owned);
        let params = self.params.clone();
        let outcome = self
            .run(move || {
                let Some(encoded) = encoded else {
                    hashers::dummy_verify(password.expose(), &params);
                    return Verification::NoMatch;
                };
                let outcome = hashers::verify_password(password.expose(), &encoded, &params);
                // Unusable and invalid hashes are answered without hashing;
                // pad them to a real check's cost so that response time does
                // not tell an attacker which accounts have no password.
                if matches!(outcome, Verification::Unusable | Verification::Invalid(_)) {
                    hashers::dummy_verify(password.expose(), &params);
                }
                outcome
            })
            .await;
        outcome.unwrap_or(Verification::Invalid("internal"))
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        // The semaphore is never closed, so acquiring only fails in theory.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::TaskFailed)?;
        // The permit moves into the task: if the caller's future is dropped
        // (client went away), the permit stays taken until the hashing that
        // is still running really ends, so the bound holds.
        let task = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        });
        task.await.map_err(|error| {
            tracing::error!(%error, "password hashing task failed");
            PasswordError::TaskFailed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(concurrency: usize) -> PasswordService {
        PasswordService::new(Argon2Params::danger_fast_for_tests(), concurrency)
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
        assert!(service.permits.available_permits() >= 1);
        assert_eq!(service.params(), &Argon2Params::danger_fast_for_tests());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn permits_are_returned() {
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
        assert_eq!(service.permits.available_permits(), 1);
    }

    #[tokio::test]
    async fn panicking_work_is_an_error_not_a_crash() {
        let service = service(1);
        let result: Result<(), _> = service.run(|| panic!("boom")).await;
        assert!(matches!(result, Err(PasswordError::TaskFailed)));
        // The permit came back even though the task panicked.
        assert_eq!(service.permits.available_permits(), 1);
    }
}
