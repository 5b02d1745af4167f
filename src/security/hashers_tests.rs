//! Unit tests of the Django-compatible hashers, including the vectors
//! made by real Django in tests/django/vectors.json.

use super::*;

#[derive(Deserialize)]
struct Vector {
    algorithm: String,
    password: String,
    encoded: String,
}

fn vectors() -> Vec<Vector> {
    serde_json::from_str(include_str!("../../tests/django/vectors.json"))
        .expect("vectors.json parses")
}

fn fast() -> Argon2Params {
    Argon2Params::danger_fast_for_tests()
}

#[test]
fn django_vectors_verify() {
    let vectors = vectors();
    assert!(vectors.len() >= 20, "expected the full vector set");
    for v in &vectors {
        assert_eq!(
            verify_password(&v.password, &v.encoded, &fast()),
            Verification::Match { needs_rehash: true },
            "{} vector {}",
            v.algorithm,
            v.encoded
        );
    }
}

#[test]
fn django_vectors_reject_wrong_password() {
    for v in &vectors() {
        let wrong = format!("{}x", v.password);
        assert_eq!(
            verify_password(&wrong, &v.encoded, &fast()),
            Verification::NoMatch,
            "{} vector {}",
            v.algorithm,
            v.encoded
        );
    }
}

#[test]
fn django_vectors_cover_every_algorithm() {
    let seen: std::collections::HashSet<String> =
        vectors().into_iter().map(|v| v.algorithm).collect();
    for algorithm in [
        "pbkdf2_sha256",
        "pbkdf2_sha1",
        "argon2",
        "bcrypt_sha256",
        "bcrypt",
        "scrypt",
        "md5",
        "sha1",
        "unsalted_sha1",
        "unsalted_md5",
    ] {
        assert!(seen.contains(algorithm), "no vector for {algorithm}");
    }
}

#[test]
fn own_hashes_round_trip_without_rehash() {
    let params = fast();
    for password in ["hunter22", "pässwörd✓", "  spaced out  ", ""] {
        let encoded = make_password(password, &params);
        assert!(encoded.starts_with("argon2$argon2id$v=19$m=8,t=1,p=1$"));
        assert_eq!(
            verify_password(password, &encoded, &params),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            verify_password("something else", &encoded, &params),
            Verification::NoMatch
        );
    }
}

#[test]
fn own_hash_has_django_shape() {
    let encoded = make_password("x", &Argon2Params::default());
    let fields: Vec<&str> = encoded.split('$').collect();
    assert_eq!(fields.len(), 6);
    assert_eq!(
        fields[..4],
        ["argon2", "argon2id", "v=19", "m=19456,t=2,p=1"]
    );
    let salt = PHC_B64.decode(fields[4]).expect("salt is base64");
    assert_eq!(salt.len(), SALT_CHARS);
    assert!(salt.iter().all(u8::is_ascii_alphanumeric));
    assert_eq!(PHC_B64.decode(fields[5]).expect("hash").len(), 32);
    assert!(!fields[4].ends_with('=') && !fields[5].ends_with('='));
    // Two hashes of the same password differ by salt.
    assert_ne!(encoded, make_password("x", &Argon2Params::default()));
}

#[test]
fn parameter_change_asks_for_rehash() {
    let old = fast();
    let encoded = make_password("pw", &old);
    let newer = Argon2Params {
        memory_kib: 16,
        ..fast()
    };
    assert_eq!(
        verify_password("pw", &encoded, &newer),
        Verification::Match { needs_rehash: true }
    );
}

#[test]
fn argon2_variants_with_current_params_still_rehash() {
    // argon2i / 16-byte hash / v=16 with exactly the current costs are
    // still not what we would write today.
    let params = fast();
    let salt = b"abcdefghijklmnopqrstuv";
    for (algorithm, version, variety, v, len) in [
        (
            argon2::Algorithm::Argon2i,
            argon2::Version::V0x13,
            "argon2i",
            "v=19$",
            32,
        ),
        (
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            "argon2id",
            "v=19$",
            16,
        ),
        (
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x10,
            "argon2id",
            "v=16$",
            32,
        ),
        (
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x10,
            "argon2id",
            "",
            32,
        ),
    ] {
        let mut hash = vec![0u8; len];
        argon2_hash(algorithm, version, &params, b"pw", salt, &mut hash).expect("hash");
        let encoded = format!(
            "argon2${variety}${v}m=8,t=1,p=1${}${}",
            PHC_B64.encode(salt),
            PHC_B64.encode(&hash)
        );
        assert_eq!(
            verify_password("pw", &encoded, &params),
            Verification::Match { needs_rehash: true },
            "{encoded}"
        );
    }
}

#[test]
fn unusable_and_empty() {
    let unusable = make_unusable_password();
    assert_eq!(unusable.len(), 41);
    assert!(unusable.starts_with('!'));
    assert!(unusable[1..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(!is_usable(&unusable));
    assert!(is_usable(&make_password("x", &fast())));
    assert!(is_usable(""), "Django treats the empty string as usable");
    for encoded in [unusable.as_str(), "", "!"] {
        assert_eq!(
            verify_password("", encoded, &fast()),
            Verification::Unusable
        );
        assert_eq!(
            verify_password(encoded, encoded, &fast()),
            Verification::Unusable
        );
    }
}

#[test]
fn legacy_formats_by_hand() {
    // MD5("password") and SHA-1("password"), well-known digests.
    let md5 = "5f4dcc3b5aa765d61d8327deb882cf99";
    let sha1 = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8";
    let p = fast();
    let matched = Verification::Match { needs_rehash: true };
    assert_eq!(verify_password("password", md5, &p), matched);
    assert_eq!(
        verify_password("password", &format!("md5$${md5}"), &p),
        matched
    );
    assert_eq!(
        verify_password("password", &format!("sha1$${sha1}"), &p),
        matched
    );
    assert_eq!(verify_password("Password", md5, &p), Verification::NoMatch);
    // Django compares lower-case hex text; upper case never matched there.
    assert_eq!(
        verify_password("password", &md5.to_uppercase(), &p),
        Verification::NoMatch
    );
}

/// Python `bcrypt.hashpw(b"pw", bcrypt.gensalt(4))`.
const BCRYPT_PW: &str = "$2b$04$xT45dswuB41tpWii/9pdaeNoADPZ6qLj9Gm.OkuizDLlsGYFzhZSm";

#[test]
fn cost_bounds_are_enforced_before_hashing() {
    let p = fast();
    let salt = PHC_B64.encode(b"abcdefghijklmnopqrstuv");
    let hash = PHC_B64.encode([0u8; 32]);
    let cases = [
        "pbkdf2_sha256$10000001$salt$AAAA".to_owned(),
        "pbkdf2_sha256$0$salt$AAAA".to_owned(),
        "pbkdf2_sha1$4294967295$salt$AAAA".to_owned(),
        "pbkdf2_sha256$99999999999999999999$salt$AAAA".to_owned(),
        // A well-formed bcrypt hash with cost 17 or 31 (too slow), or 3
        // (below bcrypt's minimum).
        format!("bcrypt${}", BCRYPT_PW.replace("$04$", "$17$")),
        format!("bcrypt_sha256${}", BCRYPT_PW.replace("$04$", "$31$")),
        format!("bcrypt${}", BCRYPT_PW.replace("$04$", "$03$")),
        format!("argon2$argon2id$v=19$m=524289,t=1,p=1${salt}${hash}"),
        format!("argon2$argon2id$v=19$m=4194304,t=1,p=1${salt}${hash}"),
        format!("argon2$argon2id$v=19$m=64,t=65,p=1${salt}${hash}"),
        format!("argon2$argon2id$v=19$m=1024,t=1,p=65${salt}${hash}"),
        format!("argon2$argon2id$v=19$m=8,t=1,p=2${salt}${hash}"),
        format!("argon2$argon2id$v=19$m=8,t=0,p=1${salt}${hash}"),
        "scrypt$2097152$salt$1$1$AAAA".to_owned(),
        "scrypt$1000$salt$8$1$AAAA".to_owned(),
        "scrypt$1$salt$8$1$AAAA".to_owned(),
        "scrypt$0$salt$8$1$AAAA".to_owned(),
        "scrypt$16384$salt$65$1$AAAA".to_owned(),
        "scrypt$16384$salt$8$65$AAAA".to_owned(),
        "scrypt$16384$salt$0$1$AAAA".to_owned(),
        // 2^20 · 8 · 128 = 1 GiB > 512 MiB.
        "scrypt$1048576$salt$8$1$AAAA".to_owned(),
    ];
    for encoded in &cases {
        let started = std::time::Instant::now();
        let outcome = verify_password("pw", encoded, &p);
        assert!(
            matches!(outcome, Verification::Invalid(_)),
            "{encoded}: {outcome:?}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_millis(50),
            "{encoded} did work before rejecting"
        );
    }
}

#[test]
fn bounds_edges_are_accepted() {
    let p = fast();
    // Largest legal scrypt memory: 2^19 · 8 · 128 = 512 MiB is too slow
    // for a unit test, so check the arithmetic edge with r instead:
    // N = 2, r = 64 is legal and cheap.
    let encoded = "scrypt$2$salt$64$1$AAAA";
    assert_eq!(verify_password("pw", encoded, &p), Verification::NoMatch);
    let encoded = "pbkdf2_sha256$1$salt$AAAA";
    assert_eq!(verify_password("pw", encoded, &p), Verification::NoMatch);
    let encoded = format!("bcrypt${BCRYPT_PW}");
    assert_eq!(
        verify_password("pw", &encoded, &p),
        Verification::Match { needs_rehash: true }
    );
    assert_eq!(verify_password("wp", &encoded, &p), Verification::NoMatch);
}

#[test]
fn malformed_hashes_are_invalid() {
    let p = fast();
    for encoded in [
        "nosuchalgo$1$2$3",
        "plaintext",
        "crypt$$abc",
        "pbkdf2_sha256$abc$salt$hash",
        "pbkdf2_sha256$1000",
        "pbkdf2_sha256$+1000$salt$hash",
        "pbkdf2_sha256$ 1000$salt$hash",
        "argon2$argon2x$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$AAAAAAAA",
        "argon2$argon2id$v=20$m=8,t=1,p=1$c2FsdHNhbHQ$AAAAAAAA",
        "argon2$argon2id$v=19$t=1,m=8,p=1$c2FsdHNhbHQ$AAAAAAAA",
        "argon2$argon2id$v=19$m=8,t=1,p=1,keyid=x$c2FsdHNhbHQ$AAAAAAAA",
        "argon2$argon2id$v=19$m=8,t=1,p=1$!!!$AAAAAAAA",
        "argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdA$AAAAAAAA",
        "argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$AA",
        "argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ",
        "argon2$",
        "bcrypt$$2b$12$short",
        // Missing Django's empty field, and an unknown bcrypt version.
        "bcrypt$2b$04$xT45dswuB41tpWii/9pdaeNoADPZ6qLj9Gm.OkuizDLlsGYFzhZSm",
        "bcrypt$$2z$04$xT45dswuB41tpWii/9pdaeNoADPZ6qLj9Gm.OkuizDLlsGYFzhZSm",
        "scrypt$16384$salt$8$5",
        "scrypt$16384$salt$8$5$hash$extra",
        "scrypt$x$salt$8$5$hash",
        "md5$nodollar",
        "sha1$",
    ] {
        assert!(
            matches!(verify_password("pw", encoded, &p), Verification::Invalid(_)),
            "{encoded}"
        );
    }
}

#[test]
fn garbage_never_panics() {
    use rand::Rng as _;
    let p = fast();
    let mut rng = rand::rng();
    let alphabet: Vec<char> = "$!=,+/mtpv0123456789abcdefghijklmnopqrstuvwxyzAB ✓é\u{0}"
        .chars()
        .collect();
    let prefixes = [
        "",
        "argon2$",
        "argon2$argon2id$",
        "argon2$argon2i$v=19$",
        "pbkdf2_sha256$",
        "pbkdf2_sha1$1$",
        "bcrypt$$2b$",
        "bcrypt_sha256$$2b$04$",
        "scrypt$",
        "scrypt$2$",
        "md5$",
        "sha1$",
        "md5$$",
        "sha1$$",
        "!",
    ];
    for round in 0..4000 {
        let prefix = prefixes[round % prefixes.len()];
        let len = rng.random_range(0..80);
        let tail: String = (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        let encoded = format!("{prefix}{tail}");
        let outcome = verify_password("pw", &encoded, &p);
        assert!(
            !matches!(outcome, Verification::Match { .. }),
            "{encoded} matched"
        );
    }
    // Random bytes interpreted as (lossy) UTF-8, full length range.
    for _ in 0..1000 {
        let len = rng.random_range(0..120);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let encoded = String::from_utf8_lossy(&bytes);
        let _ = verify_password("pw", &encoded, &p);
    }
    // Multibyte characters exactly where fixed-offset parsers slice.
    let bcrypt_like = format!("bcrypt$$2b$04${}", "é".repeat(26));
    assert!(matches!(
        verify_password("pw", &bcrypt_like, &p),
        Verification::Invalid(_)
    ));
    let md5_like = "é".repeat(16);
    assert_eq!(md5_like.len(), 32);
    let _ = verify_password("pw", &md5_like, &p);
}

#[test]
fn params_check_and_clamping() {
    assert!(Argon2Params::default().check().is_ok());
    assert!(fast().check().is_ok());
    for bad in [
        Argon2Params {
            memory_kib: 7,
            iterations: 1,
            parallelism: 1,
        },
        Argon2Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 2,
        },
        Argon2Params {
            memory_kib: 1 << 20,
            iterations: 1,
            parallelism: 1,
        },
        Argon2Params {
            memory_kib: 64,
            iterations: 0,
            parallelism: 1,
        },
        Argon2Params {
            memory_kib: 64,
            iterations: 65,
            parallelism: 1,
        },
        Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 0,
        },
    ] {
        assert!(bad.check().is_err(), "{bad:?}");
        assert!(bad.effective().check().is_ok(), "{bad:?}");
    }
    // Even bad parameters give a hash that verifies as current.
    let bad = Argon2Params {
        memory_kib: 0,
        iterations: 0,
        parallelism: 0,
    };
    let encoded = make_password("pw", &bad);
    assert!(encoded.starts_with("argon2$argon2id$v=19$m=8,t=1,p=1$"));
    assert_eq!(
        verify_password("pw", &encoded, &bad),
        Verification::Match {
            needs_rehash: false
        }
    );
}

#[test]
fn params_serde() {
    let parsed: Argon2Params =
        serde_json::from_str(r#"{"memory_kib":65536,"iterations":3,"parallelism":4}"#)
            .expect("parses");
    assert_eq!(
        parsed,
        Argon2Params {
            memory_kib: 65536,
            iterations: 3,
            parallelism: 4
        }
    );
    let partial: Argon2Params =
        serde_json::from_str(r#"{"iterations":3}"#).expect("missing keys default");
    assert_eq!(partial.memory_kib, 19_456);
    assert!(serde_json::from_str::<Argon2Params>(r#"{"memory":1}"#).is_err());
}

#[test]
fn dummy_verify_costs_like_a_real_verify() {
    // Not a timing assertion (too flaky on shared CI); just make sure the
    // dummy hash is well-formed, i.e. takes the real Argon2 path.
    let params = fast();
    let dummy = format!(
        "argon2$argon2id$v=19$m=8,t=1,p=1${}${}",
        PHC_B64.encode(b"doormandummysalt000000"),
        PHC_B64.encode([0u8; ARGON2_HASH_LEN]),
    );
    assert_eq!(
        verify_password("pw", &dummy, &params),
        Verification::NoMatch
    );
    dummy_verify("pw", &params);
}

/// Exit status check_hashes.py uses when it cannot import Django.
const MISSING_DEPENDENCY: i32 = 77;

#[test]
fn django_accepts_our_argon2_hashes() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let params = fast();
    let pbkdf2 = pbkdf2_policy(100_000);
    let mut items: Vec<serde_json::Value> = ["correct horse battery staple", "pässwörd✓", "a b"]
        .iter()
        .map(|password| {
            serde_json::json!({
                "password": password,
                "encoded": make_password(password, &params),
            })
        })
        .collect();
    // And the PBKDF2 hashes `security.password_hasher = "pbkdf2_sha256"`
    // writes, which a Django without argon2-cffi checks.
    items.push(serde_json::json!({"password": "pässwörd✓", "encoded": pbkdf2.make("pässwörd✓")}));
    let input = serde_json::to_vec(&items).expect("serialise");

    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let unavailable = |why: &str| {
        assert!(!in_ci, "CI=true but Django cannot be used: {why}");
        eprintln!("note: skipping django_accepts_our_argon2_hashes: {why}");
    };

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/django/check_hashes.py");
    let child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => return unavailable(&format!("cannot run python3: {error}")),
    };
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(&input)
        .expect("write to check_hashes.py");
    let output = child.wait_with_output().expect("check_hashes.py finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(MISSING_DEPENDENCY) {
        return unavailable(stderr.trim());
    }
    assert!(
        output.status.success(),
        "Django rejected our hashes: status {:?}, stdout {stdout}, stderr {stderr}",
        output.status
    );
    assert_eq!(stdout.trim(), "[true, true, true, true]");
}

fn pbkdf2_policy(iterations: u32) -> HashPolicy {
    HashPolicy {
        hasher: HasherChoice::Pbkdf2Sha256,
        argon2: fast(),
        pbkdf2_iterations: iterations,
    }
}

#[test]
fn the_chosen_hasher_makes_new_hashes_and_decides_upgrades() {
    let pbkdf2 = pbkdf2_policy(1_000);
    let argon2 = HashPolicy::argon2(fast());
    let current = |outcome| {
        outcome
            == Verification::Match {
                needs_rehash: false,
            }
    };
    let upgrade = |outcome| outcome == Verification::Match { needs_rehash: true };

    let made = pbkdf2.make("pw");
    assert!(made.starts_with("pbkdf2_sha256$1000$"), "{made}");
    assert_eq!(made.split('$').nth(2).unwrap().len(), SALT_CHARS);
    assert!(current(pbkdf2.verify("pw", &made)));
    assert_eq!(pbkdf2.verify("wrong", &made), Verification::NoMatch);
    // Under Argon2 it is a legacy hash to upgrade, and the reverse.
    assert!(upgrade(argon2.verify("pw", &made)));
    let made_argon2 = argon2.make("pw");
    assert!(current(argon2.verify("pw", &made_argon2)));
    assert!(upgrade(pbkdf2.verify("pw", &made_argon2)));
    // Another iteration count is upgraded, up or down, as Django does.
    assert!(upgrade(pbkdf2_policy(2_000).verify("pw", &made)));
    // Django's own PBKDF2 vectors are upgraded unless at the same count.
    for v in vectors().iter().filter(|v| v.algorithm == "pbkdf2_sha256") {
        let iterations: u32 = v.encoded.split('$').nth(1).unwrap().parse().unwrap();
        let same = pbkdf2_policy(iterations).verify(&v.password, &v.encoded);
        let salt_len = v.encoded.split('$').nth(2).unwrap().len();
        assert_eq!(
            same,
            Verification::Match {
                needs_rehash: salt_len < SALT_CHARS
            },
            "{}",
            v.encoded
        );
    }
    // A missing user costs a real check of the chosen kind and matches nothing.
    pbkdf2.dummy_verify("pw");
}

/// A thread that gave its Argon2 memory back hashes and verifies as before
/// (the buffer is allocated again, and its old contents never mattered).
#[test]
fn hashing_after_releasing_the_thread_memory() {
    let first = make_password("before release", &fast());
    release_thread_memory();
    release_thread_memory();
    let second = make_password("after release", &fast());
    for (password, encoded) in [("before release", &first), ("after release", &second)] {
        assert_eq!(
            verify_password(password, encoded, &fast()),
            Verification::Match {
                needs_rehash: false
            }
        );
    }
}

#[test]
fn cost_parameters_keep_the_work_factors_and_drop_salt_and_digest() {
    for (encoded, expected) in [
        (
            "pbkdf2_sha256$1000000$salt$digest=",
            Some("pbkdf2_sha256$1000000"),
        ),
        (
            "pbkdf2_sha1$260000$salt$digest=",
            Some("pbkdf2_sha1$260000"),
        ),
        (
            "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$ZGlnZXN0",
            Some("argon2$argon2id$v=19$m=102400,t=2,p=8"),
        ),
        (
            "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNO",
            Some("bcrypt_sha256$$2b$12"),
        ),
        ("scrypt$salt$16384$8$1$digest=", Some("scrypt$16384$8$1")),
        ("md5$salt$digest", None),
        ("!unusable", None),
        ("pbkdf2_sha256", None),
    ] {
        assert_eq!(
            super::cost_parameters(encoded).as_deref(),
            expected,
            "{encoded}"
        );
    }
}
