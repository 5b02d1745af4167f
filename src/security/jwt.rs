//! JSON Web Tokens as djangorestframework-simplejwt 5.5 makes and checks
//! them with its default settings: HS256 signed with the Django
//! `SECRET_KEY`, claims `token_type`, `exp`, `iat`, `jti`, `user_id` in that
//! order. This module owns the token format and the validation policy, so
//! that tokens issued by doorman work in a Django deployment sharing the
//! secret and the other way round.
//!
//! Issuing writes the compact form by hand, byte for byte as PyJWT does
//! (header `{"alg":"HS256","typ":"JWT"}`, compact JSON, unpadded base64url),
//! which keeps issuing infallible and makes our output comparable with
//! simplejwt's. Checking goes through the `jsonwebtoken` crate for the
//! signature (HS256 only: `none`, other HMAC sizes and every asymmetric
//! algorithm are refused), then applies simplejwt's claim rules ourselves
//! against the caller's `now` — the crate's own clock checks are switched off
//! so tests and the service decide what time it is. The checks and the error
//! each one yields follow PyJWT then simplejwt, in their order; see
//! [`JwtKeys::decode`]. Error texts are simplejwt's, word for word.
//!
//! The `user_id` claim is written as a JSON string (simplejwt 5.5.1) and read
//! as a string or an integer (what simplejwt ≤ 5.5.0 wrote for integer
//! primary keys). A login that passed a second factor adds three claims
//! after those five, [`SignIn`]: `auth_time`, `amr` (RFC 8176) and `aal`;
//! refreshing copies them, as simplejwt copies every claim but its own four.
//! Other claims are ignored when reading and therefore not copied into a
//! refreshed access token.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock},
};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::security::django_tokens::parse_python_int;

/// PyJWT's header for HS256 tokens, keys sorted, no spaces.
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// SHA-256's block size: HMAC keys are padded (or first hashed) to this.
const HMAC_BLOCK: usize = 64;

/// The `token_type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    /// The claim's value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

/// A token's claims, in simplejwt's order (which is also the order they are
/// serialised in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// A UUID as 32 lower-case hex characters (v7 when doorman made it).
    pub jti: String,
    /// The user's primary key as decimal text.
    #[serde(deserialize_with = "user_id_text")]
    pub user_id: String,
    /// How the user signed in, when the token says (second-factor logins).
    #[serde(skip)]
    pub sign_in: Option<SignIn>,
}

/// How a login proved who the user is: when, and by which methods, named
/// as RFC 8176 names them (`pwd` a password, `otp` a one-time code,
/// `mfa` more than one factor). The assurance level follows: `aal2` with
/// two factors, else `aal1` (NIST SP 800-63B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// Unix seconds.
    pub auth_time: i64,
    pub amr: Vec<String>,
}

impl SignIn {
    pub fn new(auth_time: i64, amr: &[&str]) -> SignIn {
        SignIn {
            auth_time,
            amr: amr.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    /// `aal2` when more than one factor was used, else `aal1`.
    pub fn aal(&self) -> &'static str {
        if self.is_multi_factor() {
            "aal2"
        } else {
            "aal1"
        }
    }

    pub fn is_multi_factor(&self) -> bool {
        self.amr.iter().any(|m| m == "mfa")
    }

    /// The methods as stored: names separated by spaces.
    pub fn amr_text(&self) -> String {
        self.amr.join(" ")
    }

    /// Reads the stored form back.
    pub fn from_text(auth_time: i64, amr: &str) -> SignIn {
        SignIn {
            auth_time,
            amr: amr.split_whitespace().map(str::to_owned).collect(),
        }
    }

    /// The claims of a token's payload, if it has a whole-number
    /// `auth_time` and an `amr` list of strings; `aal` is derived from
    /// `amr` rather than trusted on its own.
    fn from_payload(payload: &Map<String, Value>) -> Option<SignIn> {
        let auth_time = payload.get("auth_time")?.as_i64()?;
        let amr = payload
            .get("amr")?
            .as_array()?
            .iter()
            .map(|m| m.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        Some(SignIn { auth_time, amr })
    }
}

impl Claims {
    /// The user's primary key, read the way Django reads a lookup value for
    /// an integer primary key; `None` if no `auth_user` row can have it.
    pub fn user_pk(&self) -> Option<i32> {
        parse_python_int(&self.user_id)
    }
}

/// Accepts `"7"` (simplejwt 5.5.1) and `7` (earlier versions) alike.
fn user_id_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum UserId {
        Text(String),
        Signed(i64),
        Unsigned(u64),
    }
    Ok(match UserId::deserialize(deserializer)? {
        UserId::Text(text) => text,
        UserId::Signed(n) => n.to_string(),
        UserId::Unsigned(n) => n.to_string(),
    })
}

/// What `JwtKeys::verify_claims` found in a token of any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub jti: String,
    pub iat: Option<i64>,
    pub user_pk: Option<i32>,
}

/// What `jwt/create` returns: both tokens and their claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub refresh: String,
    pub access: String,
    pub refresh_claims: Claims,
    pub access_claims: Claims,
}

/// Why a token was refused. `Display` and [`JwtError::message`] give
/// simplejwt's detail text; simplejwt reports every one of them with the
/// code `token_not_valid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Malformed, badly signed, wrong algorithm, issued in the future, or a
    /// registered claim of the wrong JSON type.
    #[error("Token is invalid")]
    Invalid,
    #[error("Token is expired")]
    Expired,
    #[error("Token has wrong type")]
    WrongType,
    #[error("Token has no type")]
    NoType,
    /// No `jti` claim.
    #[error("Token has no id")]
    NoId,
    /// No `exp` claim (simplejwt refuses tokens that never expire).
    #[error("Token has no 'exp' claim")]
    NoExp,
    /// No usable `user_id` claim (simplejwt's authentication says this).
    #[error("Token contained no recognizable user identification")]
    NoUserId,
    /// Logged out one by one (denylisted `jti`), as simplejwt's blacklist.
    #[error("Token is blacklisted")]
    Blacklisted,
}

impl JwtError {
    /// simplejwt's detail text for this error.
    pub fn message(&self) -> &'static str {
        match self {
            JwtError::Invalid => "Token is invalid",
            JwtError::Expired => "Token is expired",
            JwtError::WrongType => "Token has wrong type",
            JwtError::NoType => "Token has no type",
            JwtError::NoId => "Token has no id",
            JwtError::NoExp => "Token has no 'exp' claim",
            JwtError::NoUserId => "Token contained no recognizable user identification",
            JwtError::Blacklisted => "Token is blacklisted",
        }
    }
}

/// The signing secret, lifetimes and leeway: everything needed to issue and
/// check tokens. Cheap to share behind an `Arc`; never prints the secret.
#[derive(Clone)]
pub struct JwtKeys {
    /// HMAC-SHA256 already keyed with the secret; cloned for each token.
    mac: Hmac<Sha256>,
    decoding: DecodingKey,
    /// Former keys (`security.secret_key_fallbacks`): tokens they signed
    /// still verify, none is signed with them.
    fallbacks: Vec<DecodingKey>,
    validation: Validation,
    access_lifetime: i64,
    refresh_lifetime: i64,
    leeway: i64,
    /// Access tokens whose signature and claims have been checked.
    checked: Arc<CheckedTokens>,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("secret", &"[redacted]")
            .field("access_lifetime", &self.access_lifetime)
            .field("refresh_lifetime", &self.refresh_lifetime)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl JwtKeys {
    /// `secret` is Django's `SECRET_KEY` (simplejwt's default `SIGNING_KEY`);
    /// lifetimes are simplejwt's `ACCESS_TOKEN_LIFETIME` and
    /// `REFRESH_TOKEN_LIFETIME` in seconds, `leeway_secs` its `LEEWAY`.
    pub fn new(
        secret: &str,
        access_lifetime_secs: i64,
        refresh_lifetime_secs: i64,
        leeway_secs: u64,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Time and audience checks are ours (against the caller's clock, with
        // PyJWT's comparisons); the crate only verifies format and signature.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        Self {
            mac: Hmac::<Sha256>::new(&hmac_key_block(secret.as_bytes()).into()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            fallbacks: Vec::new(),
            validation,
            access_lifetime: access_lifetime_secs,
            refresh_lifetime: refresh_lifetime_secs,
            leeway: i64::try_from(leeway_secs).unwrap_or(i64::MAX),
            checked: Arc::new(CheckedTokens::default()),
        }
    }

    /// Also accepts tokens signed with any of `fallbacks` (Django's
    /// `SECRET_KEY_FALLBACKS`), so rotating the secret key signs nobody
    /// out; only the current key signs.
    pub fn with_fallbacks(mut self, fallbacks: &[String]) -> Self {
        self.fallbacks = fallbacks
            .iter()
            .map(|k| DecodingKey::from_secret(k.as_bytes()))
            .collect();
        self
    }

    /// A refresh and an access token for a login at `now`: both share `iat`,
    /// each expires after its own lifetime (simplejwt's `jwt/create`).
    /// `sign_in`, when given, is written into both.
    pub fn issue_pair(
        &self,
        user_id: i32,
        sign_in: Option<&SignIn>,
        now: OffsetDateTime,
    ) -> TokenPair {
        let (refresh, refresh_claims) = self.issue_refresh(user_id, sign_in, now);
        let mut access_claims = self.claims(TokenType::Access, refresh_claims.user_id.clone(), now);
        access_claims.sign_in = sign_in.cloned();
        TokenPair {
            refresh,
            access: self.sign(&access_claims),
            refresh_claims,
            access_claims,
        }
    }

    /// A new access token for the holder of a valid refresh token
    /// (simplejwt's `jwt/refresh`): same user and sign-in, fresh `jti`,
    /// `iat` and `exp`.
    pub fn access_from_refresh(&self, refresh: &Claims, now: OffsetDateTime) -> (String, Claims) {
        let mut claims = self.claims(TokenType::Access, refresh.user_id.clone(), now);
        claims.sign_in = refresh.sign_in.clone();
        (self.sign(&claims), claims)
    }

    /// A new refresh token, e.g. to hand out when rotation is on (pass the
    /// old token's sign-in, which simplejwt's rotation keeps).
    pub fn issue_refresh(
        &self,
        user_id: i32,
        sign_in: Option<&SignIn>,
        now: OffsetDateTime,
    ) -> (String, Claims) {
        let mut claims = self.claims(TokenType::Refresh, user_id.to_string(), now);
        claims.sign_in = sign_in.cloned();
        (self.sign(&claims), claims)
    }

    /// Checks `token` at `now` and returns its claims. The checks, in order,
    /// with the first failure reported:
    ///
    /// 1. format, `alg` = HS256 and signature; no `crit` header (we support
    ///    no critical extensions) → `Invalid`;
    /// 2. if present: `iat` and `nbf` are integers not later than
    ///    `now + leeway` → else `Invalid`; `exp` is an integer → else
    ///    `Invalid`, and later than `now - leeway` → else `Expired`; `sub` and
    ///    `jti` are strings → else `Invalid` (PyJWT's checks);
    /// 3. `exp` present → `NoExp`; `jti` present → `NoId` (simplejwt);
    /// 4. `token_type` present → `NoType`; equal to `expected`, or when
    ///    `expected` is `None` at least `access` or `refresh` → `WrongType`;
    /// 5. `user_id` a string or an integer → `NoUserId`;
    /// 6. `iat` present → `Invalid`. simplejwt itself would accept a token
    ///    without `iat` (none of its releases since 5.0 makes one); we do not,
    ///    as every token we hand back carries one.
    ///
    /// For `jwt/verify`, which checks no type and no user, use
    /// [`JwtKeys::verify`].
    pub fn decode(
        &self,
        token: &str,
        expected: Option<TokenType>,
        now: OffsetDateTime,
    ) -> Result<Claims, JwtError> {
        self.decode_with_nbf(token, expected, now)
            .map(|(claims, _)| claims)
    }

    /// [`JwtKeys::decode`] for an access token, answered from the tokens
    /// already checked when it is one of them. Authentication checks the
    /// same access token on every request its client makes during the
    /// token's life (5 minutes by default), and checking it in full is the
    /// largest part of answering `GET /auth/users/me/` (a profile showed
    /// 14 %: the crate keys a new HMAC and parses the claims twice per
    /// call). The signature and claims of a given string never change, so
    /// only the clock checks are repeated on a hit, with the same order and
    /// errors as `decode`. Failures are never remembered.
    pub fn decode_access(&self, token: &str, now: OffsetDateTime) -> Result<Claims, JwtError> {
        let seconds = now.unix_timestamp();
        if let Some(hit) = self.checked.get(token) {
            return self.recheck_clock(hit, seconds);
        }
        let (claims, nbf) = self.decode_with_nbf(token, Some(TokenType::Access), now)?;
        self.checked.put(token, &claims, nbf, seconds, self.leeway);
        Ok(claims)
    }

    /// Step 2's clock checks of `decode` for a token that passed them all
    /// once; the others cannot have changed.
    fn recheck_clock(&self, token: CheckedToken, now: i64) -> Result<Claims, JwtError> {
        let CheckedToken { claims, nbf } = token;
        let early = |t: i64| t.saturating_sub(self.leeway) > now;
        if early(claims.iat) || nbf.is_some_and(early) {
            return Err(JwtError::Invalid);
        }
        if claims.exp.saturating_add(self.leeway) <= now {
            return Err(JwtError::Expired);
        }
        Ok(claims)
    }

    /// `decode`, also returning the `nbf` claim if the token has one.
    fn decode_with_nbf(
        &self,
        token: &str,
        expected: Option<TokenType>,
        now: OffsetDateTime,
    ) -> Result<(Claims, Option<i64>), JwtError> {
        let payload = self.checked_payload(token, now)?;
        let token_type = match payload.get("token_type") {
            None => return Err(JwtError::NoType),
            Some(value) => match value.as_str() {
                Some("access") => TokenType::Access,
                Some("refresh") => TokenType::Refresh,
                _ => return Err(JwtError::WrongType),
            },
        };
        if expected.is_some_and(|expected| expected != token_type) {
            return Err(JwtError::WrongType);
        }
        let user_id = match payload.get("user_id") {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            _ => return Err(JwtError::NoUserId),
        };
        // Step 2 made sure these are well-typed when present.
        let exp = payload.get("exp").and_then(Value::as_i64);
        let jti = payload.get("jti").and_then(Value::as_str);
        let iat = payload.get("iat").and_then(Value::as_i64);
        let nbf = payload.get("nbf").and_then(Value::as_i64);
        match (exp, iat, jti) {
            (Some(exp), Some(iat), Some(jti)) => Ok((
                Claims {
                    token_type,
                    exp,
                    iat,
                    jti: jti.to_owned(),
                    user_id,
                    sign_in: SignIn::from_payload(&payload),
                },
                nbf,
            )),
            _ => Err(JwtError::Invalid),
        }
    }

    /// What simplejwt's `jwt/verify` checks: steps 1–3 of
    /// [`JwtKeys::decode`], any token type, any or no user.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<(), JwtError> {
        self.checked_payload(token, now).map(drop)
    }

    /// `verify`, also handing back what revocation checks need: the `jti`,
    /// and `iat` and the user when the token has them.
    pub fn verify_claims(&self, token: &str, now: OffsetDateTime) -> Result<Verified, JwtError> {
        let claims = self.checked_payload(token, now)?;
        let user_pk = match claims.get("user_id") {
            Some(Value::String(s)) => parse_python_int(s),
            Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            _ => None,
        };
        Ok(Verified {
            jti: claims
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            iat: claims.get("iat").and_then(Value::as_i64),
            user_pk,
        })
    }

    fn checked_payload(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Map<String, Value>, JwtError> {
        let decode = |key: &DecodingKey| {
            jsonwebtoken::decode::<Map<String, Value>>(token, key, &self.validation)
        };
        let mut decoded = decode(&self.decoding);
        for key in &self.fallbacks {
            match &decoded {
                Err(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    decoded = decode(key);
                }
                _ => break,
            }
        }
        let data = decoded.map_err(|_| JwtError::Invalid)?;
        if data.header.crit.is_some() {
            return Err(JwtError::Invalid);
        }
        let claims = data.claims;
        // Every claim is a whole number of seconds and `k <= now` equals
        // `k <= floor(now)` for whole k, so whole seconds lose nothing.
        let now = now.unix_timestamp();
        let integer = |name: &str| match claims.get(name) {
            None => Ok(None),
            Some(value) => value.as_i64().map(Some).ok_or(JwtError::Invalid),
        };
        // PyJWT's order: iat, nbf, exp, then the types of sub and jti.
        for not_before in ["iat", "nbf"] {
            if integer(not_before)?.is_some_and(|t| t.saturating_sub(self.leeway) > now) {
                return Err(JwtError::Invalid);
            }
        }
        let exp = integer("exp")?;
        if exp.is_some_and(|exp| exp.saturating_add(self.leeway) <= now) {
            return Err(JwtError::Expired);
        }
        if ["sub", "jti"]
            .iter()
            .any(|name| claims.get(*name).is_some_and(|value| !value.is_string()))
        {
            return Err(JwtError::Invalid);
        }
        // Then simplejwt's own requirements.
        if exp.is_none() {
            return Err(JwtError::NoExp);
        }
        if !claims.contains_key("jti") {
            return Err(JwtError::NoId);
        }
        Ok(claims)
    }

    fn claims(&self, token_type: TokenType, user_id: String, now: OffsetDateTime) -> Claims {
        // simplejwt truncates the current time to whole seconds.
        let iat = now.unix_timestamp();
        let lifetime = match token_type {
            TokenType::Access => self.access_lifetime,
            TokenType::Refresh => self.refresh_lifetime,
        };
        Claims {
            token_type,
            exp: iat.saturating_add(lifetime),
            iat,
            // A UUIDv7 (still 32 hex digits, as simplejwt's uuid4) carries
            // the issue time to the millisecond, which lets a per-user
            // revocation cut-off tell apart tokens of the same second.
            jti: uuid::Uuid::now_v7().simple().to_string(),
            user_id,
            sign_in: None,
        }
    }

    /// The compact JWS for these claims.
    fn sign(&self, claims: &Claims) -> String {
        let mut token = URL_SAFE_NO_PAD.encode(HEADER_JSON);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json(claims), &mut token);
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        let signature = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }
}

/// The payload as PyJWT writes simplejwt's dict: compact, in claim order.
/// Written out rather than derived so the order cannot drift.
fn claims_json(claims: &Claims) -> String {
    // Displaying a JSON string value escapes it and cannot fail.
    let text = |s: &str| Value::String(s.to_owned()).to_string();
    let mut json = format!(
        r#"{{"token_type":"{}","exp":{},"iat":{},"jti":{},"user_id":{}"#,
        claims.token_type.as_str(),
        claims.exp,
        claims.iat,
        text(&claims.jti),
        text(&claims.user_id),
    );
    if let Some(sign_in) = &claims.sign_in {
        let amr: Vec<String> = sign_in.amr.iter().map(|m| text(m)).collect();
        json.push_str(&format!(
            r#","auth_time":{},"amr":[{}],"aal":"{}""#,
            sign_in.auth_time,
            amr.join(","),
            sign_in.aal(),
        ));
    }
    json.push('}');
    json
}

/// Access tokens that passed every check of [`JwtKeys::decode`], by their
/// exact text, with what the clock checks need. A hit requires the whole
/// string to be equal, so no other token can borrow an entry. Bounded: when
/// full, expired entries are dropped, and if that frees nothing the map is
/// emptied (tokens are then checked in full again). Hand-written: it is a
/// locked map with a size check; a cache crate would add eviction policy we
/// do not need.
#[derive(Default)]
struct CheckedTokens {
    map: RwLock<HashMap<Box<str>, CheckedToken>>,
}

#[derive(Clone)]
struct CheckedToken {
    claims: Claims,
    nbf: Option<i64>,
}

/// At most this many checked tokens are kept (about 1 MiB).
const CHECKED_TOKENS_MAX: usize = 4096;

impl CheckedTokens {
    fn get(&self, token: &str) -> Option<CheckedToken> {
        let map = self
            .map
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.get(token).cloned()
    }

    fn put(&self, token: &str, claims: &Claims, nbf: Option<i64>, now: i64, leeway: i64) {
        if claims.token_type != TokenType::Access {
            return;
        }
        let mut map = self
            .map
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= CHECKED_TOKENS_MAX {
            map.retain(|_, t| t.claims.exp.saturating_add(leeway) > now);
            if map.len() >= CHECKED_TOKENS_MAX {
                map.clear();
            }
        }
        let entry = CheckedToken {
            claims: claims.clone(),
            nbf,
        };
        map.insert(token.into(), entry);
    }
}

/// The secret as HMAC uses it (RFC 2104): hashed first if longer than a
/// block, then zero-padded to one. Preparing it here lets us key the MAC
/// through the infallible fixed-size constructor.
fn hmac_key_block(secret: &[u8]) -> [u8; HMAC_BLOCK] {
    let mut block = [0u8; HMAC_BLOCK];
    if secret.len() > HMAC_BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        block[..secret.len()].copy_from_slice(secret);
    }
    block
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
