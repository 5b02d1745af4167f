//! Who the client is: the TCP peer, unless the peer is one of
//! `server.trusted_proxies`; then the right-most address in the forwarding
//! headers that is not itself a trusted proxy (each proxy appends the
//! address it received from, so everything left of the first untrusted
//! hop may be the client's own invention). From an untrusted peer the
//! headers change nothing.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use crate::config::Cidr;

/// The client's address, when the request came over a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The address as a rate-limit key and for the session list.
    pub fn text(&self) -> String {
        match self.0 {
            Some(ip) => ip.to_string(),
            None => String::new(),
        }
    }
}

/// Decides the client's address for a request from `peer` with `headers`.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops = forwarded_for(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = *ip,
            Some(ip) => return Some(*ip),
            // A hop that names no address (`unknown`, garbage): the last
            // trusted proxy is as far as the chain can be believed.
            None => return Some(client),
        }
    }
    Some(client)
}

/// The hops of `Forwarded` (RFC 7239 `for=`) when present, otherwise of
/// `X-Forwarded-For`, left to right, across repeated headers.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_node(v.trim().trim_matches('"')))
            })
            .collect();
    }
    values("x-forwarded-for")
        .iter()
        .map(|v| parse_node(v))
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse().ok())
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        if let Some(client) = parts.extensions.get::<ClientAddr>() {
            return Ok(*client);
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        assert_eq!(
            resolve(Some(ip("198.51.100.1")), &h, &trusted),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(
            resolve(Some(ip("198.51.100.1")), &h, &[]),
            Some(ip("198.51.100.1"))
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        // The client put a fake address first; the edge proxy appended the
        // real one, an inner proxy its own.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &trusted),
            Some(ip("203.0.113.9"))
        );
        // Repeated headers read as one list.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &trusted),
            Some(ip("203.0.113.9"))
        );
        // RFC 7239, with quoting, ports and IPv6.
        let h = headers(&[(
            "forwarded",
            r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https"#,
        )]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &trusted),
            Some(ip("2001:db8::7"))
        );
        // No header: the proxy itself.
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted),
            Some(ip("10.0.0.1"))
        );
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, nonsense, 10.0.0.3")]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &trusted),
            Some(ip("10.0.0.3"))
        );
        assert_eq!(resolve(None, &h, &trusted), None);
    }
}
