//! `email.url` parsed: where the mail transport sends messages. It lives
//! with the settings because checking the configuration needs it; the
//! transport (`mail/transport.rs`) only reads the parsed value.

use std::path::PathBuf;

/// A parsed `email.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailUrl {
    Console,
    File(PathBuf),
    Smtp {
        host: String,
        port: u16,
        /// TLS from the first byte (`smtps://`) rather than STARTTLS.
        implicit_tls: bool,
        credentials: Option<(String, String)>,
    },
}

pub fn parse_email_url(raw: &str) -> Result<EmailUrl, String> {
    if raw == "console:" || raw == "console://" {
        return Ok(EmailUrl::Console);
    }
    let shown = super::redact_url(raw);
    let url = url::Url::parse(raw).map_err(|e| format!("`{shown}` is not a URL: {e}"))?;
    match url.scheme() {
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|_| format!("`{shown}` is not a file:///absolute/path URL"))?;
            Ok(EmailUrl::File(path))
        }
        scheme @ ("smtp" | "smtps") => {
            let implicit_tls = scheme == "smtps";
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| format!("`{shown}` has no host"))?
                .to_string();
            let port = url.port().unwrap_or(if implicit_tls { 465 } else { 25 });
            let decode = |s: &str| {
                percent_decode(s).ok_or_else(|| format!("`{shown}`: bad percent-encoding"))
            };
            let credentials = if url.username().is_empty() {
                None
            } else {
                Some((
                    decode(url.username())?,
                    decode(url.password().unwrap_or(""))?,
                ))
            };
            Ok(EmailUrl::Smtp {
                host,
                port,
                implicit_tls,
                credentials,
            })
        }
        other => Err(format!(
            "`{other}:` is not one of console:, smtp://, smtps://, file://"
        )),
    }
}

/// `%XX` decoding of URL user info (url keeps it encoded).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
