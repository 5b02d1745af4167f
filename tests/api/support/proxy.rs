//! A TCP proxy on 127.0.0.1 that a test can cut and restore, to put a
//! real network fault between doorman and its database.
//!
//! Cut, it drops every connection it carries and then accepts new ones
//! without ever answering — a database host that vanished, the worst case
//! for a client, since nothing tells it to give up. Restored, it forwards
//! again. It stops with the test (its tasks end when the `Proxy` drops).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

pub struct Proxy {
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    /// Bumped on every cut; live connections watch it and close.
    cuts: watch::Sender<u64>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let accept = {
            let open = Arc::clone(&open);
            let cuts = cuts.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    let mut cut = cuts.subscribe();
                    if !open.load(Ordering::SeqCst) {
                        // Hold the socket, say nothing, until the next cut
                        // or restore decides (a restore lets it go, and the
                        // client sees a closed connection).
                        tokio::spawn(async move {
                            let _held = client;
                            let _ = cut.changed().await;
                        });
                        continue;
                    }
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let mut client = client;
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            })
        };
        Proxy {
            addr,
            open,
            cuts,
            accept,
        }
    }

    /// Drops every connection and answers no new one.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Forwards again (held connections are released, closed).
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cuts.send_modify(|n| *n += 1);
    }
}
