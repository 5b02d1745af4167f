//! Who the client is: the TCP peer, unless the peer is one of
//! `server.trusted_proxies`; then the right-most address in the forwarding
//! headers that is not itself a trusted proxy (each proxy appends the
//! address it received from, so everything left of the first untrusted
//! hop may be the client's own invention). Only the header named by
//! `server.forwarded_header` is read: a proxy appends to that one and
//! passes any other through as the client wrote it. From an untrusted peer
//! no header changes anything.

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
    /// The address, for the session list.
    pub fn text(&self) -> String {
        match self.0 {
            Some(ip) => ip.to_string(),
            None => String::new(),
        }
    }

    /// What budgets and connection caps are kept per: an IPv4 address, or
    /// an IPv6 address's /64 (one host is routinely given a whole /64, and
    /// could otherwise take a fresh budget for each of its addresses).
    pub fn budget_key(&self) -> String {
        match self.0 {
            Some(ip) => budget_ip(ip).to_string(),
            None => String::new(),
        }
    }
}

/// `ip` as budgets count it (see `ClientAddr::budget_key`).
pub fn budget_ip(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
        v4 => v4,
    }
}

/// Which forwarding header trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    XForwardedFor,
    Forwarded,
}

/// Decides the client's address for a request from `peer` with `headers`.
pub fn resolve(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[Cidr],
    header: ForwardedHeader,
) -> Option<IpAddr> {
    // An IPv4 client of a dual-stack listener arrives as `::ffff:a.b.c.d`.
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops = forwarded_for(headers, header);
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

/// The hops of `header` (`X-Forwarded-For`, or RFC 7239's `Forwarded`
/// `for=`), left to right, across repeated headers.
fn forwarded_for(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
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
    if header == ForwardedHeader::Forwarded {
        return values("forwarded")
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
    let ip = if let Ok(ip) = text.parse::<IpAddr>() {
        Some(ip)
    } else if let Ok(socket) = text.parse::<SocketAddr>() {
        Some(socket.ip())
    } else {
        text.strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|t| t.parse().ok())
    };
    ip.map(|ip| ip.to_canonical())
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

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = ClientAddr(Some(ip("2001:db8:1:2:aaaa::1")));
        let b = ClientAddr(Some(ip("2001:db8:1:2:ffff::9")));
        let other = ClientAddr(Some(ip("2001:db8:1:3::1")));
        assert_eq!(a.budget_key(), b.budget_key());
        assert_ne!(a.budget_key(), other.budget_key());
        assert_eq!(
            ClientAddr(Some(ip("::ffff:192.0.2.1"))).budget_key(),
            "192.0.2.1"
        );
        assert_eq!(a.text(), "2001:db8:1:2:aaaa::1");
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        assert_eq!(
            resolve(Some(ip("198.51.100.1")), &h, &trusted, XFF),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(
            resolve(Some(ip("198.51.100.1")), &h, &[], XFF),
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
            resolve(Some(ip("10.0.0.1")), &h, &trusted, XFF),
            Some(ip("203.0.113.9"))
        );
        // Repeated headers read as one list.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &trusted, XFF),
            Some(ip("203.0.113.9"))
        );
        // RFC 7239, with quoting, ports and IPv6, when that is the header
        // the proxies write.
        let h = headers(&[(
            "forwarded",
            r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https"#,
        )]);
        assert_eq!(
            resolve(
                Some(ip("10.0.0.1")),
                &h,
                &trusted,
                ForwardedHeader::Forwarded
            ),
            Some(ip("2001:db8::7"))
        );
        // A `Forwarded` the client wrote itself, passed through by a proxy
        // that appends to X-Forwarded-For, changes nothing.
        let h = headers(&[
            ("forwarded", "for=1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &trusted, XFF),
            Some(ip("203.0.113.9"))
        );
        // An IPv4 proxy seen through a dual-stack listener is still trusted.
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            resolve(Some(ip("::ffff:10.0.0.1")), &h, &trusted, XFF),
            Some(ip("203.0.113.9"))
        );
        // No header: the proxy itself.
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted, XFF),
            Some(ip("10.0.0.1"))
        );
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, nonsense, 10.0.0.3")]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &trusted, XFF),
            Some(ip("10.0.0.3"))
        );
        assert_eq!(resolve(None, &h, &trusted, XFF), None);
    }
}
