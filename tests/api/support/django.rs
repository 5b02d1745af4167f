//! Django itself, through `tests/django/site/proof.py`, for the tests that
//! prove doorman against it.

use std::process::Command;

use serde_json::Value;

/// The secret key both sides share.
pub const KEY: &str = "the-shared-django-and-doorman-secret-key-0123456789";
pub const PW: &str = "a-Sturdy-passphrase-42";
/// `proof.py`'s exit status when Django or an app cannot be imported.
const MISSING_DEPENDENCY: i32 = 77;

/// Runs one Django action on `url`; `None` if Django is not available here
/// (never under CI).
pub fn django(url: &str, args: &[&str]) -> Option<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/django/site/proof.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .env("DATABASE_URL", url)
        .env("DJANGO_SECRET_KEY", KEY)
        // Django's PBKDF2 format at 1,000 iterations: a debug build of
        // doorman checks 1,000,000 in seconds, past the request timeout.
        .env("PROOF_FAST_HASHING", "1")
        .output();
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            assert!(!in_ci, "CI=true but python3 cannot run: {e}");
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(MISSING_DEPENDENCY) {
        assert!(!in_ci, "CI=true but Django cannot be used: {stderr}");
        eprintln!("note: skipping the Django proof: {stderr}");
        return None;
    }
    assert!(out.status.success(), "proof.py {args:?}: {stderr}");
    Some(serde_json::from_slice(&out.stdout).expect("proof.py prints JSON"))
}
