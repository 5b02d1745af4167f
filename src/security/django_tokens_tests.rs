//! Unit tests of uids and account tokens, including the vectors made by real
//! Django in tests/django/token_vectors.json, plus the helper that asks a
//! local Django (through tests/django's checker scripts) about our output.

use super::*;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

const TIMEOUT: u64 = 259_200;

#[derive(Deserialize)]
struct Vectors {
    timeout: u64,
    tokens: Vec<TokenVector>,
    checks: Vec<CheckVector>,
    uid_encode: Vec<UidEncode>,
    uid_decode: Vec<UidDecode>,
}

#[derive(Deserialize, Clone)]
struct UserFields {
    id: i32,
    password: String,
    last_login: Option<String>,
    email: String,
}

#[derive(Deserialize)]
struct TokenVector {
    secret: String,
    user: UserFields,
    now: String,
    ts: u64,
    token: String,
}

#[derive(Deserialize)]
struct CheckVector {
    name: String,
    secret: String,
    fallbacks: Vec<String>,
    user: UserFields,
    token: String,
    now: String,
    valid: bool,
}

#[derive(Deserialize)]
struct UidEncode {
    id: i32,
    uid: String,
}

#[derive(Deserialize)]
struct UidDecode {
    uid: String,
    pk: Option<String>,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../../tests/django/token_vectors.json"))
        .expect("token_vectors.json parses")
}

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339 instant")
}

fn user_of(fields: &UserFields) -> TokenUser<'_> {
    TokenUser {
        id: fields.id,
        password_hash: &fields.password,
        last_login: fields.last_login.as_deref().map(at),
        email: &fields.email,
    }
}

fn alice() -> TokenUser<'static> {
    TokenUser {
        id: 42,
        password_hash: "argon2$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA",
        last_login: Some(datetime!(2024-05-17 08:09:10.123456 UTC)),
        email: "alice@example.com",
    }
}

fn generator() -> TokenGenerator {
    TokenGenerator::new("test secret", Vec::new(), TIMEOUT)
}

const NOW: OffsetDateTime = datetime!(2025-03-04 05:06:07 UTC);

#[test]
fn django_token_vectors_reproduce_and_verify() {
    let vectors = vectors();
    assert_eq!(vectors.timeout, TIMEOUT);
    assert!(vectors.tokens.len() >= 30, "expected the full vector set");
    for v in &vectors.tokens {
        let generator = TokenGenerator::new(&v.secret, Vec::new(), vectors.timeout);
        let user = user_of(&v.user);
        let now = at(&v.now);
        assert_eq!(
            generator.make_token(&user, now),
            v.token,
            "vector {:?} at {}",
            v.user.id,
            v.now
        );
        assert!(generator.check_token(&user, &v.token, now), "{}", v.token);
        let (ts_text, _) = v.token.split_once('-').expect("token has a dash");
        assert_eq!(parse_base36(ts_text), Some(u128::from(v.ts)));
    }
}

#[test]
fn django_check_vectors_agree() {
    let vectors = vectors();
    assert!(vectors.checks.iter().any(|c| c.valid) && vectors.checks.iter().any(|c| !c.valid));
    for c in &vectors.checks {
        let generator = TokenGenerator::new(&c.secret, c.fallbacks.clone(), vectors.timeout);
        assert_eq!(
            generator.check_token(&user_of(&c.user), &c.token, at(&c.now)),
            c.valid,
            "{}",
            c.name
        );
    }
}

#[test]
fn django_uid_vectors_encode() {
    for v in &vectors().uid_encode {
        assert_eq!(encode_uid(v.id), v.uid);
        assert_eq!(decode_uid(&v.uid), Some(v.id));
    }
}

/// Uids where doorman knowingly answers differently from Python: non-ASCII
/// decimal digits, which `int()` reads and we refuse.
const KNOWN_UID_DIFFERENCES: &[&str] = &["2aHZog"];

#[test]
fn django_uid_vectors_decode() {
    let vectors = vectors().uid_decode;
    assert!(vectors.len() >= 50, "expected the full vector set");
    for v in &vectors {
        let expected = if KNOWN_UID_DIFFERENCES.contains(&v.uid.as_str()) {
            assert!(v.pk.is_some(), "{:?} is no longer a difference", v.uid);
            None
        } else {
            // Python's answer may be any size; we only ever hold i32 ids.
            v.pk.as_deref()
                .and_then(|pk| pk.parse::<i128>().ok())
                .and_then(|pk| i32::try_from(pk).ok())
        };
        assert_eq!(decode_uid(&v.uid), expected, "uid {:?}", v.uid);
    }
}

#[test]
fn uid_decoding_corner_cases() {
    assert_eq!(decode_uid("MDE"), Some(1), "\"01\" finds user 1");
    assert_eq!(decode_uid("MQ"), Some(1));
    assert_eq!(decode_uid("MR"), Some(1), "leftover bits are ignored");
    assert_eq!(
        decode_uid("M+Q/"),
        None,
        "standard alphabet too: decodes to junk"
    );
    // Data after a completed pad: CPython versions disagree, so we refuse.
    assert_eq!(decode_uid("MQ==MQ"), None);
    assert_eq!(
        decode_uid("MQ==!!"),
        Some(1),
        "non-alphabet bytes after it are fine"
    );
    for (text, expected) in [
        ("1", Some(1)),
        (" 1\t\n", Some(1)),
        ("\u{3000}7\u{a0}", Some(7)),
        ("+1", Some(1)),
        ("-0", Some(0)),
        ("1_000", Some(1000)),
        ("0_1", Some(1)),
        ("0000000000000000000000000000042", Some(42)),
        ("2147483647", Some(i32::MAX)),
        ("-2147483648", Some(i32::MIN)),
        ("2147483648", None),
        ("99999999999999999999999999", None),
        ("_1", None),
        ("1_", None),
        ("1__0", None),
        ("+_1", None),
        ("- 1", None),
        ("1 0", None),
        ("\u{1c}1", None),
        ("1.0", None),
        ("0x10", None),
        ("", None),
        ("+", None),
        ("-", None),
        ("١٢", None),
    ] {
        assert_eq!(parse_python_int(text), expected, "{text:?}");
        assert_eq!(
            decode_uid(&URL_SAFE_NO_PAD.encode(text)),
            expected,
            "{text:?}"
        );
    }
}

#[test]
fn tokens_round_trip() {
    let generator = generator();
    let token = generator.make_token(&alice(), NOW);
    assert!(generator.check_token(&alice(), &token, NOW));
    let (ts, hash) = token.split_once('-').expect("dash");
    assert_eq!(ts.len(), 6, "six base36 digits until 2069");
    assert_eq!(hash.len(), 32);
    assert!(
        hash.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
}

#[test]
fn tokens_die_when_the_user_changes() {
    let generator = generator();
    let token = generator.make_token(&alice(), NOW);
    let changed = [
        TokenUser {
            password_hash: "argon2$argon2id$v=19$m=19456,t=2,p=1$bmV3$aGFzaA",
            ..alice()
        },
        TokenUser {
            last_login: Some(datetime!(2025-03-04 05:00:00 UTC)),
            ..alice()
        },
        TokenUser {
            last_login: None,
            ..alice()
        },
        TokenUser {
            email: "alice@example.org",
            ..alice()
        },
        TokenUser {
            email: "",
            ..alice()
        },
        TokenUser { id: 43, ..alice() },
    ];
    for user in &changed {
        assert!(!generator.check_token(user, &token, NOW), "{user:?}");
    }
}

#[test]
fn last_login_is_compared_in_utc_to_the_second() {
    let generator = generator();
    let token = generator.make_token(&alice(), NOW);
    let same_second = TokenUser {
        last_login: Some(datetime!(2024-05-17 08:09:10 UTC)),
        ..alice()
    };
    assert!(
        generator.check_token(&same_second, &token, NOW),
        "microseconds are dropped"
    );
    let other_zone = TokenUser {
        last_login: Some(datetime!(2024-05-17 10:09:10.5 +02:00)),
        ..alice()
    };
    assert!(
        generator.check_token(&other_zone, &token, NOW),
        "the instant counts, not the zone"
    );
    assert_eq!(
        last_login_text(Some(datetime!(0099-01-02 03:04:05 UTC))),
        "0099-01-02 03:04:05"
    );
    assert_eq!(last_login_text(None), "");
}

#[test]
fn tokens_expire_after_the_timeout_but_not_before() {
    let generator = generator();
    let token = generator.make_token(&alice(), NOW);
    let limit = NOW + time::Duration::seconds(TIMEOUT as i64);
    assert!(generator.check_token(&alice(), &token, limit));
    assert!(generator.check_token(&alice(), &token, limit + time::Duration::milliseconds(999)));
    assert!(!generator.check_token(&alice(), &token, limit + time::Duration::seconds(1)));
    // A token stamped in the future passes, as in Django.
    assert!(generator.check_token(&alice(), &token, NOW - time::Duration::days(365)));
    let zero = TokenGenerator::new("test secret", Vec::new(), 0);
    assert!(zero.check_token(&alice(), &token, NOW + time::Duration::milliseconds(999)));
    assert!(!zero.check_token(&alice(), &token, NOW + time::Duration::seconds(1)));
}

#[test]
fn tokens_need_one_of_our_secrets() {
    let old = TokenGenerator::new("old secret", Vec::new(), TIMEOUT);
    let token = old.make_token(&alice(), NOW);
    assert!(
        !generator().check_token(&alice(), &token, NOW),
        "wrong secret"
    );
    let rotated = TokenGenerator::new(
        "new secret",
        vec!["unrelated".to_owned(), "old secret".to_owned()],
        TIMEOUT,
    );
    assert!(
        rotated.check_token(&alice(), &token, NOW),
        "fallback secret"
    );
    // New tokens are always signed with the primary secret.
    let fresh = rotated.make_token(&alice(), NOW);
    assert!(!old.check_token(&alice(), &fresh, NOW));
    assert!(
        TokenGenerator::new("new secret", Vec::new(), TIMEOUT).check_token(&alice(), &fresh, NOW)
    );
    let debug = format!("{rotated:?}");
    assert!(
        debug.contains("redacted") && !debug.contains("secret\""),
        "{debug}"
    );
}

#[test]
fn tokens_are_case_and_byte_exact() {
    let generator = generator();
    let token = generator.make_token(&alice(), NOW);
    assert!(!generator.check_token(&alice(), &token.to_uppercase(), NOW));
    let (ts, hash) = token.split_once('-').expect("dash");
    for variant in [
        format!("0{ts}-{hash}"),
        format!("{}-{hash}", ts.to_uppercase()),
        format!("+{ts}-{hash}"),
        format!(" {ts}-{hash}"),
        format!("{ts}-{hash}-"),
        format!("{ts}-{hash} "),
        format!("{ts}-{}", &hash[..31]),
        format!("{ts}--{hash}"),
        format!("{ts}{hash}"),
    ] {
        assert!(!generator.check_token(&alice(), &variant, NOW), "{variant}");
    }
}

#[test]
fn timestamps_encode_in_base36() {
    assert_eq!(to_base36(0), "0");
    assert_eq!(to_base36(35), "z");
    assert_eq!(to_base36(36), "10");
    assert_eq!(parse_base36("zzzzzzzzzzzzz"), Some(36u128.pow(13) - 1));
    assert_eq!(
        parse_base36("zzzzzzzzzzzzzz"),
        None,
        "14 digits are refused unparsed"
    );
    for n in [1u128, 35, 36, 1_000_000, u128::from(u64::MAX)] {
        assert_eq!(parse_base36(&to_base36(n)), Some(n));
    }
    // Before 2001 Django cannot make tokens at all; we pin the stamp to 0.
    let early = generator().make_token(&alice(), datetime!(1999-12-31 23:59:59 UTC));
    assert!(early.starts_with("0-"), "{early}");
}

#[test]
fn garbage_never_panics() {
    let generator = generator();
    let huge = "z".repeat(10_000);
    let long_token = format!("{}-{}", "1".repeat(13), "f".repeat(100_000));
    let mut inputs: Vec<String> = [
        "",
        "-",
        "--",
        "a-b-c",
        "a-b",
        "-abc",
        "abc-",
        "0",
        "0-",
        "-0",
        "zzzzzzzzzzzzz-0",
        "zzzzzzzzzzzzzz-0",
        "ZZZZ-0",
        "é-é",
        "1-\u{0}",
        "\u{10ffff}",
        "💥-💥",
        "=",
        "====",
        "!!!!",
        "M",
        "MQ",
        "MQ==",
        "MQ==MQ",
        "MQé",
        "\u{3000}",
        "-_-_",
        "+/+/",
        "////",
        "A",
        "AA",
        "AAA",
        "AAAA",
        "_w",
        "..",
        " ",
        "\n",
        "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    inputs.push(huge.clone());
    inputs.push(format!("{huge}-{huge}"));
    inputs.push(long_token);
    inputs.push(URL_SAFE_NO_PAD.encode("9".repeat(5000)));
    inputs.push(URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00, 0x80]));
    // Every short string over a small alphabet that reaches all decoder states.
    let alphabet = ['M', 'Q', '=', '-', '_', '!', 'é', '0'];
    for a in alphabet {
        for b in alphabet {
            for c in alphabet {
                inputs.push(format!("{a}{b}{c}"));
                for d in alphabet {
                    inputs.push(format!("{a}{b}{c}{d}"));
                }
            }
        }
    }
    for input in &inputs {
        let _ = decode_uid(input);
        assert!(!generator.check_token(&alice(), input, NOW), "{input:?}");
    }
}

#[test]
fn django_accepts_our_tokens() {
    let users = [
        alice(),
        TokenUser {
            id: 1,
            password_hash: "",
            last_login: None,
            email: "",
        },
        TokenUser {
            id: i32::MAX,
            password_hash: "!unusable",
            last_login: Some(datetime!(2009-02-13 23:31:30.999 UTC)),
            email: "Zoë@exämple.org",
        },
    ];
    let generator = TokenGenerator::new("sécret ✓ $ecret", Vec::new(), TIMEOUT);
    let now = datetime!(2025-03-04 05:06:07.891 UTC);
    let items: Vec<serde_json::Value> = users
        .iter()
        .map(|user| {
            serde_json::json!({
                "secret": "sécret ✓ $ecret",
                "user": {
                    "id": user.id,
                    "password": user.password_hash,
                    "last_login": user.last_login.map(|t| t.format(&Rfc3339).expect("format")),
                    "email": user.email,
                },
                "token": generator.make_token(user, now),
                // A day later: Django must apply the same expiry arithmetic.
                "now": (now + time::Duration::days(1)).format(&Rfc3339).expect("format"),
            })
        })
        .collect();
    let Some(answer) = ask_django("check_tokens.py", "django_accepts_our_tokens", &items) else {
        return;
    };
    assert!(answer.success, "Django rejected our tokens: {answer:?}");
    assert_eq!(answer.stdout.trim(), "[true, true, true]");
}

/// What one of tests/django's checker scripts said.
#[derive(Debug)]
pub(in crate::security) struct DjangoAnswer {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Exit status the checker scripts use when Django (or another Python
/// package they need) cannot be imported.
const MISSING_DEPENDENCY: i32 = 77;

/// Pipes `input` as JSON to `python3 tests/django/<script>`. Returns `None`
/// when python3 or the Python packages are missing — after failing the test
/// if `CI=true`, since CI must really run the comparison — and otherwise
/// what the script said.
pub(in crate::security) fn ask_django(
    script: &str,
    test: &str,
    input: &impl serde::Serialize,
) -> Option<DjangoAnswer> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let input = serde_json::to_vec(input).expect("serialise checker input");
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let unavailable = |why: &str| {
        assert!(
            !in_ci,
            "CI=true but Django cannot be used for {test}: {why}"
        );
        eprintln!("note: skipping {test}: {why}");
    };

    let path = format!("{}/tests/django/{script}", env!("CARGO_MANIFEST_DIR"));
    let child = Command::new("python3")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            unavailable(&format!("cannot run python3: {error}"));
            return None;
        }
    };
    // A script that exits early (missing Django) may close stdin before
    // reading; its exit status says what happened, so a write error is moot.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&input);
    }
    let output = child.wait_with_output().expect("checker script finishes");
    let answer = DjangoAnswer {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    if output.status.code() == Some(MISSING_DEPENDENCY) {
        unavailable(answer.stderr.trim());
        return None;
    }
    Some(answer)
}
