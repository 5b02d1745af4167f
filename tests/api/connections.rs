//! The accept loop against real sockets on 127.0.0.1: a client trickling
//! its headers or idling on keep-alive is cut off, one address cannot hold
//! every connection, oversized heads and bodies are refused, and a normal
//! client (from 127.0.0.2, another address) is served meanwhile. Every
//! socket has a deadline, so nothing here waits longer than a few seconds.

use std::time::{Duration, Instant};

use doorman::{App, BuildOptions, config::Settings};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::support::{Backend, TestDb, test_settings};

struct Running {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _db: TestDb,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(tweak: impl FnOnce(&mut Settings)) -> Running {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut settings = test_settings(&db);
    settings.rate_limit.enabled = false;
    settings.email.worker = false;
    tweak(&mut settings);
    let app = App::build(settings, BuildOptions::default()).await.unwrap();
    let port = app.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    Running {
        port,
        stop: Some(stop),
        _db: db,
    }
}

async fn connect_from(source: &str, port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap()
}

/// Reads until the server closes; `None` if it is still open at `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

/// One request on a fresh connection from `source`; the status line.
async fn get_from(source: &str, port: u16, path: &str) -> String {
    let mut stream = connect_from(source, port).await;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: testserver\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let answer = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("answered and closed");
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn trickling_and_idle_clients_are_cut_off_while_others_are_served() {
    let server = start(|s| s.server.header_read_timeout_secs = 1).await;
    let port = server.port;
    // 40 clients start a request and trickle a header byte now and then.
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut s = connect_from("127.0.0.1", port).await;
        s.write_all(b"GET /healthz/ HTTP/1.1\r\nHost: testserver\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    let trickle = tokio::spawn(async move {
        let started = Instant::now();
        let mut cut = 0;
        while !slow.is_empty() && started.elapsed() < Duration::from_secs(4) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut still = Vec::new();
            for mut s in slow {
                match s.write_all(b"a").await {
                    Ok(()) => match closed_within(&mut s, Duration::from_millis(5)).await {
                        Some(_) => cut += 1,
                        None => still.push(s),
                    },
                    Err(_) => cut += 1,
                }
            }
            slow = still;
        }
        (cut, slow.len(), started.elapsed())
    });
    // Meanwhile a normal client is answered at once.
    let started = Instant::now();
    assert_eq!(
        get_from("127.0.0.2", port, "/healthz/").await,
        "HTTP/1.1 200 OK"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let (cut, open, took) = trickle.await.unwrap();
    assert_eq!(
        (cut, open),
        (40, 0),
        "every trickler is cut off (after {took:?})"
    );

    // An idle keep-alive connection is closed too.
    let mut idle = connect_from("127.0.0.2", port).await;
    idle.write_all(b"GET /healthz/ HTTP/1.1\r\nHost: testserver\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let seen = closed_within(&mut idle, Duration::from_secs(4))
        .await
        .expect("the idle connection is closed");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200 OK"));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "kept alive for the timeout first"
    );
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let server = start(|s| {
        s.server.header_read_timeout_secs = 5;
        s.server.max_connections_per_address = 5;
    })
    .await;
    let port = server.port;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from("127.0.0.1", port).await);
    }
    // Let the server account for them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sixth = connect_from("127.0.0.1", port).await;
    let _ = sixth
        .write_all(b"GET /healthz/ HTTP/1.1\r\nHost: testserver\r\n\r\n")
        .await;
    let seen = closed_within(&mut sixth, Duration::from_secs(2))
        .await
        .expect("the sixth connection is closed at once");
    assert!(seen.is_empty(), "closed unanswered");
    assert_eq!(
        get_from("127.0.0.2", port, "/healthz/").await,
        "HTTP/1.1 200 OK"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        get_from("127.0.0.1", port, "/healthz/").await,
        "HTTP/1.1 200 OK"
    );
}

#[tokio::test]
async fn oversized_heads_and_json_bodies_are_refused() {
    let server = start(|_| {}).await;
    let port = server.port;
    // A head over server.max_request_head_bytes (32 KiB).
    let mut s = connect_from("127.0.0.1", port).await;
    let big = "a".repeat(40 * 1024);
    s.write_all(
        format!("GET /healthz/ HTTP/1.1\r\nHost: testserver\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let seen = closed_within(&mut s, Duration::from_secs(3))
        .await
        .expect("closed");
    assert!(
        String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    // A JSON body over server.max_json_bytes (64 KiB) is not parsed.
    let client = reqwest::Client::new();
    let body = format!("[{}1]", "1,".repeat(50_000));
    let r = client
        .post(format!("http://127.0.0.1:{port}/auth/jwt/create/"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"detail": "Request body is too large."})
    );
}
