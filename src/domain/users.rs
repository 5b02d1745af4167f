//! Users: the typed inputs (`Username`, `EmailAddress`) parsed at the edge,
//! the `User` record, and the operations on users that the CLI and both APIs
//! share (create, authenticate, change password).

use std::sync::Arc;

use time::OffsetDateTime;

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

/// A username as Django's `UnicodeUsernameValidator` accepts it: 1–150
/// characters, each a Unicode letter, digit, `_` or one of `@.+-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 150;

    /// Every rule the value breaks is reported, in Django's order (the
    /// character rule, then the length), as DRF does.
    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let value = raw.trim();
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
            Ok(Self(value.to_string()))
        } else {
            Err(problems)
        }
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

/// An e-mail address: trimmed, at most 254 characters, one `@` with a
/// non-empty local part and a domain of dot-separated labels (or
/// `localhost`). The domain is lower-cased as Django's `normalize_email`
/// does; the local part is kept as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid = || "Enter a valid email address.".to_string();
        let value = raw.trim();
        if value.chars().count() > Self::MAX_LEN {
            return Err(format!(
                "Ensure this field has no more than {} characters.",
                Self::MAX_LEN
            ));
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"@\"(),:;<>[\\]".contains(c));
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = domain == "localhost"
            || (labels.len() >= 2
                && labels.iter().all(|l| label_ok(l))
                && labels
                    .last()
                    .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit())));
        if !local_ok || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
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
            LoginField::Username => self.store.find_credentials_by_username(login).await?,
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
