//! E-mail templates: for each kind of message a subject, a plain-text body
//! and an HTML body, rendered with minijinja. The built-in templates are
//! compiled into the binary; a file of the same name in
//! `email.templates_dir` replaces one (read and compiled at start-up, so a
//! broken override stops start-up instead of failing a mail later). HTML
//! templates auto-escape; text templates do not.
//!
//! Variables, as Djoser offers them: `user` (`id`, `username`, `email`,
//! `first_name`, `last_name`), `domain`, `protocol`, `site_name`, and for
//! link messages `uid`, `token` and `url` (the path after the domain); the
//! link itself is `{{ protocol }}://{{ domain }}/{{ url }}`.

use std::path::Path;

use minijinja::{Environment, Value};

use super::MessageKind;

/// Every template name with its built-in source.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "activation_subject.txt",
        include_str!("templates/activation_subject.txt"),
    ),
    ("activation.txt", include_str!("templates/activation.txt")),
    ("activation.html", include_str!("templates/activation.html")),
    (
        "confirmation_subject.txt",
        include_str!("templates/confirmation_subject.txt"),
    ),
    (
        "confirmation.txt",
        include_str!("templates/confirmation.txt"),
    ),
    (
        "confirmation.html",
        include_str!("templates/confirmation.html"),
    ),
    (
        "password_reset_subject.txt",
        include_str!("templates/password_reset_subject.txt"),
    ),
    (
        "password_reset.txt",
        include_str!("templates/password_reset.txt"),
    ),
    (
        "password_reset.html",
        include_str!("templates/password_reset.html"),
    ),
    (
        "password_changed_confirmation_subject.txt",
        include_str!("templates/password_changed_confirmation_subject.txt"),
    ),
    (
        "password_changed_confirmation.txt",
        include_str!("templates/password_changed_confirmation.txt"),
    ),
    (
        "password_changed_confirmation.html",
        include_str!("templates/password_changed_confirmation.html"),
    ),
    (
        "username_reset_subject.txt",
        include_str!("templates/username_reset_subject.txt"),
    ),
    (
        "username_reset.txt",
        include_str!("templates/username_reset.txt"),
    ),
    (
        "username_reset.html",
        include_str!("templates/username_reset.html"),
    ),
    (
        "username_changed_confirmation_subject.txt",
        include_str!("templates/username_changed_confirmation_subject.txt"),
    ),
    (
        "username_changed_confirmation.txt",
        include_str!("templates/username_changed_confirmation.txt"),
    ),
    (
        "username_changed_confirmation.html",
        include_str!("templates/username_changed_confirmation.html"),
    ),
    (
        "test_subject.txt",
        include_str!("templates/test_subject.txt"),
    ),
    (
        "email_change_subject.txt",
        include_str!("templates/email_change_subject.txt"),
    ),
    (
        "email_change.txt",
        include_str!("templates/email_change.txt"),
    ),
    (
        "email_change.html",
        include_str!("templates/email_change.html"),
    ),
    (
        "email_change_notice_subject.txt",
        include_str!("templates/email_change_notice_subject.txt"),
    ),
    (
        "email_change_notice.txt",
        include_str!("templates/email_change_notice.txt"),
    ),
    (
        "email_change_notice.html",
        include_str!("templates/email_change_notice.html"),
    ),
    (
        "mfa_changed_subject.txt",
        include_str!("templates/mfa_changed_subject.txt"),
    ),
    ("mfa_changed.txt", include_str!("templates/mfa_changed.txt")),
    (
        "mfa_changed.html",
        include_str!("templates/mfa_changed.html"),
    ),
    ("test.txt", include_str!("templates/test.txt")),
    ("test.html", include_str!("templates/test.html")),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("e-mail template {name}: {source}")]
    Compile {
        name: String,
        source: minijinja::Error,
    },
    #[error("cannot read e-mail template {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("rendering e-mail template {name}: {source}")]
    Render {
        name: String,
        source: minijinja::Error,
    },
}

/// The rendered parts of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in templates, with any overrides found in `dir`.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in BUILT_IN {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => {
                    std::fs::read_to_string(&path).map_err(|source| TemplateError::Read {
                        path: path.display().to_string(),
                        source,
                    })?
                }
                None => (*source).to_string(),
            };
            env.add_template_owned(*name, source)
                .map_err(|source| TemplateError::Compile {
                    name: (*name).to_string(),
                    source,
                })?;
        }
        Ok(Templates { env })
    }

    /// Renders the subject and text body with `text` and the HTML body with
    /// `html` (the two differ only in how `url` is escaped).
    pub fn render(
        &self,
        kind: MessageKind,
        text: &Value,
        html: &Value,
    ) -> Result<Rendered, TemplateError> {
        let base = kind.template_base();
        let render = |name: String, context: &Value| {
            self.env
                .get_template(&name)
                .and_then(|t| t.render(context))
                .map_err(|source| TemplateError::Render { name, source })
        };
        let subject = render(format!("{base}_subject.txt"), text)?;
        Ok(Rendered {
            // A subject is one line, whatever the template's whitespace.
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: render(format!("{base}.txt"), text)?,
            html: render(format!("{base}.html"), html)?,
        })
    }
}
