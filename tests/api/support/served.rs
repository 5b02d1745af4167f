//! `doorman serve` as a child process on a free port: the real binary,
//! for tests that need a real listener, a real signal or a real crash.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

use serde_json::Value;

use super::TestDb;

/// `doorman serve` on a free port with the given extra settings; returns
/// the child and its base URL.
pub fn serve(db: &TestDb, env: &[(&str, String)]) -> (Served, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_doorman"));
    for (key, _) in std::env::vars() {
        if key.starts_with("DOORMAN_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("DOORMAN_DATABASE__URL", &db.url)
        .env(
            "DOORMAN_SECURITY__SECRET_KEY",
            "acceptance-secret-key-0123456789-abcdefghij",
        )
        .env("DOORMAN_SECURITY__DANGER_FAST_HASHING_FOR_TESTS", "true")
        .env("DOORMAN_SERVER__LISTEN", "127.0.0.1:0")
        .env("DOORMAN_LOG__FORMAT", "json")
        .env("DOORMAN_LOG__LEVEL", "info")
        .current_dir(std::env::temp_dir())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.arg("serve").spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut port = None;
    // Up to the line that names the port (a trace-level start logs
    // thousands of lines before it).
    for line in lines.by_ref().take(100_000) {
        let line = line.unwrap();
        let found = serde_json::from_str::<Value>(&line)
            .ok()
            .filter(|entry| entry["fields"]["message"] == "doorman listening")
            .and_then(|entry| entry["fields"]["port"].as_u64());
        log.lock().unwrap().push(line);
        if found.is_some() {
            port = found;
            break;
        }
    }
    // Keep reading the log so the child never blocks on a full pipe.
    let kept = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    let port = port.expect("the server logs its port");
    (Served(Some(child), log), format!("http://127.0.0.1:{port}"))
}

/// The served process (killed if a failing assertion leaves it running)
/// and every line it has logged so far.
pub struct Served(Option<Child>, Arc<Mutex<Vec<String>>>);

impl Served {
    /// The lines logged so far.
    pub fn log(&self) -> Vec<String> {
        self.1.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn stop(mut served: Served) {
    let mut child = served.0.take().expect("running");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit: {status:?}");
}

impl Served {
    /// SIGKILL: the process dies at once, mid-request, with no clean-up.
    pub fn kill_9(mut self) {
        let mut child = self.0.take().expect("running");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
}

/// A `doorman` command (a CLI subcommand run beside a served process) on
/// `db`, with no setting but the database and quiet logs.
pub fn cli(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_doorman"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DOORMAN_DATABASE__URL", &db.url)
        .env("DOORMAN_LOG__LEVEL", "warn")
        .current_dir(std::env::temp_dir());
    cmd
}
