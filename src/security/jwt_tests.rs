//! Unit tests of simplejwt-compatible JWTs, including the vectors made by
//! real simplejwt 5.5.1 in tests/django/jwt_vectors.json.

use super::*;
use crate::security::django_tokens::tests::ask_django;
use time::macros::datetime;

const SECRET: &str = "test secret for jwt";
const ACCESS: i64 = 300;
const REFRESH: i64 = 86_400;
const NOW: OffsetDateTime = datetime!(2025-03-04 05:06:07.891 UTC);

#[derive(Deserialize)]
struct Vectors {
    access_lifetime: i64,
    refresh_lifetime: i64,
    leeway: u64,
    pairs: Vec<Pair>,
    others: Vec<Entry>,
}

#[derive(Deserialize)]
struct Pair {
    user_pk: i32,
    refresh: Entry,
    access: Entry,
}

#[derive(Deserialize)]
struct Entry {
    secret: String,
    token: String,
    claims: Map<String, Value>,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../../tests/django/jwt_vectors.json"))
        .expect("jwt_vectors.json parses")
}

fn keys() -> JwtKeys {
    JwtKeys::new(SECRET, ACCESS, REFRESH, 0)
}

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// A token over arbitrary header and payload JSON, signed with `secret`.
fn signed(secret: &str, header: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    let message = format!("{}.{}", b64(header), b64(payload));
    mac.update(message.as_bytes());
    format!(
        "{message}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// A token over arbitrary payload JSON with our header and test secret.
fn with_payload(payload: &str) -> String {
    signed(SECRET, HEADER_JSON, payload)
}

fn unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).expect("in range")
}

fn payload_text(token: &str) -> String {
    let segment = token.split('.').nth(1).expect("three segments");
    String::from_utf8(URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("utf-8")
}

fn check_vector(entry: &Entry, expected: Option<TokenType>, vectors: &Vectors) {
    let keys = JwtKeys::new(
        &entry.secret,
        vectors.access_lifetime,
        vectors.refresh_lifetime,
        vectors.leeway,
    );
    let recorded: Claims =
        serde_json::from_value(Value::Object(entry.claims.clone())).expect("recorded claims");
    let now = unix(recorded.iat);
    assert_eq!(
        keys.decode(&entry.token, expected, now),
        Ok(recorded.clone()),
        "{}",
        entry.token
    );
    assert_eq!(keys.verify(&entry.token, now), Ok(()));
    // The recorded claims in simplejwt's order, keys and all.
    let order: Vec<&str> = entry.claims.keys().map(String::as_str).collect();
    assert_eq!(order, ["token_type", "exp", "iat", "jti", "user_id"]);
    // Tokens with a string user_id are what we write, byte for byte.
    if entry.claims["user_id"].is_string() {
        assert_eq!(keys.sign(&recorded), entry.token);
    }
    let expiry = unix(recorded.exp);
    assert_eq!(
        keys.decode(&entry.token, expected, expiry),
        Err(JwtError::Expired)
    );
}

#[test]
fn simplejwt_vectors_decode_to_their_claims() {
    let vectors = vectors();
    assert_eq!(
        (vectors.access_lifetime, vectors.refresh_lifetime),
        (ACCESS, REFRESH)
    );
    assert!(vectors.pairs.len() >= 3 && vectors.others.len() >= 4);
    for pair in &vectors.pairs {
        check_vector(&pair.refresh, Some(TokenType::Refresh), &vectors);
        check_vector(&pair.access, Some(TokenType::Access), &vectors);
        check_vector(&pair.access, None, &vectors);
        let user_id = pair.user_pk.to_string();
        assert_eq!(pair.refresh.claims["user_id"], Value::String(user_id));
    }
    for entry in &vectors.others {
        check_vector(entry, Some(TokenType::Refresh), &vectors);
    }
}

#[test]
fn simplejwt_vectors_with_integer_user_id_are_read() {
    let vectors = vectors();
    let legacy = vectors
        .others
        .iter()
        .find(|e| e.claims["user_id"].is_number())
        .expect("a simplejwt <= 5.5.0 style vector");
    let keys = JwtKeys::new(&legacy.secret, ACCESS, REFRESH, 0);
    let iat = legacy.claims["iat"].as_i64().expect("iat");
    let claims = keys
        .decode(&legacy.token, Some(TokenType::Refresh), unix(iat))
        .expect("valid");
    assert_eq!(claims.user_id, "7");
    assert_eq!(claims.user_pk(), Some(7));
}

#[test]
fn simplejwt_vectors_refuse_the_wrong_type_and_secret() {
    let vectors = vectors();
    let pair = &vectors.pairs[0];
    let iat = unix(pair.access.claims["iat"].as_i64().expect("iat"));
    let theirs = JwtKeys::new(&pair.access.secret, ACCESS, REFRESH, 0);
    assert_eq!(
        theirs.decode(&pair.access.token, Some(TokenType::Refresh), iat),
        Err(JwtError::WrongType)
    );
    assert_eq!(
        theirs.decode(&pair.refresh.token, Some(TokenType::Access), iat),
        Err(JwtError::WrongType)
    );
    assert_eq!(
        keys().decode(&pair.access.token, None, iat),
        Err(JwtError::Invalid)
    );
}

#[test]
fn pairs_follow_simplejwt_layout_and_lifetimes() {
    let pair = keys().issue_pair(42, None, NOW);
    let iat = NOW.unix_timestamp();
    for (token, claims, kind, lifetime) in [
        (
            &pair.refresh,
            &pair.refresh_claims,
            TokenType::Refresh,
            REFRESH,
        ),
        (&pair.access, &pair.access_claims, TokenType::Access, ACCESS),
    ] {
        assert_eq!(claims.token_type, kind);
        assert_eq!(claims.iat, iat, "whole seconds");
        assert_eq!(claims.exp, iat + lifetime);
        assert_eq!(claims.user_id, "42");
        assert_eq!(claims.jti.len(), 32);
        assert!(
            claims
                .jti
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(
            payload_text(token),
            format!(
                r#"{{"token_type":"{}","exp":{},"iat":{iat},"jti":"{}","user_id":"42"}}"#,
                kind.as_str(),
                iat + lifetime,
                claims.jti
            )
        );
        assert!(
            token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."),
            "PyJWT's header"
        );
        assert_eq!(keys().decode(token, Some(kind), NOW).as_ref(), Ok(claims));
    }
    assert_ne!(pair.refresh_claims.jti, pair.access_claims.jti);
    // serde gives the same order and text as the hand-written payload.
    assert_eq!(
        serde_json::to_string(&pair.access_claims).expect("serialise"),
        payload_text(&pair.access)
    );
}

#[test]
fn refreshing_and_rotating_make_fresh_tokens() {
    let keys = keys();
    let pair = keys.issue_pair(7, None, NOW);
    let later = NOW + time::Duration::hours(3);
    let (access, claims) = keys.access_from_refresh(&pair.refresh_claims, later);
    assert_eq!(claims.token_type, TokenType::Access);
    assert_eq!(claims.user_id, "7");
    assert_eq!(claims.iat, later.unix_timestamp());
    assert_eq!(claims.exp, later.unix_timestamp() + ACCESS);
    assert_ne!(claims.jti, pair.access_claims.jti);
    assert_eq!(
        keys.decode(&access, Some(TokenType::Access), later),
        Ok(claims)
    );

    let (refresh, claims) = keys.issue_refresh(7, None, later);
    assert_eq!(claims.token_type, TokenType::Refresh);
    assert_eq!(claims.exp, later.unix_timestamp() + REFRESH);
    assert_ne!(claims.jti, pair.refresh_claims.jti);
    assert_eq!(
        keys.decode(&refresh, Some(TokenType::Refresh), later),
        Ok(claims)
    );
}

#[test]
fn expiry_follows_pyjwt_with_leeway() {
    let (token, claims) = keys().issue_refresh(1, None, NOW);
    let exp = claims.exp;
    assert!(keys().decode(&token, None, unix(exp - 1)).is_ok());
    assert!(
        keys()
            .decode(
                &token,
                None,
                unix(exp - 1) + time::Duration::milliseconds(999)
            )
            .is_ok()
    );
    assert_eq!(
        keys().decode(&token, None, unix(exp)),
        Err(JwtError::Expired),
        "exp <= now"
    );
    assert_eq!(keys().verify(&token, unix(exp)), Err(JwtError::Expired));
    let lenient = JwtKeys::new(SECRET, ACCESS, REFRESH, 10);
    assert!(lenient.decode(&token, None, unix(exp + 9)).is_ok());
    assert_eq!(
        lenient.decode(&token, None, unix(exp + 10)),
        Err(JwtError::Expired)
    );
    let huge = JwtKeys::new(SECRET, ACCESS, REFRESH, u64::MAX);
    assert!(
        huge.decode(&token, None, unix(exp + 1_000_000)).is_ok(),
        "no overflow"
    );
}

#[test]
fn tokens_from_the_future_are_invalid() {
    let (token, claims) = keys().issue_refresh(1, None, NOW);
    let before = unix(claims.iat - 1);
    assert_eq!(
        keys().decode(&token, None, before),
        Err(JwtError::Invalid),
        "iat > now"
    );
    assert!(
        JwtKeys::new(SECRET, ACCESS, REFRESH, 1)
            .decode(&token, None, before)
            .is_ok()
    );
    let nbf = with_payload(
        r#"{"token_type":"access","exp":2000000000,"iat":1000,"jti":"j","user_id":"1","nbf":1900000000}"#,
    );
    assert_eq!(keys().decode(&nbf, None, NOW), Err(JwtError::Invalid));
}

#[test]
fn tampering_and_foreign_keys_are_invalid() {
    let (token, _) = keys().issue_refresh(1, None, NOW);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();

    // Flip the last signature character's meaningful bits.
    let mut bad_sig = parts.clone();
    let last = bad_sig[2].pop().expect("signature");
    bad_sig[2].push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        keys().decode(&bad_sig.join("."), None, NOW),
        Err(JwtError::Invalid)
    );

    // Change the user inside the payload but keep the old signature.
    parts[1] = b64(&payload_text(&token).replace(r#""user_id":"1""#, r#""user_id":"2""#));
    assert_eq!(
        keys().decode(&parts.join("."), None, NOW),
        Err(JwtError::Invalid)
    );

    let other = JwtKeys::new("another secret", ACCESS, REFRESH, 0);
    assert_eq!(other.decode(&token, None, NOW), Err(JwtError::Invalid));
    assert_eq!(other.verify(&token, NOW), Err(JwtError::Invalid));
}

#[test]
fn only_hs256_is_accepted() {
    let payload = serde_json::json!({
        "token_type": "access", "exp": 2_000_000_000, "iat": 1_000, "jti": "j", "user_id": "1"
    });
    // `alg: none` with an empty signature, and with a copied HS256 signature.
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&payload.to_string())
    );
    assert_eq!(keys().decode(&none, None, NOW), Err(JwtError::Invalid));
    let good = with_payload(&payload.to_string());
    let stolen_sig = good.rsplit('.').next().expect("signature");
    assert_eq!(
        keys().decode(&format!("{none}{stolen_sig}"), None, NOW),
        Err(JwtError::Invalid)
    );
    for header in [
        r#"{"alg":"NONE","typ":"JWT"}"#,
        r#"{"alg":"HS384","typ":"JWT"}"#,
        r#"{"typ":"JWT"}"#,
        r#"{"alg":"HS256","typ":"JWT","crit":["exp"]}"#,
        r#"{"alg":"HS256","typ":"JWT","crit":["b64"],"b64":false}"#,
        r#"["HS256"]"#,
    ] {
        let token = signed(SECRET, header, &payload.to_string());
        assert_eq!(
            keys().decode(&token, None, NOW),
            Err(JwtError::Invalid),
            "{header}"
        );
    }
    // A genuine HS512 token with our secret, made by the library itself.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS512),
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode HS512");
    assert_eq!(keys().decode(&hs512, None, NOW), Err(JwtError::Invalid));
    // The same claims under HS256 are fine, whatever the header's key order.
    let reordered = signed(
        SECRET,
        r#"{"typ":"JWT","alg":"HS256"}"#,
        &payload.to_string(),
    );
    assert!(keys().decode(&reordered, None, NOW).is_ok());
}

#[test]
fn claim_problems_map_to_simplejwt_errors() {
    let cases = [
        (
            r#"{"token_type":"access","iat":1000,"jti":"j","user_id":"1"}"#,
            JwtError::NoExp,
        ),
        (
            r#"{"token_type":"access","exp":2000000000,"iat":1000,"user_id":"1"}"#,
            JwtError::NoId,
        ),
        (
            r#"{"exp":2000000000,"iat":1000,"jti":"j","user_id":"1"}"#,
            JwtError::NoType,
        ),
        (
            r#"{"token_type":"sliding","exp":2000000000,"iat":1000,"jti":"j","user_id":"1"}"#,
            JwtError::WrongType,
        ),
        (
            r#"{"token_type":"refresh","exp":2000000000,"iat":1000,"jti":"j","user_id":"1"}"#,
            JwtError::WrongType,
        ),
        (
            r#"{"token_type":"access","exp":2000000000,"iat":1000,"jti":"j"}"#,
            JwtError::NoUserId,
        ),
        (
            r#"{"token_type":"access","exp":2000000000,"iat":1000,"jti":"j","user_id":null}"#,
            JwtError::NoUserId,
        ),
        (
            r#"{"token_type":"access","exp":2000000000,"iat":1000,"jti":"j","user_id":1.5}"#,
            JwtError::NoUserId,
        ),
        (
            r#"{"token_type":"access","exp":"2000000000","iat":1000,"jti":"j","user_id":"1"}"#,
            JwtError::Invalid,
        ),
        (
            r#"{"token_type":"access","exp":2000000000,"iat":"x","jti":"j","user_id":"1"}"#,
            JwtError::Invalid,
        ),
        (
            r#"{"token_type":"access","exp":2000000000,"iat":1000,"jti":5,"user_id":"1"}"#,
            JwtError::Invalid,
        ),
        (
            r#"{"token_type":"access","exp":2000000000,"iat":1000,"jti":"j","user_id":"1","sub":5}"#,
            JwtError::Invalid,
        ),
        (
            r#"{"token_type":"access","exp":99999999999999999999,"iat":1000,"jti":"j","user_id":"1"}"#,
            JwtError::Invalid,
        ),
        // PyJWT's expiry check comes before simplejwt's claim checks.
        (r#"{"exp":1000,"user_id":"1"}"#, JwtError::Expired),
        (r#"{"token_type":"access","iat":1000}"#, JwtError::NoExp),
        (r#"{"exp":2000000000,"iat":1000}"#, JwtError::NoId),
        // We require iat (every simplejwt >= 5.0 token has it).
        (
            r#"{"token_type":"access","exp":2000000000,"jti":"j","user_id":"1"}"#,
            JwtError::Invalid,
        ),
        (r#"[1,2,3]"#, JwtError::Invalid),
        (r#""just a string""#, JwtError::Invalid),
        (r#"{"token_type":"access""#, JwtError::Invalid),
    ];
    for (payload, error) in cases {
        let token = with_payload(payload);
        assert_eq!(
            keys().decode(&token, Some(TokenType::Access), NOW),
            Err(error),
            "{payload}"
        );
    }
}

#[test]
fn verify_checks_what_jwt_verify_checks() {
    for payload in [
        r#"{"token_type":"sliding","exp":2000000000,"iat":1000,"jti":"j"}"#,
        r#"{"exp":2000000000,"jti":"j"}"#,
        r#"{"token_type":"refresh","exp":2000000000,"jti":"j","user_id":{"odd":true}}"#,
    ] {
        assert_eq!(
            keys().verify(&with_payload(payload), NOW),
            Ok(()),
            "{payload}"
        );
    }
    assert_eq!(
        keys().verify(&with_payload(r#"{"exp":2000000000}"#), NOW),
        Err(JwtError::NoId)
    );
    assert_eq!(
        keys().verify(&with_payload(r#"{"jti":"j"}"#), NOW),
        Err(JwtError::NoExp)
    );
    let user_less = with_payload(r#"{"token_type":"access","exp":2000000000,"iat":1,"jti":"j"}"#);
    assert_eq!(keys().verify(&user_less, NOW), Ok(()));
    assert_eq!(
        keys().decode(&user_less, None, NOW),
        Err(JwtError::NoUserId)
    );
}

#[test]
fn garbage_is_invalid_and_never_panics() {
    let (token, _) = keys().issue_refresh(1, None, NOW);
    let huge = "A".repeat(100_000);
    let mut inputs: Vec<String> = [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        "a.b",
        "eyJ.eyJ.eyJ",
        "💥.💥.💥",
        "\u{0}",
        " ",
        "Bearer x",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.====",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    inputs.push(format!("{huge}.{huge}.{huge}"));
    inputs.push(format!("{token}."));
    inputs.push(format!("{token}="));
    inputs.push(format!(" {token}"));
    inputs.push(format!("{token}.{token}"));
    inputs.push(token.replace('.', ".."));
    inputs.push(token.to_uppercase());
    inputs.push(token[..token.len() - 1].to_owned());
    for cut in 0..token.len() {
        inputs.push(token[..cut].to_owned());
    }
    for input in &inputs {
        assert_eq!(
            keys().decode(input, None, NOW),
            Err(JwtError::Invalid),
            "{input:?}"
        );
        assert_eq!(
            keys().verify(input, NOW),
            Err(JwtError::Invalid),
            "{input:?}"
        );
    }
}

#[test]
fn messages_are_simplejwts() {
    for (error, text) in [
        (JwtError::Invalid, "Token is invalid"),
        (JwtError::Expired, "Token is expired"),
        (JwtError::WrongType, "Token has wrong type"),
        (JwtError::NoType, "Token has no type"),
        (JwtError::NoId, "Token has no id"),
        (JwtError::NoExp, "Token has no 'exp' claim"),
        (
            JwtError::NoUserId,
            "Token contained no recognizable user identification",
        ),
    ] {
        assert_eq!(error.message(), text);
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn claims_helpers_and_debug() {
    let (_, claims) = keys().issue_refresh(i32::MIN, None, NOW);
    assert_eq!(claims.user_pk(), Some(i32::MIN));
    let odd = Claims {
        user_id: "x".to_owned(),
        ..claims
    };
    assert_eq!(odd.user_pk(), None);
    let debug = format!("{:?}", keys());
    assert!(
        debug.contains("redacted") && !debug.contains(SECRET),
        "{debug}"
    );
    // Secrets longer than SHA-256's block are hashed first, as HMAC requires.
    let long = "x".repeat(200);
    let (token, claims) = JwtKeys::new(&long, ACCESS, REFRESH, 0).issue_refresh(1, None, NOW);
    let by_library =
        jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(long.as_bytes()), &{
            let mut v = Validation::new(Algorithm::HS256);
            v.validate_exp = false;
            v
        })
        .expect("jsonwebtoken accepts our signature");
    assert_eq!(by_library.claims, claims);
}

#[test]
fn simplejwt_accepts_our_tokens() {
    let secret = "sécret ✓ for simplejwt, longer than one HMAC block: 0123456789abcdef0123456789";
    let keys = JwtKeys::new(secret, ACCESS, REFRESH, 0);
    // simplejwt checks expiry against the real clock.
    let now = OffsetDateTime::now_utc();
    let pair = keys.issue_pair(42, None, now);
    let (access, _) = keys.access_from_refresh(&pair.refresh_claims, now);
    let (rotated, _) = keys.issue_refresh(i32::MAX, None, now);
    let items = [
        (pair.refresh.as_str(), "refresh"),
        (pair.access.as_str(), "access"),
        (access.as_str(), "access"),
        (rotated.as_str(), "refresh"),
    ]
    .map(|(token, kind)| serde_json::json!({"secret": secret, "token": token, "token_type": kind}));
    let Some(answer) = ask_django("check_jwts.py", "simplejwt_accepts_our_tokens", &items) else {
        return;
    };
    assert!(answer.success, "simplejwt rejected our tokens: {answer:?}");
    let results: Vec<Value> = serde_json::from_str(answer.stdout.trim()).expect("checker output");
    let user_ids: Vec<&str> = results
        .iter()
        .map(|r| r["payload"]["user_id"].as_str().expect("user_id string"))
        .collect();
    assert_eq!(user_ids, ["42", "42", "42", "2147483647"]);
    assert_eq!(
        results[0]["payload"]["jti"],
        Value::String(pair.refresh_claims.jti.clone())
    );
}

/// `decode_access` answers exactly as `decode` with an access type, whether
/// the token was checked before or not: at every instant of its life, after
/// it, before it (clock set back), for the wrong type and for tampering.
#[test]
fn checked_access_tokens_answer_as_a_full_check() {
    let keys = JwtKeys::new(SECRET, ACCESS, REFRESH, 2);
    let access = keys.issue_pair(7, None, NOW).access;
    let nbf = with_payload(&format!(
        r#"{{"token_type":"access","exp":{},"iat":{},"jti":"j","user_id":"3","nbf":{}}}"#,
        NOW.unix_timestamp() + 100,
        NOW.unix_timestamp() - 10,
        NOW.unix_timestamp() + 5,
    ));
    let start = NOW.unix_timestamp();
    for token in [&access, &nbf] {
        // First at a time where it is valid (so it is remembered), then at
        // times either side of every boundary.
        let first = keys.decode_access(token, unix(start + 10));
        assert_eq!(
            first,
            keys.decode(token, Some(TokenType::Access), unix(start + 10))
        );
        assert!(first.is_ok());
        for offset in [
            -20, -12, -11, -10, -9, 0, 4, 5, 6, 7, 99, 101, 102, 299, 301, 302, 400,
        ] {
            let at = unix(start + offset);
            assert_eq!(
                keys.decode_access(token, at),
                keys.decode(token, Some(TokenType::Access), at),
                "offset {offset}"
            );
        }
    }
    // Refresh tokens are refused as `decode` refuses them, and not kept.
    let (refresh, _) = keys.issue_refresh(7, None, NOW);
    for _ in 0..2 {
        assert_eq!(keys.decode_access(&refresh, NOW), Err(JwtError::WrongType));
    }
    // A token differing from a remembered one in any way is checked in full.
    let mut tampered = access.clone();
    tampered.push('A');
    assert_eq!(keys.decode_access(&tampered, NOW), Err(JwtError::Invalid));
    let other_secret = JwtKeys::new("another secret", ACCESS, REFRESH, 2);
    assert_eq!(
        other_secret.decode_access(&access, NOW),
        Err(JwtError::Invalid)
    );
}

/// The remembered tokens stay bounded however many are seen.
#[test]
fn checked_access_tokens_are_bounded() {
    let keys = keys();
    for user in 0..(CHECKED_TOKENS_MAX as i32 + 10) {
        let access = keys.issue_pair(user, None, NOW).access;
        assert!(keys.decode_access(&access, NOW).is_ok());
    }
    let kept = keys.checked.map.read().expect("not poisoned").len();
    assert!(kept <= CHECKED_TOKENS_MAX, "{kept}");
    assert!(kept > 0);
}

#[test]
fn fallback_keys_verify_but_never_sign() {
    let old = JwtKeys::new("the old secret key", ACCESS, REFRESH, 0);
    let pair = old.issue_pair(5, None, NOW);
    let rotated =
        JwtKeys::new(SECRET, ACCESS, REFRESH, 0).with_fallbacks(&["the old secret key".into()]);
    assert_eq!(
        rotated.decode_access(&pair.access, NOW).unwrap().user_id,
        "5"
    );
    assert!(
        rotated
            .decode(&pair.refresh, Some(TokenType::Refresh), NOW)
            .is_ok()
    );
    // What the rotated keys sign, the old key alone does not accept: the
    // current key signs.
    let fresh = rotated.issue_pair(5, None, NOW);
    assert_eq!(
        old.decode_access(&fresh.access, NOW),
        Err(JwtError::Invalid)
    );
    // Without the fallback, the old token is refused.
    assert_eq!(
        keys().decode_access(&pair.access, NOW),
        Err(JwtError::Invalid)
    );
    // A fallback does not rescue a token whose other checks fail.
    let late = NOW + time::Duration::seconds(ACCESS + 1);
    assert_eq!(
        rotated.decode_access(&pair.access, late),
        Err(JwtError::Expired)
    );
}

#[test]
fn a_second_factor_login_says_so_in_both_tokens_and_their_refreshes() {
    let keys = keys();
    let sign_in = SignIn::new(NOW.unix_timestamp() - 5, &["pwd", "otp", "mfa"]);
    let pair = keys.issue_pair(7, Some(&sign_in), NOW);
    let payload = payload_text(&pair.access);
    assert!(
        payload.ends_with(&format!(
            r#""user_id":"7","auth_time":{},"amr":["pwd","otp","mfa"],"aal":"aal2"}}"#,
            sign_in.auth_time
        )),
        "{payload}"
    );
    let refresh = keys
        .decode(&pair.refresh, Some(TokenType::Refresh), NOW)
        .unwrap();
    assert_eq!(refresh.sign_in.as_ref(), Some(&sign_in));
    let later = NOW + time::Duration::hours(1);
    let (access, _) = keys.access_from_refresh(&refresh, later);
    let access = keys.decode_access(&access, later).unwrap();
    assert_eq!(access.sign_in, Some(sign_in.clone()));
    assert_eq!(sign_in.aal(), "aal2");

    // A password login writes nothing new: simplejwt's five claims.
    let plain = keys.issue_pair(7, None, NOW);
    assert!(payload_text(&plain.access).ends_with(r#""user_id":"7"}"#));
    assert_eq!(SignIn::new(0, &["pwd"]).aal(), "aal1");
    assert_eq!(
        SignIn::from_text(3, "pwd otp mfa"),
        SignIn::new(3, &["pwd", "otp", "mfa"])
    );
}
