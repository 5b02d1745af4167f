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

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(MaybeCaller(Some(caller.clone())));
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(MaybeCaller(None));
        };
        let words: Vec<&[u8]> = value
            .as_bytes()
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        let Some(scheme) = words.first() else {
            return Ok(MaybeCaller(None));
        };
        let sessions = &state.sessions;
        let outcome = if sessions
            .settings()
            .auth_header_types
            .iter()
            .any(|t| t.as_bytes() == *scheme)
        {
            if words.len() != 2 {
                return Err(unauthorized(json!({
                    "detail": "Authorization header must contain two space-delimited values",
                    "code": "bad_authorization_header",
                })));
            }
            let token = std::str::from_utf8(words[1]).unwrap_or("\u{fffd}");
            sessions.authenticate_access(token).await
        } else if scheme.eq_ignore_ascii_case(b"token") {
            match words.len() {
                1 => return Err(detail("Invalid token header. No credentials provided.")),
                2 => {}
                _ => {
                    return Err(detail(
                        "Invalid token header. Token string should not contain spaces.",
                    ));
                }
            }
            let Ok(key) = std::str::from_utf8(words[1]) else {
                return Err(detail(
                    "Invalid token header. Token string should not contain invalid characters.",
                ));
            };
            sessions.authenticate_token(key).await
        } else {
            return Ok(MaybeCaller(None));
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
