//! A real SMTP server for tests: it speaks enough of RFC 5321 (EHLO/HELO,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT) for lettre to deliver to it over
//! TCP, and keeps every message it accepts. It can be stopped and started
//! again on the same port to play an outage. Written here because the tests
//! need to control it from inside the test process; it is test code, not a
//! stand-in for doorman's transport, which runs unchanged against it.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

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
