//! Django's four default password validators, reimplemented rule for rule
//! and message for message. This module owns which passwords a user may
//! choose. Policy: behave exactly like Django's `AUTH_PASSWORD_VALIDATORS`
//! from the `startproject` template, because front ends written against
//! Djoser display these English messages verbatim. All validators run, in
//! configuration order, and every failure is reported together, as Django
//! does. The list of validators is configuration (`PasswordValidator`
//! deserialises from the config tree and rejects unknown keys and bad
//! values); the common-password list is Django 5.2's, compiled into the
//! binary (see `COMMON-PASSWORDS.md`).
//!
//! Where Python's Unicode rules and Rust's differ slightly, the Rust rule is
//! used and documented at the spot; the differences only touch exotic
//! characters (combining marks, vulgar fractions), never ASCII.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// The user fields the similarity check may look at, with the verbose names
/// Django's `User` model gives them (they appear in the error message).
const ATTRIBUTES: [(&str, &str); 4] = [
    ("username", "username"),
    ("first_name", "first name"),
    ("last_name", "last name"),
    ("email", "email address"),
];

/// Django raises `ValueError` below this; so does `check_config`.
const MIN_MAX_SIMILARITY: f64 = 0.1;

/// One entry of the configured validator list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", try_from = "ValidatorConfig")]
pub enum PasswordValidator {
    /// Django's `UserAttributeSimilarityValidator`.
    UserAttributeSimilarity {
        user_attributes: Vec<String>,
        max_similarity: f64,
    },
    /// Django's `MinimumLengthValidator`.
    MinimumLength { min_length: usize },
    /// Django's `CommonPasswordValidator` with its bundled list.
    CommonPassword,
    /// Django's `NumericPasswordValidator`.
    Numeric,
}

/// The on-disk shape of `PasswordValidator`. It exists because serde lets
/// extra keys through on unit variants of an internally tagged enum
/// (`{name = "numeric", typo = 1}` would be accepted silently); empty struct
/// variants with `deny_unknown_fields` reject them. Converting also runs
/// `check_config`, so a bad value fails while the config is being read.
#[derive(Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
enum ValidatorConfig {
    UserAttributeSimilarity {
        #[serde(default = "default_user_attributes")]
        user_attributes: Vec<String>,
        #[serde(default = "default_max_similarity")]
        max_similarity: f64,
    },
    MinimumLength {
        #[serde(default = "default_min_length")]
        min_length: usize,
    },
    CommonPassword {},
    Numeric {},
}

impl TryFrom<ValidatorConfig> for PasswordValidator {
    type Error = String;

    fn try_from(raw: ValidatorConfig) -> Result<Self, Self::Error> {
        let validator = match raw {
            ValidatorConfig::UserAttributeSimilarity {
                user_attributes,
                max_similarity,
            } => Self::UserAttributeSimilarity {
                user_attributes,
                max_similarity,
            },
            ValidatorConfig::MinimumLength { min_length } => Self::MinimumLength { min_length },
            ValidatorConfig::CommonPassword {} => Self::CommonPassword,
            ValidatorConfig::Numeric {} => Self::Numeric,
        };
        validator.check_config()?;
        Ok(validator)
    }
}

fn default_user_attributes() -> Vec<String> {
    ATTRIBUTES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

fn default_max_similarity() -> f64 {
    0.7
}

fn default_min_length() -> usize {
    8
}

/// Django's four validators with Django's defaults, in the `startproject`
/// order.
pub fn default_validators() -> Vec<PasswordValidator> {
    vec![
        PasswordValidator::UserAttributeSimilarity {
            user_attributes: default_user_attributes(),
            max_similarity: default_max_similarity(),
        },
        PasswordValidator::MinimumLength {
            min_length: default_min_length(),
        },
        PasswordValidator::CommonPassword,
        PasswordValidator::Numeric,
    ]
}

impl PasswordValidator {
    /// Rejects settings that are meaningless or that Django itself refuses.
    pub fn check_config(&self) -> Result<(), String> {
        match self {
            Self::UserAttributeSimilarity {
                user_attributes,
                max_similarity,
            } => {
                // NaN compares as neither; refuse it along with small values.
                if max_similarity.is_nan() || *max_similarity < MIN_MAX_SIMILARITY {
                    return Err(format!(
                        "max_similarity must be at least {MIN_MAX_SIMILARITY}, got {max_similarity}"
                    ));
                }
                if let Some(unknown) = user_attributes
                    .iter()
                    .find(|name| verbose_name(name).is_none())
                {
                    return Err(format!(
                        "user_attributes: unknown attribute {unknown:?} \
                         (expected username, first_name, last_name or email)"
                    ));
                }
                Ok(())
            }
            Self::MinimumLength { min_length } => {
                if *min_length < 1 {
                    return Err("min_length must be at least 1".to_owned());
                }
                Ok(())
            }
            Self::CommonPassword | Self::Numeric => Ok(()),
        }
    }

    /// Django's message for this validator's failure, or `None` if the
    /// password passes.
    fn check(&self, password: &str, user: &UserAttributes<'_>) -> Option<String> {
        match self {
            Self::UserAttributeSimilarity {
                user_attributes,
                max_similarity,
            } => similarity_failure(password, user, user_attributes, *max_similarity),
            Self::MinimumLength { min_length } => {
                // Django's len(): Unicode code points, not bytes.
                (password.chars().count() < *min_length).then(|| too_short_message(*min_length))
            }
            Self::CommonPassword => {
                is_common(password).then(|| "This password is too common.".to_owned())
            }
            Self::Numeric => is_entirely_numeric(password)
                .then(|| "This password is entirely numeric.".to_owned()),
        }
    }
}

/// The user fields the similarity validator compares against. Empty strings
/// are skipped, as Django skips empty attributes.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserAttributes<'a> {
    pub username: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: &'a str,
}

impl<'a> UserAttributes<'a> {
    fn get(&self, attribute: &str) -> Option<&'a str> {
        match attribute {
            "username" => Some(self.username),
            "first_name" => Some(self.first_name),
            "last_name" => Some(self.last_name),
            "email" => Some(self.email),
            _ => None,
        }
    }
}

/// Runs every validator in order; on failure returns all messages, in order.
pub fn validate_password(
    password: &str,
    user: &UserAttributes<'_>,
    validators: &[PasswordValidator],
) -> Result<(), Vec<String>> {
    let errors: Vec<String> = validators
        .iter()
        .filter_map(|validator| validator.check(password, user))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn verbose_name(attribute: &str) -> Option<&'static str> {
    ATTRIBUTES
        .iter()
        .find(|(name, _)| *name == attribute)
        .map(|(_, verbose)| *verbose)
}

fn too_short_message(min_length: usize) -> String {
    // Django's English ngettext: singular only for exactly one.
    let noun = if min_length == 1 {
        "character"
    } else {
        "characters"
    };
    format!("This password is too short. It must contain at least {min_length} {noun}.")
}

/// Django's `UserAttributeSimilarityValidator.validate`: the first attribute
/// (in configured order) found too similar produces the only message.
fn similarity_failure(
    password: &str,
    user: &UserAttributes<'_>,
    attributes: &[String],
    max_similarity: f64,
) -> Option<String> {
    let password: Vec<char> = password.to_lowercase().chars().collect();
    attributes.iter().find_map(|attribute| {
        let value = user.get(attribute).filter(|value| !value.is_empty())?;
        let value = value.to_lowercase();
        let too_similar = split_on_non_word(&value)
            .into_iter()
            .chain(std::iter::once(value.as_str()))
            .any(|part| {
                let part: Vec<char> = part.chars().collect();
                !exceeds_maximum_length_ratio(password.len(), max_similarity, part.len())
                    && quick_ratio(&password, &part) >= max_similarity
            });
        too_similar.then(|| {
            let verbose = verbose_name(attribute).unwrap_or(attribute);
            format!("The password is too similar to the {verbose}.")
        })
    })
}

/// Django's shortcut: a part at most a tenth of the password's length, and
/// short enough that it could not reach `max_similarity` anyway, is skipped
/// without computing the ratio. Lengths are in code points.
fn exceeds_maximum_length_ratio(password_len: usize, max_similarity: f64, part_len: usize) -> bool {
    let length_bound_similarity = max_similarity / 2.0 * password_len as f64;
    password_len >= 10 * part_len && (part_len as f64) < length_bound_similarity
}

/// Python's `SequenceMatcher(a=a, b=b).quick_ratio()`: twice the size of the
/// multiset intersection of the characters over the total length, and 1.0
/// when both are empty.
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    let mut available: HashMap<char, usize> = HashMap::new();
    for &c in b {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a {
        if let Some(count) = available.get_mut(c).filter(|count| **count > 0) {
            *count -= 1;
            matches += 1;
        }
    }
    2.0 * matches as f64 / total as f64
}

/// Python's `\w` on `str`: alphanumeric or underscore. Rust's
/// `is_alphanumeric` also counts combining marks (Other_Alphabetic) as
/// letters where Python does not; that only changes where exotic values are
/// split.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Python's `re.split(r"\W+", value)`: split at each run of non-word
/// characters, keeping the empty pieces at either end when the value starts
/// or ends with such a run (they matter for the length-ratio rule).
fn split_on_non_word(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_separator = false;
    for (index, c) in value.char_indices() {
        if is_word_char(c) {
            if in_separator {
                start = index;
                in_separator = false;
            }
        } else if !in_separator {
            parts.push(&value[start..index]);
            in_separator = true;
        }
    }
    parts.push(if in_separator { "" } else { &value[start..] });
    parts
}

/// Django 5.2's bundled list, one lower-case password per line.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

/// Python's `str.isspace`: Rust's White_Space plus the four ASCII
/// information separators (U+001C..U+001F), which Python also strips.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Django: `password.lower().strip() in passwords`.
fn is_common(password: &str) -> bool {
    let lowered = password.to_lowercase();
    COMMON_PASSWORDS.contains(lowered.trim_matches(is_python_space))
}

/// Django: `password.isdigit()`. Python counts Unicode digits, including
/// superscripts and circled digits, but not fractions or Roman numerals;
/// `char::is_numeric` counts all of those, so a password made only of, say,
/// "½Ⅻ" is refused here and accepted by Django. Accepted as the safer
/// direction rather than carrying a Unicode table. Empty is not numeric.
fn is_entirely_numeric(password: &str) -> bool {
    !password.is_empty() && password.chars().all(char::is_numeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMILAR_USERNAME: &str = "The password is too similar to the username.";
    const SHORT_8: &str = "This password is too short. It must contain at least 8 characters.";
    const COMMON: &str = "This password is too common.";
    const NUMERIC: &str = "This password is entirely numeric.";

    fn nobody() -> UserAttributes<'static> {
        UserAttributes::default()
    }

    fn john() -> UserAttributes<'static> {
        UserAttributes {
            username: "johnsmith",
            first_name: "John",
            last_name: "Smith",
            email: "john.smith@example.com",
        }
    }

    fn only(validator: PasswordValidator) -> Vec<PasswordValidator> {
        vec![validator]
    }

    fn similarity(attributes: &[&str], max_similarity: f64) -> PasswordValidator {
        PasswordValidator::UserAttributeSimilarity {
            user_attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
            max_similarity,
        }
    }

    #[test]
    fn defaults_are_djangos() {
        let defaults = default_validators();
        assert_eq!(
            defaults,
            vec![
                similarity(&["username", "first_name", "last_name", "email"], 0.7),
                PasswordValidator::MinimumLength { min_length: 8 },
                PasswordValidator::CommonPassword,
                PasswordValidator::Numeric,
            ]
        );
        for validator in &defaults {
            assert!(validator.check_config().is_ok());
        }
    }

    #[test]
    fn good_password_passes_everything() {
        assert_eq!(
            validate_password("Tr0ub4dor&3-horse", &john(), &default_validators()),
            Ok(())
        );
    }

    #[test]
    fn minimum_length_and_plural_rule() {
        let eight = only(PasswordValidator::MinimumLength { min_length: 8 });
        assert_eq!(
            validate_password("abc", &nobody(), &eight),
            Err(vec![SHORT_8.to_owned()])
        );
        assert_eq!(validate_password("abcdefgh", &nobody(), &eight), Ok(()));
        // Code points, not bytes: 7 characters but 14 bytes.
        assert!(validate_password("äöüäöüä", &nobody(), &eight).is_err());
        assert_eq!(validate_password("äöüäöüäö", &nobody(), &eight), Ok(()));

        let one = only(PasswordValidator::MinimumLength { min_length: 1 });
        assert_eq!(
            validate_password("", &nobody(), &one),
            Err(vec![
                "This password is too short. It must contain at least 1 character.".to_owned()
            ])
        );
        let two = only(PasswordValidator::MinimumLength { min_length: 2 });
        assert_eq!(
            validate_password("a", &nobody(), &two),
            Err(vec![
                "This password is too short. It must contain at least 2 characters.".to_owned()
            ])
        );
    }

    #[test]
    fn common_passwords() {
        let common = only(PasswordValidator::CommonPassword);
        for password in [
            "password",
            "PASSWORD",
            "  Password\t",
            "qwerty",
            "123456",
            "пароль",
        ] {
            assert_eq!(
                validate_password(password, &nobody(), &common),
                Err(vec![COMMON.to_owned()]),
                "{password}"
            );
        }
        assert_eq!(
            validate_password("Tr0ub4dor&3-horse", &nobody(), &common),
            Ok(())
        );
        // Inner spaces are not stripped.
        assert_eq!(validate_password("pass word", &nobody(), &common), Ok(()));
    }

    #[test]
    fn common_list_is_complete() {
        assert_eq!(COMMON_PASSWORDS.len(), 19_640);
        assert!(COMMON_PASSWORDS.iter().all(|p| *p == p.to_lowercase()));
    }

    #[test]
    fn numeric_passwords() {
        let numeric = only(PasswordValidator::Numeric);
        for password in ["12345678901", "٣٤٥٦", "²³"] {
            assert_eq!(
                validate_password(password, &nobody(), &numeric),
                Err(vec![NUMERIC.to_owned()]),
                "{password}"
            );
        }
        for password in ["1234567a", "", "12 34", "-1234"] {
            assert_eq!(
                validate_password(password, &nobody(), &numeric),
                Ok(()),
                "{password}"
            );
        }
    }

    #[test]
    fn all_failures_reported_in_order() {
        // "123" is short, common and numeric; username "123" makes it similar.
        let user = UserAttributes {
            username: "123",
            ..nobody()
        };
        assert_eq!(
            validate_password("123", &user, &default_validators()),
            Err(vec![
                SIMILAR_USERNAME.to_owned(),
                SHORT_8.to_owned(),
                COMMON.to_owned(),
                NUMERIC.to_owned(),
            ])
        );
        // Order follows configuration, not a fixed ranking.
        let reversed: Vec<_> = default_validators().into_iter().rev().collect();
        assert_eq!(
            validate_password("123", &user, &reversed),
            Err(vec![
                NUMERIC.to_owned(),
                COMMON.to_owned(),
                SHORT_8.to_owned(),
                SIMILAR_USERNAME.to_owned(),
            ])
        );
    }

    #[test]
    fn similarity_to_each_attribute() {
        let all = only(similarity(
            &["username", "first_name", "last_name", "email"],
            0.7,
        ));
        assert_eq!(
            validate_password("johnsmith1", &john(), &all),
            Err(vec![SIMILAR_USERNAME.to_owned()])
        );
        // Case-insensitive.
        assert_eq!(
            validate_password("JOHNSMITH1", &john(), &all),
            Err(vec![SIMILAR_USERNAME.to_owned()])
        );
        let user = UserAttributes {
            first_name: "Alexandra",
            ..nobody()
        };
        assert_eq!(
            validate_password("alexandra!", &user, &all),
            Err(vec![
                "The password is too similar to the first name.".to_owned()
            ])
        );
        let user = UserAttributes {
            last_name: "Bartholomew",
            ..nobody()
        };
        assert_eq!(
            validate_password("bartholomew", &user, &all),
            Err(vec![
                "The password is too similar to the last name.".to_owned()
            ])
        );
        // A part of the e-mail address (split on non-word characters).
        let user = UserAttributes {
            email: "wonderland@example.org",
            ..nobody()
        };
        assert_eq!(
            validate_password("wonderland99", &user, &all),
            Err(vec![
                "The password is too similar to the email address.".to_owned()
            ])
        );
        // Only the first similar attribute is reported.
        let user = UserAttributes {
            username: "johnsmith",
            email: "johnsmith@example.com",
            ..nobody()
        };
        assert_eq!(
            validate_password("johnsmith", &user, &all),
            Err(vec![SIMILAR_USERNAME.to_owned()])
        );
    }

    #[test]
    fn unrelated_password_passes_similarity() {
        let all = only(similarity(
            &["username", "first_name", "last_name", "email"],
            0.7,
        ));
        assert_eq!(
            validate_password("quartz-vulture-84", &john(), &all),
            Ok(())
        );
        // Empty attributes are ignored, as in Django.
        assert_eq!(validate_password("", &nobody(), &all), Ok(()));
    }

    #[test]
    fn only_configured_attributes_are_checked() {
        let username_only = only(similarity(&["username"], 0.7));
        let user = UserAttributes {
            first_name: "Alexandra",
            ..nobody()
        };
        assert_eq!(
            validate_password("alexandra", &user, &username_only),
            Ok(())
        );
        let none = only(similarity(&[], 0.7));
        assert_eq!(validate_password("johnsmith", &john(), &none), Ok(()));
    }

    #[test]
    fn skip_rule() {
        // Django skips a part when the password is at least ten times longer
        // and the part is shorter than max_similarity/2 of the password.
        assert!(exceeds_maximum_length_ratio(20, 0.7, 2)); // 20 ≥ 20, 2 < 7
        assert!(!exceeds_maximum_length_ratio(19, 0.7, 2)); // 19 < 20
        assert!(!exceeds_maximum_length_ratio(20, 0.1, 2)); // 2 < 1 fails
        assert!(!exceeds_maximum_length_ratio(0, 0.7, 0)); // 0 < 0 fails
        // An empty leading part ("@x" splits into "" and "x") is skipped
        // for any non-empty password.
        assert!(exceeds_maximum_length_ratio(1, 0.7, 0));
        // The rule is only a shortcut: whenever it skips, quick_ratio could
        // not have reached max_similarity (its upper bound
        // 2·part/(password+part) is below max), so results never change.
        for max in [0.1, 0.3, 0.7, 1.0] {
            for password_len in 0..60usize {
                for part_len in 0..10usize {
                    if exceeds_maximum_length_ratio(password_len, max, part_len) {
                        let bound = 2.0 * part_len as f64 / (password_len + part_len) as f64;
                        assert!(bound < max, "{max} {password_len} {part_len}");
                    }
                }
            }
        }
    }

    #[test]
    fn skip_rule_in_context() {
        // Username "a": ten 'a's is checked (10 ≥ 10 but 1 < 0.05·10 fails)
        // and is similar (2/11 ≥ 0.1); thirty 'a's is skipped and passes.
        let user = UserAttributes {
            username: "a",
            ..nobody()
        };
        let low = only(similarity(&["username"], 0.1));
        assert!(validate_password("aaaaaaaaaa", &user, &low).is_err());
        assert_eq!(validate_password(&"a".repeat(30), &user, &low), Ok(()));
        // With the default 0.7 a long password containing the username passes.
        let default = only(similarity(&["username"], 0.7));
        assert_eq!(
            validate_password("johnsmith-rides-a-bicycle", &john(), &default),
            Ok(())
        );
        // The whole value is a candidate as well as its parts.
        let user = UserAttributes {
            username: "a.b",
            ..nobody()
        };
        assert_eq!(split_on_non_word("a.b"), vec!["a", "b"]);
        assert!(validate_password("a.b", &user, &default).is_err());
    }

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    #[test]
    fn quick_ratio_matches_python() {
        // Values computed with CPython's difflib.
        assert_eq!(
            quick_ratio(&chars("johnsmith1"), &chars("johnsmith")),
            18.0 / 19.0
        );
        assert_eq!(quick_ratio(&chars("abc"), &chars("cba")), 1.0);
        assert_eq!(quick_ratio(&chars("aab"), &chars("abb")), 4.0 / 6.0);
        assert_eq!(quick_ratio(&chars(""), &chars("")), 1.0);
        assert_eq!(quick_ratio(&chars("abc"), &chars("")), 0.0);
    }

    #[test]
    fn split_matches_python_re_split() {
        assert_eq!(
            split_on_non_word("john.smith@example.com"),
            vec!["john", "smith", "example", "com"]
        );
        assert_eq!(split_on_non_word("@foo"), vec!["", "foo"]);
        assert_eq!(split_on_non_word("foo@"), vec!["foo", ""]);
        assert_eq!(split_on_non_word("a..b"), vec!["a", "b"]);
        assert_eq!(split_on_non_word("snake_case"), vec!["snake_case"]);
        assert_eq!(split_on_non_word("jürgen-müller"), vec!["jürgen", "müller"]);
    }

    #[test]
    fn config_parses_from_json_with_defaults() {
        let parsed: Vec<PasswordValidator> = serde_json::from_str(
            r#"[
                {"name": "user_attribute_similarity"},
                {"name": "minimum_length", "min_length": 12},
                {"name": "common_password"},
                {"name": "numeric"}
            ]"#,
        )
        .expect("parses");
        assert_eq!(
            parsed,
            vec![
                similarity(&["username", "first_name", "last_name", "email"], 0.7),
                PasswordValidator::MinimumLength { min_length: 12 },
                PasswordValidator::CommonPassword,
                PasswordValidator::Numeric,
            ]
        );
        // Serialising and reading back gives the same list.
        let text = serde_json::to_string(&default_validators()).expect("serialises");
        let back: Vec<PasswordValidator> = serde_json::from_str(&text).expect("round trip");
        assert_eq!(back, default_validators());
    }

    #[test]
    fn config_rejects_unknown_keys_and_bad_values() {
        for (snippet, expect) in [
            (r#"{"name": "numeric", "typo": 1}"#, "typo"),
            (r#"{"name": "common_password", "path": "x"}"#, "path"),
            (r#"{"name": "minimum_length", "minlength": 3}"#, "minlength"),
            (
                r#"{"name": "user_attribute_similarity", "max": 0.5}"#,
                "max",
            ),
            (r#"{"name": "no_such_validator"}"#, "no_such_validator"),
            (r#"{"min_length": 3}"#, "name"),
            (
                r#"{"name": "minimum_length", "min_length": 0}"#,
                "min_length",
            ),
            (r#"{"name": "minimum_length", "min_length": -1}"#, "-1"),
            (
                r#"{"name": "user_attribute_similarity", "max_similarity": 0.05}"#,
                "max_similarity",
            ),
            (
                r#"{"name": "user_attribute_similarity", "user_attributes": ["nickname"]}"#,
                "nickname",
            ),
        ] {
            let error = serde_json::from_str::<PasswordValidator>(snippet)
                .expect_err(snippet)
                .to_string();
            assert!(error.contains(expect), "{snippet}: {error}");
        }
    }

    #[test]
    fn config_through_figment_toml() {
        use figment::Figment;
        use figment::providers::{Format as _, Toml};

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Section {
            validators: Vec<PasswordValidator>,
        }

        let good = r#"
            [[validators]]
            name = "user_attribute_similarity"
            user_attributes = ["username", "email"]
            max_similarity = 0.5

            [[validators]]
            name = "minimum_length"
            min_length = 10

            [[validators]]
            name = "numeric"
        "#;
        let section: Section = Figment::from(Toml::string(good))
            .extract()
            .expect("good TOML parses");
        assert_eq!(
            section.validators,
            vec![
                similarity(&["username", "email"], 0.5),
                PasswordValidator::MinimumLength { min_length: 10 },
                PasswordValidator::Numeric,
            ]
        );

        for bad in [
            "[[validators]]\nname = \"numeric\"\nstrict = true\n",
            "[[validators]]\nname = \"minimum_length\"\nmin_length = 0\n",
            "[[validators]]\nname = \"user_attribute_similarity\"\nmax_similarity = 0.0\n",
        ] {
            let result = Figment::from(Toml::string(bad)).extract::<Section>();
            assert!(result.is_err(), "{bad}");
        }
    }

    #[test]
    fn check_config_rules() {
        assert!(similarity(&["username"], 0.1).check_config().is_ok());
        assert!(similarity(&["username"], 1.5).check_config().is_ok());
        assert!(similarity(&["username"], 0.099).check_config().is_err());
        assert!(similarity(&["username"], f64::NAN).check_config().is_err());
        assert!(similarity(&["password"], 0.7).check_config().is_err());
        assert!(
            PasswordValidator::MinimumLength { min_length: 0 }
                .check_config()
                .is_err()
        );
        assert!(PasswordValidator::CommonPassword.check_config().is_ok());
    }
}
