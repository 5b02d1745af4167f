//! The issues' acceptance runs, as a new user would try them: the real
//! binary on a real port, a real SMTP server, HTTP from outside.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::support::{Backend, TestDb, smtp::SmtpSink};

/// `doorman serve` on a free port with the given extra settings; returns
/// the child and its base URL.
fn serve(db: &TestDb, env: &[(&str, String)]) -> (Served, String) {
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
    let mut port = None;
    for line in lines.by_ref().take(100) {
        let line = line.unwrap();
        if let Ok(entry) = serde_json::from_str::<Value>(&line)
            && entry["fields"]["message"] == "doorman listening"
        {
            port = entry["fields"]["port"].as_u64();
            break;
        }
    }
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let port = port.expect("the server logs its port");
    (Served(Some(child)), format!("http://127.0.0.1:{port}"))
}

/// The served process; killed if a failing assertion leaves it running.
struct Served(Option<Child>);

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stop(mut served: Served) {
    let mut child = served.0.take().expect("running");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit: {status:?}");
}

/// The `{uid}/{token}` after `marker` in a mail's text.
fn link_parts(text: &str, marker: &str) -> (String, String) {
    let tail = text.split(marker).nth(1).expect("the link is in the mail");
    let tail: String = tail.chars().take_while(|c| !c.is_whitespace()).collect();
    let mut parts = tail.split('/');
    (
        parts.next().unwrap().to_string(),
        parts.next().unwrap().to_string(),
    )
}

async fn acceptance(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    let db = TestDb::new(backend).await;
    let (child, base) = serve(
        &db,
        &[
            ("DOORMAN_EMAIL__URL", sink.url()),
            ("DOORMAN_EMAIL__POLL_INTERVAL_MS", "100".into()),
            ("DOORMAN_EMAIL__RETRY_BASE_SECS", "1".into()),
            ("DOORMAN_EMAIL__RETRY_MAX_SECS", "1".into()),
            ("DOORMAN_DJOSER__SEND_ACTIVATION_EMAIL", "true".into()),
            ("DOORMAN_DJOSER__DOMAIN", "app.example.test".into()),
            // 51 registrations from one address are the load here, not an
            // attack (tests/api/rate_limits.rs tests the budget).
            (
                "DOORMAN_RATE_LIMIT__REGISTRATIONS_PER_ADDRESS",
                "off".into(),
            ),
        ],
    );
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();

    // A mail produced by a flow arrives, and its link works.
    let r = post("/auth/users/", json!({"username": "newbie", "password": "a-Sturdy-pass-42", "email": "newbie@example.com"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let got = sink.wait_for(1).await;
    let message = got[0].parsed();
    let text = message.body_text(0).unwrap().to_string();
    assert!(
        text.contains("http://app.example.test/#/activate/"),
        "{text}"
    );
    let (uid, token) = link_parts(&text, "#/activate/");
    let r = post(
        "/auth/users/activation/",
        json!({"uid": uid, "token": token}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let r = post(
        "/auth/token/login/",
        json!({"username": "newbie", "password": "a-Sturdy-pass-42"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "the activated account logs in");

    // SMTP down: 50 mails are produced and kept; back up: all 50 arrive once.
    sink.stop();
    for i in 0..50 {
        let r = post(
            "/auth/users/",
            json!({"username": format!("u{i}"), "password": "a-Sturdy-pass-42", "email": format!("u{i}@example.com")}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201, "registration does not wait for SMTP");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received().len(), 1);
    sink.restart().await;
    let got = sink.wait_for(51).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let ids: std::collections::HashSet<String> = sink
        .received()
        .iter()
        .map(|r| r.parsed().message_id().unwrap().to_string())
        .collect();
    assert_eq!(got.len(), 51);
    assert_eq!(sink.received().len(), 51, "none twice");
    assert_eq!(ids.len(), 51);
    stop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_from_a_flow_survives_an_outage_sqlite() {
    acceptance(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_from_a_flow_survives_an_outage_postgres() {
    acceptance(Backend::Postgres).await;
}
