//! Where the absolute URLs in responses (profile pictures, page links, the
//! Djoser root) start. `server.public_url` when it is set; otherwise the
//! host the request names, but only if `server.allowed_hosts` lists it,
//! matched as Django matches ALLOWED_HOSTS. A request for any other host
//! is answered as Django answers DisallowedHost, with a 400, so a forged
//! `Host` never ends up in a link a client or a cache passes on.
//!
//! Endpoints that build no URL do not look at the host at all.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, StatusCode, Uri, header, request::Parts},
};

use super::{AppState, error::ApiError};
use crate::config::ServerSettings;

/// The scheme and host the response's URLs start with, without a
/// trailing slash; extracting it refuses an untrusted host with 400
/// before the handler runs (so a refused update changes nothing).
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        base_url(&state.settings.server, &parts.headers, &parts.uri).map(BaseUrl)
    }
}

/// `server.public_url`, else `http://<host>` for an allowed host: the
/// `Host` header, or the URI's authority (HTTP/2 sends `:authority`
/// instead of `Host`).
pub fn base_url(
    server: &ServerSettings,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<String, ApiError> {
    if let Some(url) = &server.public_url {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let raw = match headers.get(header::HOST) {
        Some(value) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        None => uri.authority().map(|a| a.to_string()).unwrap_or_default(),
    };
    let domain = domain_of(&raw);
    let message = match domain {
        Some(domain) if is_allowed(&domain, &server.allowed_hosts) => {
            return Ok(format!("http://{raw}"));
        }
        Some(domain) => format!(
            "Invalid HTTP_HOST header: {}. You may need to add {} to server.allowed_hosts.",
            quoted(&raw),
            quoted(&domain)
        ),
        None => format!(
            "Invalid HTTP_HOST header: {}. The domain name provided is not valid according \
             to RFC 1034/1035.",
            quoted(&raw)
        ),
    };
    Err(ApiError::detail(StatusCode::BAD_REQUEST, message))
}

/// The lower-cased domain of a `host[:port]` value, without a trailing
/// dot; `None` unless the whole value is a name of letters, digits, `.`
/// and `-`, or a bracketed IPv6 address, with an optional numeric port
/// (Django's `split_domain_port`). So nothing that could change a URL's
/// shape (`/`, `@`, `?`, spaces) passes, even with `*` allowed.
fn domain_of(host: &str) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let (domain, port) = if host.starts_with('[') {
        let end = host.find(']')?;
        let (address, rest) = host.split_at(end + 1);
        // `[` hex digits `:` then hex digits, `.` and `:` (at least one) `]`.
        let (head, tail) = address[1..end].split_once(':')?;
        let ipv6 = head.chars().all(|c| c.is_ascii_hexdigit())
            && !tail.is_empty()
            && tail
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':');
        if !ipv6 {
            return None;
        }
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':')?),
        };
        (address.to_string(), port)
    } else {
        let (name, port) = match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host.as_str(), None),
        };
        let name_chars = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
        if !name_chars {
            return None;
        }
        (name.strip_suffix('.').unwrap_or(name).to_string(), port)
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    (port_ok && !domain.is_empty()).then_some(domain)
}

/// Django's `validate_host`: `*` allows anything; `.example.com` allows
/// example.com and its subdomains; any other entry allows exactly that
/// name. Entries are compared ignoring case.
fn is_allowed(domain: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        if entry == "*" {
            return true;
        }
        match entry.strip_prefix('.') {
            Some(parent) => domain == parent || domain.ends_with(&entry),
            None => !entry.is_empty() && domain == entry,
        }
    })
}

/// The host in quotes as Python's `repr` shows it in Django's message.
fn quoted(text: &str) -> String {
    if text.contains('\'') && !text.contains('"') {
        format!("\"{text}\"")
    } else {
        format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn domains_are_read_as_django_reads_them() {
        for (host, domain) in [
            ("Example.COM", Some("example.com")),
            ("example.com:8000", Some("example.com")),
            ("example.com.", Some("example.com")),
            ("example.com.:80", Some("example.com")),
            ("127.0.0.1:9", Some("127.0.0.1")),
            ("[::1]", Some("[::1]")),
            ("[::1]:8000", Some("[::1]")),
            ("[2001:DB8::1]:443", Some("[2001:db8::1]")),
            ("", None),
            (":80", None),
            ("example.com:", None),
            (".", None),
            ("[:]", None),
            ("[1.2:3]", None),
            ("[::1]:", None),
            ("example.com:80x", None),
            ("a/b", None),
            ("user@example.com", None),
            ("example.com?x", None),
            ("exa mple.com", None),
            ("ex_ample.com", None),
            ("[::1", None),
            ("[nothex]", None),
            ("[::1]x", None),
            ("bücher.example", None),
        ] {
            assert_eq!(domain_of(host).as_deref(), domain, "{host:?}");
        }
    }

    #[test]
    fn entries_match_as_allowed_hosts_does() {
        let list = allowed(&[".example.com", "Other.org", "[::1]"]);
        for (domain, ok) in [
            ("example.com", true),
            ("api.example.com", true),
            ("a.b.example.com", true),
            ("badexample.com", false),
            ("example.com.evil", false),
            ("other.org", true),
            ("www.other.org", false),
            ("[::1]", true),
            ("localhost", false),
        ] {
            assert_eq!(is_allowed(domain, &list), ok, "{domain}");
        }
        assert!(is_allowed("anything.at.all", &allowed(&["*"])));
        assert!(!is_allowed("x", &allowed(&[""])));
        assert!(!is_allowed("x", &[]));
    }

    #[test]
    fn hosts_are_quoted_as_python_does() {
        assert_eq!(quoted("evil.example"), "'evil.example'");
        assert_eq!(quoted("a'b"), "\"a'b\"");
        assert_eq!(quoted("a'b\"c"), "'a\\'b\"c'");
    }
}
