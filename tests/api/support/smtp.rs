//! A real SMTP server for tests: it speaks enough of RFC 5321 (EHLO/HELO,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT) for lettre to deliver to it over
//! TCP, and keeps every message it accepts. It can be stopped and started
//! again on the same port to play an outage. Written here because the tests
//! need to control it from inside the test process; it is test code, not a
//! stand-in for doorman's transport, which runs unchanged against it. Also
//! the apps that mail to it and the reading of what they sent.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use doorman::config::Settings;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

use super::{Backend, TestApp, apps::app_on};

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("an RFC 5322 message")
    }
}

pub struct SmtpSink {
    pub addr: SocketAddr,
    inbox: Arc<Mutex<Vec<Received>>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, Arc::default())
    }

    fn serve(listener: TcpListener, inbox: Arc<Mutex<Vec<Received>>>) -> SmtpSink {
        let addr = listener.local_addr().unwrap();
        let shared = inbox.clone();
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                sessions.spawn(session(stream, shared.clone()));
            }
        });
        SmtpSink {
            addr,
            inbox,
            task: Some(task),
        }
    }

    /// `smtp://127.0.0.1:PORT` for `email.url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Closes the port (and every open session).
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port, keeping what was received.
    pub async fn restart(&mut self) {
        self.stop();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
            }
        };
        *self = Self::serve(listener, self.inbox.clone());
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages have arrived (at most 20 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} messages, got {}", self.received().len());
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn session(stream: TcpStream, inbox: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let reply = async |w: &mut tokio::net::tcp::OwnedWriteHalf, text: &str| {
        w.write_all(format!("{text}\r\n").as_bytes()).await.is_ok()
    };
    if !reply(&mut write, "220 sink.test ESMTP test sink").await {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let ok = if upper.starts_with("EHLO") {
            reply(&mut write, "250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8").await
        } else if upper.starts_with("HELO") {
            reply(&mut write, "250 sink.test").await
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().to_string();
            to.clear();
            reply(&mut write, "250 OK").await
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().to_string());
            reply(&mut write, "250 OK").await
        } else if upper == "DATA" {
            if !reply(&mut write, "354 end with <CRLF>.<CRLF>").await {
                return;
            }
            let mut data = Vec::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l).await.unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                // Undo dot-stuffing.
                let l = l.strip_prefix('.').map(str::to_string).unwrap_or(l);
                data.extend_from_slice(l.as_bytes());
            }
            inbox.lock().unwrap().push(Received {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            reply(&mut write, "250 OK queued").await
        } else if upper == "RSET" || upper == "NOOP" {
            reply(&mut write, "250 OK").await
        } else if upper == "QUIT" {
            let _ = reply(&mut write, "221 bye").await;
            return;
        } else {
            reply(&mut write, "502 command not implemented").await
        };
        if !ok {
            return;
        }
    }
}

/// The host name in links of the apps [`mail_app_on`] makes.
pub(crate) const DOMAIN: &str = "front.example.test";

/// A fresh app on `backend` whose mail goes to a real SMTP server in the
/// test, with links to [`DOMAIN`] and the site name "Example".
pub(crate) async fn mail_app_on(
    backend: Backend,
    tweak: impl FnOnce(&mut Settings),
) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = app_on(backend, move |s| {
        s.email.url = url;
        s.djoser.domain = Some(DOMAIN.into());
        s.djoser.site_name = Some("Example".into());
        tweak(s);
    })
    .await;
    (app, sink)
}

/// [`mail_app_on`] on the backend of `app`, which is dropped.
pub(crate) async fn app_with_mail(
    app: TestApp,
    tweak: impl FnOnce(&mut Settings),
) -> (TestApp, SmtpSink) {
    let backend = app.db.backend;
    drop(app);
    mail_app_on(backend, tweak).await
}

/// One delivered message.
#[derive(Debug, Clone)]
pub(crate) struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Runs the outbox worker until nothing is due; every message the SMTP
/// sink has received so far, oldest first.
pub(crate) async fn delivered(app: &TestApp, sink: &SmtpSink) -> Vec<Mail> {
    let worker = doorman::mail_worker(&app.state);
    let stop = watch::channel(false).1;
    while worker.run_once(&stop).await.unwrap() > 0 {}
    sink.received()
        .iter()
        .map(|r| {
            let m = r.parsed();
            Mail {
                to: r.to.join(","),
                subject: m.subject().unwrap_or_default().to_string(),
                text: m.body_text(0).map(|t| t.to_string()).unwrap_or_default(),
            }
        })
        .collect()
}

/// The `(uid, token)` of the link `http://DOMAIN/{path}{uid}/{token}` in a
/// mail, e.g. `path = "#/activate/"`.
pub(crate) fn link_in(mail: &Mail, path: &str) -> (String, String) {
    let prefix = format!("http://{DOMAIN}/{path}");
    let start = mail
        .text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no link {prefix}… in {:?}", mail.text))
        + prefix.len();
    let rest = mail.text[start..].split_whitespace().next().unwrap();
    let (uid, token) = rest.split_once('/').expect("uid/token");
    (uid.to_string(), token.to_string())
}
