//! The accept loop, written out rather than `axum::serve`, because what a
//! public auth service needs is not configurable there: a deadline for a
//! request's head (a client trickling headers, or idling on keep-alive, is
//! cut off), a cap on open connections that stays below the process's file
//! descriptor limit, a cap per client address, bounded request heads, and
//! running out of descriptors handled by backing off (logged once) rather
//! than spinning. hyper does the HTTP; this only decides which connections
//! it gets.

use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, extract::ConnectInfo};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt as _;

use crate::config::{Cidr, ServerSettings};

/// What the loop enforces, from `[server]`.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub head_timeout: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
    pub max_head_bytes: usize,
    pub max_headers: usize,
    /// Proxies are many clients on one address: no per-address cap.
    pub trusted_proxies: Vec<Cidr>,
}

impl ConnectionLimits {
    pub fn from_settings(s: &ServerSettings) -> ConnectionLimits {
        ConnectionLimits {
            head_timeout: Duration::from_secs(s.header_read_timeout_secs),
            max_connections: match s.max_connections {
                0 => default_max_connections(),
                n => n,
            },
            max_per_address: s.max_connections_per_address,
            max_head_bytes: s.max_request_head_bytes,
            max_headers: s.max_request_headers,
            trusted_proxies: s.trusted_proxies.clone(),
        }
    }
}

/// Room below the descriptor limit for the database pool, Redis, mail,
/// pictures and logs; at most 10,000 connections either way.
fn default_max_connections() -> usize {
    #[cfg(target_os = "linux")]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        if let Some(soft) = limit.current {
            return usize::try_from(soft.saturating_sub(128))
                .unwrap_or(10_000)
                .clamp(16, 10_000);
        }
    }
    10_000
}

/// Open connections per address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

impl PerAddress {
    fn enter(&self, ip: IpAddr, max: usize) -> bool {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn leave(&self, ip: IpAddr) {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `stop` completes, then stops
/// accepting and lets open connections finish their requests (the caller
/// bounds how long with its grace period).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    // HTTP/1.1 only: hyper's head deadline covers HTTP/1 alone, and an
    // idle HTTP/2 connection that answers pings would stay open for ever.
    // (Clear-text HTTP/2 needs prior knowledge, which browsers never use.)
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout)
        .max_header_size(limits.max_head_bytes)
        .max_headers(limits.max_headers);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let mut warned_full: Option<Instant> = None;
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors (or another transient failure): back
                // off so the loop does not spin, and say so once a minute.
                if warned_full.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(error = %e, "cannot accept connections; backing off");
                    warned_full = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let canonical = peer.ip().to_canonical();
        let proxy = limits
            .trusted_proxies
            .iter()
            .any(|c| c.contains(&canonical));
        // Counted as budgets count clients: IPv4, or an IPv6 /64.
        let ip = super::client::budget_ip(canonical);
        if !proxy && !per_address.enter(ip, limits.max_per_address) {
            // Closing at once costs the server nothing more.
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                request
            },
        ));
        let builder = builder.clone();
        let per_address = per_address.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let _ = watcher.watch(connection).await;
            drop(permit);
            if !proxy {
                per_address.leave(ip);
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
