//! Who is calling. `MaybeCaller` reads the `Authorization` header the way
//! the Django stack doorman replaces does — simplejwt's JWTAuthentication
//! first (`Bearer <jwt>`, scheme words from `jwt.auth_header_types`,
//! case-sensitive), then DRF's TokenAuthentication (`Token <key>`, any
//! case) — and, like DRF, refuses bad credentials with 401 even on public
//! endpoints; a header with another scheme is ignored. `Caller` also
//! requires that someone is authenticated. Every 401 carries
//! `WWW-Authenticate: Bearer realm="api"`.

use axum::{
    extract::FromRequestParts,
    http::{HeaderValue, StatusCode, header, request::Parts},
};
use serde_json::json;

use super::{AppState, error::ApiError};
use crate::domain::{
    access::Principal,
    sessions::{AuthError, AuthFailure, Caller},
};

pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";

/// The authenticated caller, if the request carries credentials.
pub struct MaybeCaller(pub Option<Caller>);

/// An authenticated caller (401 otherwise).
pub struct Authenticated(pub Caller);

/// A 401 in DRF's shape with the challenge header.
pub fn unauthorized(body: serde_json::Value) -> ApiError {
    ApiError::json(StatusCode::UNAUTHORIZED, body).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"api\""),
    )
}

fn detail(message: &str) -> ApiError {
    unauthorized(json!({ "detail": message }))
}

/// The body for a refused JWT: simplejwt's, naming why.
fn jwt_failure(failure: &AuthFailure) -> ApiError {
    match failure {
        // simplejwt reports a token without a user id in its flat shape.
        AuthFailure::Jwt(e @ crate::security::jwt::JwtError::NoUserId) => {
            unauthorized(json!({"detail": e.message(), "code": "token_not_valid"}))
        }
        AuthFailure::Jwt(e) => unauthorized(json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": [{
                "token_class": "AccessToken",
                "token_type": "access",
                "message": e.message(),
            }],
        })),
        AuthFailure::UserNotFound => {
            unauthorized(json!({"detail": "User not found", "code": "user_not_found"}))
        }
        AuthFailure::UserInactive => {
            unauthorized(json!({"detail": "User is inactive", "code": "user_inactive"}))
        }
        AuthFailure::InvalidToken => detail("Invalid token."),
        AuthFailure::TokenUserInactive => detail("User inactive or deleted."),
    }
}

/// What an `Authorization` header offers.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// simplejwt's scheme: the token (bytes that are not UTF-8 become
    /// U+FFFD, which no token contains, so it is refused as invalid).
    Jwt(&'a str),
    /// DRF's `Token <key>`.
    Token(&'a str),
}

/// Why an `Authorization` header is refused before any lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    JwtWordCount,
    TokenMissing,
    TokenSpaces,
    TokenNotText,
}

/// Reads an `Authorization` header value as simplejwt then DRF do: words
/// split on ASCII whitespace; the first a JWT scheme of `jwt_types`
/// (case-sensitive) or `token` (any case); any other scheme is no
/// credential at all (`None`). A pure function of untrusted bytes, so it
/// is fuzzed (`fuzz/fuzz_targets/authorization.rs`).
pub fn credential<'a>(
    value: &'a [u8],
    jwt_types: &[String],
) -> Result<Option<Credential<'a>>, HeaderError> {
    let words: Vec<&[u8]> = value
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let Some(scheme) = words.first() else {
        return Ok(None);
    };
    if jwt_types.iter().any(|t| t.as_bytes() == *scheme) {
        if words.len() != 2 {
            return Err(HeaderError::JwtWordCount);
        }
        let token = std::str::from_utf8(words[1]).unwrap_or("\u{fffd}");
        return Ok(Some(Credential::Jwt(token)));
    }
    if !scheme.eq_ignore_ascii_case(b"token") {
        return Ok(None);
    }
    match words.len() {
        1 => Err(HeaderError::TokenMissing),
        2 => std::str::from_utf8(words[1])
            .map(|key| Some(Credential::Token(key)))
            .map_err(|_| HeaderError::TokenNotText),
        _ => Err(HeaderError::TokenSpaces),
    }
}

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(MaybeCaller(Some(caller.clone())));
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(MaybeCaller(None));
        };
        let sessions = &state.sessions;
        let outcome = match credential(value.as_bytes(), &sessions.settings().auth_header_types) {
            Ok(None) => return Ok(MaybeCaller(None)),
            Ok(Some(Credential::Jwt(token))) => sessions.authenticate_access(token).await,
            Ok(Some(Credential::Token(key))) => sessions.authenticate_token(key).await,
            Err(HeaderError::JwtWordCount) => {
                return Err(unauthorized(json!({
                    "detail": "Authorization header must contain two space-delimited values",
                    "code": "bad_authorization_header",
                })));
            }
            Err(HeaderError::TokenMissing) => {
                return Err(detail("Invalid token header. No credentials provided."));
            }
            Err(HeaderError::TokenSpaces) => {
                return Err(detail(
                    "Invalid token header. Token string should not contain spaces.",
                ));
            }
            Err(HeaderError::TokenNotText) => {
                return Err(detail(
                    "Invalid token header. Token string should not contain invalid characters.",
                ));
            }
        };
        match outcome {
            Ok(caller) => {
                parts.extensions.insert(caller.clone());
                Ok(MaybeCaller(Some(caller)))
            }
            Err(AuthError::Refused(failure)) => Err(jwt_failure(&failure)),
            Err(AuthError::Failed(e)) => Err(e.into()),
        }
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match MaybeCaller::from_request_parts(parts, state).await?.0 {
            Some(caller) => Ok(Authenticated(caller)),
            None => Err(detail(NOT_AUTHENTICATED)),
        }
    }
}

/// The authenticated caller with what they may do, built once per request:
/// the Accounts API's access check leaves it in the request; elsewhere it
/// is read here on first use.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let Authenticated(caller) = Authenticated::from_request_parts(parts, state).await?;
        let principal =
            Principal::load(&state.store, &state.settings.accounts, caller.user).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}
