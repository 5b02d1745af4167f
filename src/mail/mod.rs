//! E-mail: every message goes through a durable outbox. A flow renders its
//! message and writes it as a row in the same database transaction as the
//! change that caused it; the HTTP response never waits for delivery. The
//! worker (`worker.rs`) sends due rows through the transport with retries
//! and back-off; several processes on one database never send a row twice
//! (rows are claimed with a lease). See SPEC §6.

pub mod templates;
pub mod transport;
pub mod worker;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::{config::SiteContext, model::User, store::NewMail};

pub use templates::{Rendered, TemplateError, Templates};

/// The kinds of message doorman sends (Djoser's six, a verified e-mail
/// change's link and notice, a notice of a change to the second factors,
/// and a test message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Activation,
    Confirmation,
    PasswordReset,
    PasswordChangedConfirmation,
    UsernameReset,
    UsernameChangedConfirmation,
    /// To a new address: follow the link to make it the account's.
    EmailChange,
    /// To the old address: a change to `new_email` was asked for.
    EmailChangeNotice,
    /// A second factor was added, removed or reset; `change` names which.
    MfaChanged,
    Test,
}

impl MessageKind {
    /// The stem of the template files and the `kind` column.
    pub fn template_base(self) -> &'static str {
        match self {
            MessageKind::Activation => "activation",
            MessageKind::Confirmation => "confirmation",
            MessageKind::PasswordReset => "password_reset",
            MessageKind::PasswordChangedConfirmation => "password_changed_confirmation",
            MessageKind::UsernameReset => "username_reset",
            MessageKind::UsernameChangedConfirmation => "username_changed_confirmation",
            MessageKind::MfaChanged => "mfa_changed",
            MessageKind::EmailChange => "email_change",
            MessageKind::EmailChangeNotice => "email_change_notice",
            MessageKind::Test => "test",
        }
    }
}

/// What a notice is about, for its templates: `change` names a change to
/// the second factors (`mfa_changed`), `new_email` the address an e-mail
/// change goes to.
#[derive(Debug, Clone, Copy, Default)]
pub struct About<'a> {
    pub change: Option<&'a str>,
    pub new_email: Option<&'a str>,
}

/// A link to put in a message: a Djoser URL pattern (e.g.
/// `#/activate/{uid}/{token}`) and the values for its placeholders.
#[derive(Debug, Clone)]
pub struct Link<'a> {
    pub pattern: &'a str,
    pub uid: &'a str,
    pub token: &'a str,
}

impl Link<'_> {
    /// Fills `{uid}` and `{token}` as Djoser's `str.format` does.
    pub fn path(&self) -> String {
        self.pattern
            .replace("{uid}", self.uid)
            .replace("{token}", self.token)
    }
}

/// Renders messages and wakes the local worker when some are queued. Held
/// in the application state; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    templates: Arc<Templates>,
    site: SiteContext,
    wake: Arc<Notify>,
}

impl Mailer {
    pub fn new(templates: Templates, site: SiteContext) -> Mailer {
        Mailer {
            templates: Arc::new(templates),
            site,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn site(&self) -> &SiteContext {
        &self.site
    }

    /// Renders a message of `kind` for `user` (sent to `to`), ready to be
    /// queued with `Tx::enqueue_mail`.
    pub fn compose(
        &self,
        kind: MessageKind,
        to: &str,
        user: Option<&User>,
        link: Option<&Link<'_>>,
    ) -> Result<NewMail, TemplateError> {
        self.compose_about(kind, to, user, link, About::default())
    }

    /// `compose`, telling the templates what a notice is `about`.
    pub fn compose_about(
        &self,
        kind: MessageKind,
        to: &str,
        user: Option<&User>,
        link: Option<&Link<'_>>,
        about: About<'_>,
    ) -> Result<NewMail, TemplateError> {
        let user_ctx = user.map(|u| {
            minijinja::context! {
                id => u.id,
                username => &u.username,
                email => &u.email,
                first_name => &u.first_name,
                last_name => &u.last_name,
            }
        });
        let path = link.map(Link::path);
        let context = |url: Option<minijinja::Value>| {
            minijinja::context! {
                user => user_ctx.clone(),
                domain => &self.site.domain,
                protocol => &self.site.protocol,
                site_name => &self.site.site_name,
                uid => link.map(|l| l.uid),
                token => link.map(|l| l.token),
                url => url,
                change => about.change,
                new_email => about.new_email,
            }
        };
        let text_context = context(path.clone().map(minijinja::Value::from));
        let html_context = context(path.as_deref().map(url_value));
        let rendered = self.templates.render(kind, &text_context, &html_context)?;
        Ok(NewMail {
            message_id: new_message_id(&self.site.domain),
            kind: kind.template_base().to_string(),
            recipient: to.to_string(),
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: Some(rendered.html),
        })
    }

    /// Tells this process's worker that messages are waiting (call after
    /// the transaction that queued them has committed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// The link path as a template value: escaped for HTML by hand and marked
/// safe, because minijinja's HTML escaping also rewrites `/` as `&#x2f;`,
/// which is legal but makes links in the HTML part hard to read. Text
/// templates print it as is either way.
fn url_value(path: &str) -> minijinja::Value {
    let mut escaped = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    minijinja::Value::from_safe_string(escaped)
}

/// A globally unique Message-ID, fixed when the message is queued so every
/// delivery attempt carries the same one.
fn new_message_id(domain: &str) -> String {
    let host: String = domain
        .split(':')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let host = if host.is_empty() {
        "doorman.invalid"
    } else {
        &host
    };
    format!("<{}@{}>", uuid::Uuid::new_v4().simple(), host)
}
