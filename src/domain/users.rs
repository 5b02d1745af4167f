//! Users: the typed inputs (`Username`, `EmailAddress`) parsed at the edge,
//! the `User` record, and the operations on users that the CLI and both APIs
//! share (create, authenticate, change password).

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    sync::{Arc, LazyLock},
};

use regex::Regex;
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;

use super::{Error, password::Password, validators};
use crate::{
    config::{LoginField, Settings},
    mail::Mailer,
    security::{django_tokens::TokenGenerator, hashers::Verification, passwords::PasswordService},
    store::Store,
};

mod manage;

pub use manage::{
    EMAIL_TAKEN, PasswordChange, USERNAME_TAKEN, UserUpdate, attributes, conflict_as_field,
    missing_message,
};

/// Django's `AbstractUser`: the columns of `auth_user` but the password.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i32,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub last_login: Option<OffsetDateTime>,
    pub date_joined: OffsetDateTime,
}

/// A username as Django stores it: trimmed, in Unicode NFKC form (Django's
/// `normalize_username`), then held to `UnicodeUsernameValidator`: 1–150
/// characters, each a Unicode letter, digit, `_` or one of `@.+-`.
///
/// NFKC folds compatibility look-alikes (`ｒｏｏｔ２`, `𝓻𝓸𝓸𝓽2`, `ﬁuser`) into
/// the plain name, so they collide with it instead of impersonating it.
/// The rules run on the normalised form, as Django's `UsernameField` does in
/// its forms: what is checked is what is stored (NFKC may lengthen a name,
/// and the 150-character column must hold the result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 150;

    /// Every rule the value breaks is reported, in Django's order (the
    /// character rule, then the length), as DRF does.
    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let value = Self::normalize(raw.trim());
        if value.is_empty() {
            return Err(vec!["This field may not be blank.".into()]);
        }
        let mut problems = Vec::new();
        let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '@' | '.' | '+' | '-');
        if !value.chars().all(allowed) {
            problems.push("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".into());
        }
        if value.chars().count() > Self::MAX_LEN {
            problems.push(format!(
                "Ensure this field has no more than {} characters.",
                Self::MAX_LEN
            ));
        }
        if problems.is_empty() {
            Ok(Self(value))
        } else {
            Err(problems)
        }
    }

    /// The NFKC form of a name, as Django's `normalize_username` gives it;
    /// logins look the typed name up in this form.
    pub fn normalize(name: &str) -> String {
        name.nfkc().collect()
    }

    /// A username derived from an e-mail address (for accounts that log in
    /// by e-mail): the address itself, cut to the column's length.
    pub fn from_email(email: &EmailAddress) -> Self {
        Self(email.as_str().chars().take(Self::MAX_LEN).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address as a Djoser registration takes it: DRF's
/// `EmailField(max_length=254)` (trimmed, at most 254 characters, no NUL,
/// Django 5.2's `EmailValidator`), then stored with the domain lower-cased
/// as `BaseUserManager.normalize_email` does; the local part is kept as
/// given. `tests/django/email_vectors.json`, made by Django itself, pins
/// every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    /// Every message DRF would give, in its order: blank alone; otherwise
    /// the length cap, NUL characters and the syntax, each when it applies.
    /// (DRF's lone-surrogate check cannot fire: a `str` holds none.)
    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        // Python's `str.strip()`: Unicode White_Space plus the four ASCII
        // separators U+001C..U+001F, which `str::trim` keeps.
        let value =
            raw.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
        if value.is_empty() {
            return Err(vec!["This field may not be blank.".into()]);
        }
        let mut problems = Vec::new();
        if value.chars().count() > Self::MAX_LEN {
            problems.push(format!(
                "Ensure this field has no more than {} characters.",
                Self::MAX_LEN
            ));
        }
        if value.contains('\0') {
            problems.push("Null characters are not allowed.".into());
        }
        if !Self::django_accepts(value) {
            problems.push("Enter a valid email address.".into());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let (local, domain) = value
            .rsplit_once('@')
            .expect("the validator accepts only values with an `@`");
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// Django 5.2's `EmailValidator()` on `value` as given: at most 320
    /// characters; split at the last `@`; the local part a dot-atom or a
    /// quoted string; the domain `localhost`, a host name (labels of ASCII
    /// letters, digits and any character U+00A1..U+FFFF, not starting or
    /// ending with `-`, at most 63 long; a last label of two or more
    /// non-digits, or `xn--` and punycode), or an IPv4/IPv6 literal in
    /// brackets. Django 5.2 has no IDNA step: Unicode labels pass the
    /// pattern as they are, and a trailing dot is refused.
    ///
    /// Django's patterns are case-insensitive, and Python then lets four
    /// non-ASCII letters (İ ı ſ K) match ASCII ones; the classes below list
    /// them instead of relying on another engine's case folding.
    fn django_accepts(value: &str) -> bool {
        const FOLDS: &str = "\u{130}\u{131}\u{17f}\u{212a}";
        static LOCAL: LazyLock<Regex> = LazyLock::new(|| {
            let atom = format!(r"[a-zA-Z0-9!#$%&'*+/=?^_`{{|}}\~\-{FOLDS}]+");
            // Quoted text: ASCII but NUL, tab, LF, CR, `"` and `\`; a
            // backslash escapes any ASCII but NUL, LF and CR.
            let text = format!(r"[\x01-\x08\x0b\x0c\x0e-\x1f!\x23-\x5b\x5d-\x7f{FOLDS}]");
            let escape = format!(r"\\[\x01-\x09\x0b\x0c\x0e-\x7f{FOLDS}]");
            Regex::new(&format!(
                r#"^(?:{atom}(?:\.{atom})*|"(?:{text}|{escape})*")\z"#
            ))
            .expect("the local-part pattern compiles")
        });
        static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
            let any = r"a-zA-Z0-9\x{a1}-\x{ffff}";
            let letter = r"a-zA-Z\x{a1}-\x{ffff}";
            let label = format!(r"[{any}](?:[{any}\-]{{0,61}}[{any}])?");
            let tld = format!(
                r"(?:[{letter}][{letter}\-]{{0,61}}[{letter}]|[xX][nN]--[a-zA-Z0-9{FOLDS}]{{1,59}})"
            );
            Regex::new(&format!(r"^{label}(?:\.{label})*\.{tld}\z"))
                .expect("the domain pattern compiles")
        });
        static LITERAL: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"^\[([a-fA-F0-9:.]+)\]\z").expect("the literal pattern compiles")
        });

        // RFC 3696's limit, which Django applies before anything else.
        const MAX_LEN: usize = 320;
        if value.is_empty() || value.chars().count() > MAX_LEN {
            return false;
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return false;
        };
        if !LOCAL.is_match(local) {
            return false;
        }
        if domain == "localhost" || DOMAIN.is_match(domain) {
            return true;
        }
        // Django's IPv6 check also caps the text at 39 characters.
        LITERAL.captures(domain).is_some_and(|c| {
            let ip = &c[1];
            ip.parse::<Ipv4Addr>().is_ok() || (ip.len() <= 39 && ip.parse::<Ipv6Addr>().is_ok())
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What it takes to create a user.
#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub email: Option<EmailAddress>,
    pub first_name: String,
    pub last_name: String,
    /// `None` gives the user an unusable password (cannot log in until reset).
    pub password: Option<Password>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// The rules shared by every way of creating or changing users, and the
/// one home of each change (`manage.rs`).
#[derive(Clone)]
pub struct Users {
    store: Store,
    passwords: PasswordService,
    validators: Arc<Vec<validators::PasswordValidator>>,
    mailer: Mailer,
    tokens: Arc<TokenGenerator>,
    settings: Arc<Settings>,
}

impl Users {
    pub fn new(
        store: Store,
        passwords: PasswordService,
        mailer: Mailer,
        settings: Arc<Settings>,
    ) -> Self {
        let key = settings.security.secret_key.clone().unwrap_or_default();
        let tokens = TokenGenerator::new(
            &key,
            settings.security.secret_key_fallbacks.clone(),
            settings.security.token_timeout,
        );
        Self {
            store,
            passwords,
            validators: Arc::new(settings.users.password_validators.clone()),
            mailer,
            tokens: Arc::new(tokens),
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// Runs the configured password validators against `password` for a
    /// user with these attributes; all failures are reported together.
    pub fn validate_password(
        &self,
        password: &Password,
        user: &validators::UserAttributes<'_>,
    ) -> Result<(), Error> {
        validators::validate_password(password.expose(), user, &self.validators)
            .map_err(|messages| Error::Validation(vec![("password".to_string(), messages)]))
    }

    /// The encoded hash of `password`, or an unusable one for `None`.
    pub async fn hash(&self, password: Option<&Password>) -> Result<String, Error> {
        match password {
            Some(p) => self.passwords.hash(p).await.map_err(Error::internal),
            None => Ok(crate::security::hashers::make_unusable_password()),
        }
    }

    /// Checks a password against a stored hash; `None` (no such user) does
    /// the same work and never matches.
    pub async fn verify(&self, password: &Password, encoded: Option<&str>) -> Verification {
        self.passwords.verify(password, encoded).await
    }

    /// Validates the password (when given), hashes it and inserts the user.
    pub async fn create(&self, new: NewUser) -> Result<User, Error> {
        let email = new.email.as_ref().map(|e| e.as_str()).unwrap_or("");
        let encoded = match &new.password {
            Some(password) => {
                self.validate_password(
                    password,
                    &validators::UserAttributes {
                        username: new.username.as_str(),
                        first_name: &new.first_name,
                        last_name: &new.last_name,
                        email,
                    },
                )?;
                self.passwords
                    .hash(password)
                    .await
                    .map_err(Error::internal)?
            }
            None => crate::security::hashers::make_unusable_password(),
        };
        Ok(self.store.insert_user(&new, email, &encoded).await?)
    }

    /// Checks a username and password. On success with a hash that is weaker
    /// than the current policy (an older algorithm or other parameters), the
    /// hash is replaced. An unknown username costs as much as a known one.
    pub async fn authenticate(&self, username: &str, password: &Password) -> Result<User, Error> {
        self.authenticate_by(LoginField::Username, username, password)
            .await
    }

    /// `authenticate` by the configured login field: the exact username,
    /// or the e-mail address ignoring case.
    pub async fn authenticate_by(
        &self,
        field: LoginField,
        login: &str,
        password: &Password,
    ) -> Result<User, Error> {
        let found = match field {
            LoginField::Username => {
                let name = Username::normalize(login);
                self.store.find_credentials_by_username(&name).await?
            }
            LoginField::Email => self
                .store
                .find_credentials_by_email(login)
                .await?
                .into_iter()
                .next(),
        };
        let verdict = self
            .passwords
            .verify(password, found.as_ref().map(|(_, hash)| hash.as_str()))
            .await;
        let Some((user, hash)) = found else {
            return Err(Error::InvalidCredentials);
        };
        match verdict {
            Verification::Match { needs_rehash } => {
                if needs_rehash {
                    let fresh = self
                        .passwords
                        .hash(password)
                        .await
                        .map_err(Error::internal)?;
                    // Only replace the hash we verified: a concurrent
                    // password change must win over this upgrade.
                    self.store
                        .replace_password_hash(user.id, &hash, &fresh)
                        .await?;
                }
                if !user.is_active {
                    return Err(Error::Inactive);
                }
                Ok(user)
            }
            Verification::Invalid(reason) => {
                tracing::warn!(user_id = user.id, reason, "stored password hash rejected");
                Err(Error::InvalidCredentials)
            }
            Verification::NoMatch | Verification::Unusable => Err(Error::InvalidCredentials),
        }
    }

    pub async fn find_by_username(&self, username: &str) -> Result<User, Error> {
        self.store
            .find_credentials_by_username(username)
            .await?
            .map(|(user, _)| user)
            .ok_or(Error::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_djangos_rule() {
        assert!(Username::parse("alice.smith+x@host-1_2").is_ok());
        assert!(Username::parse("Zoë").is_ok());
        assert_eq!(Username::parse("  bob ").unwrap().as_str(), "bob");
        assert!(Username::parse("").is_err());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("semi;colon").is_err());
        assert!(Username::parse(&"a".repeat(150)).is_ok());
        assert!(Username::parse(&"a".repeat(151)).is_err());
        assert_eq!(
            Username::parse(&format!("a b{}", "c".repeat(150)))
                .unwrap_err()
                .len(),
            2
        );
    }

    #[test]
    fn email_addresses_are_checked_and_domain_lowercased() {
        assert_eq!(
            EmailAddress::parse(" Bob.Smith@Example.COM ")
                .unwrap()
                .as_str(),
            "Bob.Smith@example.com"
        );
        assert!(EmailAddress::parse("a@localhost").is_ok());
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@-x.com",
            "a..b@x.com",
            "a@x.123",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} accepted");
        }
    }
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests_names;
