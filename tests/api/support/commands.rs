//! The `doorman` binary as the tests run it.

use std::process::{Command, Output};

use super::TestDb;

/// The binary over `db`, with settings only from what the test sets.
pub fn doorman(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_doorman"));
    // Settings come only from what the test sets.
    for (key, _) in std::env::vars() {
        if key.starts_with("DOORMAN_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("DOORMAN_DATABASE__URL", &db.url)
        .env("DOORMAN_SECURITY__DANGER_FAST_HASHING_FOR_TESTS", "true")
        .env("DOORMAN_LOG__LEVEL", "warn")
        .current_dir(std::env::temp_dir());
    cmd
}

/// A command's outcome, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
