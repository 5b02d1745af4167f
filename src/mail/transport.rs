//! Where messages go, chosen by `email.url`: `console:` prints them,
//! `file:///dir` writes one RFC 5322 `.eml` file per message (written to a
//! temporary name and renamed, so a reader never sees half a file),
//! `smtp://` and `smtps://` deliver through lettre (STARTTLS when the server
//! offers it; TLS from the first byte for smtps).

use std::{path::PathBuf, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart, header::ContentType},
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};

use crate::config::{EmailSettings, EmailUrl, parse_email_url};

/// One message ready to hand to a transport.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("bad address or message: {0}")]
    Message(String),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("writing the .eml file: {0}")]
    Io(#[from] std::io::Error),
}

impl SendError {
    /// Whether trying again later can help (a bad address never will).
    pub fn is_permanent(&self) -> bool {
        match self {
            SendError::Message(_) => true,
            SendError::Smtp(e) => e.is_permanent(),
            SendError::Io(_) => false,
        }
    }
}

enum Kind {
    Console,
    File(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

pub struct Transport {
    kind: Kind,
    from: Mailbox,
}

impl Transport {
    pub fn from_settings(settings: &EmailSettings) -> Result<Transport, String> {
        let from: Mailbox = settings
            .from
            .trim()
            .parse()
            .map_err(|e| format!("email.from: {e}"))?;
        let kind = match parse_email_url(&settings.url)? {
            EmailUrl::Console => Kind::Console,
            EmailUrl::File(dir) => {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("email.url: cannot create {}: {e}", dir.display()))?;
                Kind::File(dir)
            }
            EmailUrl::Smtp {
                host,
                port,
                implicit_tls,
                credentials,
            } => {
                let params = TlsParameters::new(host.clone())
                    .map_err(|e| format!("email.url: TLS set-up for {host}: {e}"))?;
                let tls = if implicit_tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Opportunistic(params)
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(port)
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(settings.smtp_timeout_secs)));
                if let Some((user, password)) = credentials {
                    builder = builder.credentials(Credentials::new(user, password));
                }
                Kind::Smtp(builder.build())
            }
        };
        Ok(Transport { kind, from })
    }

    /// Builds the RFC 5322 message: multipart/alternative with the text and
    /// HTML bodies (text only when there is no HTML), and our Message-ID, so
    /// a retried message keeps its identity.
    pub fn build(&self, envelope: &Envelope) -> Result<Message, SendError> {
        let to: Mailbox = envelope
            .to
            .parse()
            .map_err(|e| SendError::Message(format!("recipient `{}`: {e}", envelope.to)))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(envelope.subject.clone())
            .message_id(Some(envelope.message_id.clone()));
        let message = match &envelope.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                envelope.text.clone(),
                html.clone(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(envelope.text.clone()),
        };
        message.map_err(|e| SendError::Message(e.to_string()))
    }

    pub async fn send(&self, envelope: &Envelope) -> Result<(), SendError> {
        let message = self.build(envelope)?;
        match &self.kind {
            Kind::Console => {
                println!(
                    "----- e-mail {id} -----\nFrom: {from}\nTo: {to}\nSubject: {subject}\n\n{text}\n----- end of e-mail {id} -----",
                    id = envelope.message_id,
                    from = self.from,
                    to = envelope.to,
                    subject = envelope.subject,
                    text = envelope.text,
                );
                Ok(())
            }
            Kind::File(dir) => {
                let name: String = envelope
                    .message_id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let bytes = message.formatted();
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || {
                    let tmp = dir.join(format!(".{name}.eml.tmp"));
                    std::fs::write(&tmp, bytes)?;
                    std::fs::rename(&tmp, dir.join(format!("{name}.eml")))
                })
                .await
                .map_err(std::io::Error::other)??;
                Ok(())
            }
            Kind::Smtp(smtp) => {
                smtp.send(message).await?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_urls_parse() {
        assert_eq!(parse_email_url("console:"), Ok(EmailUrl::Console));
        assert_eq!(
            parse_email_url("file:///var/mail/out"),
            Ok(EmailUrl::File("/var/mail/out".into()))
        );
        assert_eq!(
            parse_email_url("smtp://127.0.0.1:2525"),
            Ok(EmailUrl::Smtp {
                host: "127.0.0.1".into(),
                port: 2525,
                implicit_tls: false,
                credentials: None
            })
        );
        assert_eq!(
            parse_email_url("smtps://me%40x.com:p%3Ass@mail.example.com"),
            Ok(EmailUrl::Smtp {
                host: "mail.example.com".into(),
                port: 465,
                implicit_tls: true,
                credentials: Some(("me@x.com".into(), "p:ss".into()))
            })
        );
        for bad in ["", "smtp://", "http://x", "file://relative", "nonsense"] {
            assert!(parse_email_url(bad).is_err(), "{bad}");
        }
    }
}
