//! The issues' acceptance runs, as a new user would try them: the real
//! binary on a real port, a real SMTP server, HTTP from outside.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    Backend, TestDb,
    served::{serve, stop},
    smtp::SmtpSink,
};

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
