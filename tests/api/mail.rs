//! E-mail through the durable outbox, delivered over a real SMTP
//! conversation (support::smtp) or the file transport, on both databases.

use std::{collections::HashSet, sync::Arc, time::Duration};

use doorman::{
    domain::users::User,
    mail::{Link, MessageKind},
    store::Store,
};
use tokio::sync::watch;

use crate::{
    on_both_backends,
    support::{Backend, TestApp, smtp::SmtpSink},
};

on_both_backends!(
    a_queued_message_is_delivered_once_with_a_working_link,
    messages_survive_an_smtp_outage_and_arrive_exactly_once,
    two_workers_share_a_queue_without_sending_twice,
    a_rolled_back_transaction_sends_nothing,
    exhausted_messages_are_kept_as_failed_and_can_be_retried,
    templates_can_be_overridden_from_a_directory,
    the_file_transport_writes_parseable_eml_files,
    metrics_count_what_the_worker_did,
);

fn someone() -> User {
    User {
        id: 7,
        username: "ann".into(),
        email: "ann@example.com".into(),
        first_name: "Ann".into(),
        last_name: "Lee".into(),
        is_active: false,
        is_staff: false,
        is_superuser: false,
        last_login: None,
        date_joined: time::OffsetDateTime::now_utc(),
    }
}

async fn app_with_mail(
    backend: Backend,
    url: &str,
    tweak: impl FnOnce(&mut doorman::config::Settings),
) -> TestApp {
    let url = url.to_string();
    TestApp::with_settings(backend, move |s| {
        s.email.url = url;
        s.email.poll_interval_ms = 50;
        s.email.retry_base_secs = 1;
        s.email.retry_max_secs = 1;
        s.djoser.domain = Some("front.example.test".into());
        s.djoser.site_name = Some("Example".into());
        tweak(s);
    })
    .await
}

/// Queues `n` activation messages, each in its own transaction.
async fn queue(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let token = format!("tok-{i}");
        let link = Link {
            pattern: &app.state.settings.djoser.activation_url,
            uid: "Nw",
            token: &token,
        };
        let mail = app
            .state
            .mailer
            .compose(
                MessageKind::Activation,
                &format!("user{i}@example.com"),
                Some(&someone()),
                Some(&link),
            )
            .unwrap();
        let mut tx = app.state.store.begin().await.unwrap();
        tx.enqueue_mail(&mail).await.unwrap();
        tx.commit().await.unwrap();
        ids.push(mail.message_id);
    }
    ids
}

fn no_stop() -> watch::Receiver<bool> {
    watch::channel(false).1
}

fn body_text(m: &mail_parser::Message<'_>) -> String {
    m.body_text(0).map(|t| t.to_string()).unwrap_or_default()
}

async fn a_queued_message_is_delivered_once_with_a_working_link(app: TestApp) {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(app.db.backend, &sink.url(), |_| {}).await;
    let ids = queue(&app, 1).await;
    let worker = doorman::mail_worker(&app.state);
    assert_eq!(worker.run_once(&no_stop()).await.unwrap(), 1);
    assert_eq!(
        worker.run_once(&no_stop()).await.unwrap(),
        0,
        "nothing left to send"
    );

    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["<user0@example.com>"]);
    assert_eq!(got[0].from, "<webmaster@localhost>");
    let message = got[0].parsed();
    assert_eq!(message.subject(), Some("Activate your account on Example"));
    assert_eq!(format!("<{}>", message.message_id().unwrap()), ids[0]);
    let text = body_text(&message);
    assert!(
        text.contains("http://front.example.test/#/activate/Nw/tok-0"),
        "the link is built as Djoser builds it: {text}"
    );
    let html = message.body_html(0).unwrap().to_string();
    assert!(
        html.contains(r#"<a href="http://front.example.test/#/activate/Nw/tok-0">"#),
        "{html}"
    );
    let (queued, failed) = app.state.store.mail_counts().await.unwrap();
    assert_eq!((queued, failed), (0, 0));
}

async fn messages_survive_an_smtp_outage_and_arrive_exactly_once(app: TestApp) {
    let mut sink = SmtpSink::start().await;
    let app = app_with_mail(app.db.backend, &sink.url(), |_| {}).await;
    sink.stop();
    let ids = queue(&app, 50).await;
    let (stop, stop_rx) = watch::channel(false);
    let running = tokio::spawn(doorman::mail_worker(&app.state).run(stop_rx));
    // Wait until every message has failed at least once.
    for _ in 0..200 {
        let rows = app.state.store.list_mail(false, 100).await.unwrap();
        if rows.len() == 50 && rows.iter().all(|r| r.attempts >= 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = app.state.store.list_mail(false, 100).await.unwrap();
    assert!(
        rows.iter()
            .all(|r| r.attempts >= 1 && r.status == "pending"),
        "retained while SMTP is down"
    );
    assert!(sink.received().is_empty());

    sink.restart().await;
    let got = sink.wait_for(50).await;
    // Give a duplicate every chance to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.send(true).unwrap();
    running.await.unwrap();
    let got_ids: Vec<String> = sink
        .received()
        .iter()
        .map(|r| format!("<{}>", r.parsed().message_id().unwrap()))
        .collect();
    assert_eq!(got.len(), 50);
    assert_eq!(got_ids.len(), 50, "none twice");
    assert_eq!(
        got_ids.iter().collect::<HashSet<_>>(),
        ids.iter().collect::<HashSet<_>>()
    );
    assert_eq!(app.state.store.mail_counts().await.unwrap(), (0, 0));
}

async fn two_workers_share_a_queue_without_sending_twice(app: TestApp) {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(app.db.backend, &sink.url(), |_| {}).await;
    let ids = queue(&app, 200).await;
    // A second "node": its own pool on the same database.
    let other_store = Store::connect(&app.db.database_settings()).await.unwrap();
    let mut services = (*app.state).clone();
    services.store = other_store;
    services.metrics = Arc::default();
    let other_state = doorman::http::AppState::new(services);
    let (stop, stop_rx) = watch::channel(false);
    let a = tokio::spawn(doorman::mail_worker(&app.state).run(stop_rx.clone()));
    let b = tokio::spawn(doorman::mail_worker(&other_state).run(stop_rx));
    sink.wait_for(200).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(true).unwrap();
    a.await.unwrap();
    b.await.unwrap();
    let got: Vec<String> = sink
        .received()
        .iter()
        .map(|r| format!("<{}>", r.parsed().message_id().unwrap()))
        .collect();
    assert_eq!(got.len(), 200, "each delivered exactly once");
    assert_eq!(
        got.iter().collect::<HashSet<_>>(),
        ids.iter().collect::<HashSet<_>>()
    );
    let by_a = app.state.metrics.mail_sent.get();
    let by_b = other_state.metrics.mail_sent.get();
    assert_eq!(by_a + by_b, 200);
}

async fn a_rolled_back_transaction_sends_nothing(app: TestApp) {
    let mail = app
        .state
        .mailer
        .compose(
            MessageKind::Confirmation,
            "ann@example.com",
            Some(&someone()),
            None,
        )
        .unwrap();
    let mut tx = app.state.store.begin().await.unwrap();
    tx.enqueue_mail(&mail).await.unwrap();
    drop(tx);
    assert_eq!(app.state.store.mail_counts().await.unwrap(), (0, 0));
}

async fn exhausted_messages_are_kept_as_failed_and_can_be_retried(app: TestApp) {
    let mut sink = SmtpSink::start().await;
    let app = app_with_mail(app.db.backend, &sink.url(), |s| s.email.max_attempts = 2).await;
    sink.stop();
    queue(&app, 1).await;
    // A recipient no server would take fails at once, for good.
    let bad = app
        .state
        .mailer
        .compose(
            MessageKind::Confirmation,
            "not an address",
            Some(&someone()),
            None,
        )
        .unwrap();
    app.state.store.enqueue_mail(&bad).await.unwrap();
    let worker = doorman::mail_worker(&app.state);
    for _ in 0..100 {
        worker.run_once(&no_stop()).await.unwrap();
        if app.state.store.mail_counts().await.unwrap() == (0, 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = app.state.store.list_mail(true, 10).await.unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    let permanent = failed
        .iter()
        .find(|r| r.recipient == "not an address")
        .unwrap();
    assert_eq!(permanent.attempts, 1, "not retried");
    let transient = failed
        .iter()
        .find(|r| r.recipient != "not an address")
        .unwrap();
    assert_eq!(transient.attempts, 2);
    assert!(
        transient
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("SMTP"),
        "{transient:?}"
    );

    sink.restart().await;
    assert_eq!(
        app.state
            .store
            .retry_failed_mail(Some(transient.id))
            .await
            .unwrap(),
        1
    );
    worker.run_once(&no_stop()).await.unwrap();
    assert_eq!(sink.received().len(), 1);
    assert_eq!(app.state.store.mail_counts().await.unwrap(), (0, 1));
    assert_eq!(app.state.store.retry_failed_mail(None).await.unwrap(), 1);
    assert_eq!(app.state.store.mail_counts().await.unwrap(), (1, 0));
}

async fn templates_can_be_overridden_from_a_directory(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("activation_subject.txt"),
        "Welcome to {{ site_name }}, {{ user.first_name }}!",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("activation.txt"),
        "Go to {{ protocol }}://{{ domain }}/{{ url }} <now>",
    )
    .unwrap();
    let path = dir.path().to_path_buf();
    let app = app_with_mail(app.db.backend, "console:", move |s| {
        s.email.templates_dir = Some(path)
    })
    .await;
    let link = Link {
        pattern: "activate?u={uid}&t={token}",
        uid: "Nw",
        token: "a-b",
    };
    let mail = app
        .state
        .mailer
        .compose(
            MessageKind::Activation,
            "ann@example.com",
            Some(&someone()),
            Some(&link),
        )
        .unwrap();
    assert_eq!(mail.subject, "Welcome to Example, Ann!");
    assert_eq!(
        mail.body_text, "Go to http://front.example.test/activate?u=Nw&t=a-b <now>",
        "text is not escaped"
    );
    let html = mail.body_html.unwrap();
    assert!(
        html.contains("activate?u=Nw&amp;t=a-b"),
        "built-in HTML kept and escaped: {html}"
    );

    // A broken override stops start-up with the template named.
    std::fs::write(dir.path().join("confirmation.html"), "{% if %}").unwrap();
    let settings = {
        let mut s = app.state.settings.as_ref().clone();
        s.email.templates_dir = Some(dir.path().to_path_buf());
        s
    };
    let err = doorman::build_state(settings, doorman::BuildOptions::default())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("confirmation.html"), "{err}");
}

async fn the_file_transport_writes_parseable_eml_files(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("outbox").display());
    let app = app_with_mail(app.db.backend, &url, |_| {}).await;
    let ids = queue(&app, 3).await;
    doorman::mail_worker(&app.state)
        .run_once(&no_stop())
        .await
        .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    let mut seen = HashSet::new();
    for file in files {
        assert_eq!(file.extension().unwrap(), "eml");
        let bytes = std::fs::read(&file).unwrap();
        let message = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(message.subject(), Some("Activate your account on Example"));
        assert!(body_text(&message).contains("http://front.example.test/#/activate/Nw/tok-"));
        seen.insert(format!("<{}>", message.message_id().unwrap()));
    }
    assert_eq!(seen, ids.into_iter().collect::<HashSet<_>>());
}

async fn metrics_count_what_the_worker_did(app: TestApp) {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(app.db.backend, &sink.url(), |s| {
        s.server.metrics_token = Some("metrics-reader".into());
    })
    .await;
    let scrape = |path: &str| {
        axum::http::Request::get(path)
            .header("authorization", "Bearer metrics-reader")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    queue(&app, 2).await;
    let before = app.send(scrape("/metrics")).await;
    assert_eq!(before.status, axum::http::StatusCode::OK);
    let text = String::from_utf8(before.body).unwrap();
    assert!(text.contains("doorman_mail_queue_depth 2"), "{text}");
    assert!(text.contains("doorman_mail_sent_total 0"), "{text}");
    doorman::mail_worker(&app.state)
        .run_once(&no_stop())
        .await
        .unwrap();
    let text = String::from_utf8(app.send(scrape("/metrics/")).await.body).unwrap();
    assert!(text.contains("doorman_mail_sent_total 2"), "{text}");
    assert!(text.contains("doorman_mail_queue_depth 0"), "{text}");
    assert!(
        text.contains("# TYPE doorman_mail_sent_total counter"),
        "{text}"
    );
}
