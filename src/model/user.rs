//! Users as records: `User` (a row of `auth_user` but the password),
//! `NewUser`, `UserChanges`, and the typed inputs `Username` and
//! `EmailAddress`, parsed at the edge exactly as Django would accept them.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    sync::LazyLock,
};

use regex::Regex;
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;

use super::Password;

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

/// Changes to a user's profile columns (`None` leaves a column alone).
#[derive(Debug, Default, Clone)]
pub struct UserChanges {
    pub username: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_active: Option<bool>,
}

impl UserChanges {
    /// `user` as it is once these changes are written.
    pub fn applied_to(&self, user: &User) -> User {
        let mut out = user.clone();
        let set = |to: &mut String, from: &Option<String>| {
            if let Some(v) = from {
                to.clone_from(v);
            }
        };
        set(&mut out.username, &self.username);
        set(&mut out.email, &self.email);
        set(&mut out.first_name, &self.first_name);
        set(&mut out.last_name, &self.last_name);
        if let Some(v) = self.is_active {
            out.is_active = v;
        }
        out
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
#[path = "user_tests.rs"]
mod tests_names;
