//! Unit tests of `Username` (NFKC normalisation) and `EmailAddress`,
//! including vectors made by real Django 5.2 and DRF
//! (tests/django/make_email_vectors.py writes tests/django/email_vectors.json):
//! the raw `EmailValidator` verdict, the messages of DRF's
//! `EmailField(max_length=254)` in order, and the address `normalize_email`
//! would store. Every disagreement is listed before the test fails.

use serde::Deserialize;

use super::{EmailAddress, Username};

#[test]
fn usernames_are_stored_in_nfkc_form() {
    for (typed, stored) in [
        ("ｒｏｏｔ２", "root2"),
        ("𝓻𝓸𝓸𝓽2", "root2"),
        ("ﬁuser", "fiuser"),
        ("①", "1"),
        ("Zoe\u{308}", "Zo\u{eb}"),
        ("  Ａｎｎ ", "Ann"),
    ] {
        assert_eq!(Username::parse(typed).unwrap().as_str(), stored, "{typed}");
        assert_eq!(Username::normalize(typed.trim()), stored, "{typed}");
    }
    // A decomposed accent is a combining mark, refused as such; NFKC
    // composes it first.
    assert!(!'\u{308}'.is_alphanumeric());
    // Thirty characters that become 180: the stored form counts.
    assert_eq!(
        Username::parse(&"\u{3316}".repeat(30)).unwrap_err(),
        ["Ensure this field has no more than 150 characters."]
    );
    assert!(Username::parse(&"\u{3316}".repeat(25)).is_ok());
}

#[test]
fn email_addresses_follow_drfs_field() {
    let long_local = format!("{}@example.com", "l".repeat(100));
    for ok in [
        long_local.as_str(),
        "\"a\\ b\"@example.com",
        "a@[::1]",
        "a@[127.0.0.1]",
        "a@müller.de",
        "a@xn--mller-kva.de",
        "a@sub.localhost",
    ] {
        assert_eq!(EmailAddress::parse(ok).unwrap().as_str(), ok);
    }
    for bad in [
        "a@[IPv6:::1]",
        "a@example.com.",
        "a@LOCALHOST",
        "é@example.com",
    ] {
        assert_eq!(
            EmailAddress::parse(bad).unwrap_err(),
            ["Enter a valid email address."],
            "{bad}"
        );
    }
    assert_eq!(
        EmailAddress::parse(&format!("{}@bad_domain", "x".repeat(260))).unwrap_err(),
        [
            "Ensure this field has no more than 254 characters.",
            "Enter a valid email address."
        ]
    );
    assert_eq!(
        EmailAddress::parse("a\0@example.com").unwrap_err(),
        [
            "Null characters are not allowed.",
            "Enter a valid email address."
        ]
    );
    assert_eq!(
        EmailAddress::parse("\u{1f}").unwrap_err(),
        ["This field may not be blank."]
    );
    assert_eq!(
        EmailAddress::parse("\u{1f}a@Example.COM\u{3000}")
            .unwrap()
            .as_str(),
        "a@example.com",
        "trimmed as Python's str.strip() does"
    );
}

#[derive(Deserialize)]
struct File {
    django: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    input: String,
    /// `EmailValidator()(input)` passed, on the input as given.
    validator: bool,
    /// DRF's messages; empty when the field accepts the input.
    errors: Vec<String>,
    /// `normalize_email` of the accepted value.
    stored: Option<String>,
}

fn vectors() -> File {
    serde_json::from_str(include_str!("../../tests/django/email_vectors.json"))
        .expect("email_vectors.json parses")
}

#[test]
fn the_vectors_come_from_django_5_2_and_cover_both_verdicts() {
    let file = vectors();
    assert!(file.django.starts_with("5.2."), "{}", file.django);
    let accepted = file.vectors.iter().filter(|v| v.errors.is_empty()).count();
    let refused = file.vectors.len() - accepted;
    assert!(accepted >= 100 && refused >= 300, "{accepted} / {refused}");
    for v in &file.vectors {
        assert_eq!(v.errors.is_empty(), v.stored.is_some(), "{:?}", v.input);
    }
}

#[test]
fn syntax_agrees_with_djangos_email_validator() {
    let mismatches: Vec<String> = vectors()
        .vectors
        .iter()
        .filter(|v| EmailAddress::django_accepts(&v.input) != v.validator)
        .map(|v| format!("{:?}: Django says {}", v.input, v.validator))
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn parse_agrees_with_drfs_email_field_and_normalize_email() {
    let mut mismatches = Vec::new();
    for v in vectors().vectors {
        let expected = match v.stored {
            Some(stored) => Ok(stored),
            None => Err(v.errors),
        };
        let got = EmailAddress::parse(&v.input).map(|e| e.as_str().to_string());
        if got != expected {
            mismatches.push(format!(
                "{:?}: doorman {got:?}, Django {expected:?}",
                v.input
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
