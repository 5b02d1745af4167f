//! `ApiError`: every error the HTTP layer returns, rendered in the shapes
//! Django REST framework uses (Djoser's wire format):
//! `{"field": ["msg", …]}` for field errors, `{"non_field_errors": [...]}`
//! for object-level ones and `{"detail": "msg"}` (optionally with simplejwt's
//! `code`) for everything else. The body is built here and nowhere else;
//! `From<domain::Error>` is the one mapping from domain failures.

use axum::{
    Json,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use crate::{
    domain::{
        self, FieldErrors,
        flows::{FlowError, messages},
        sessions::{AuthError, AuthFailure},
    },
    store::StoreError,
};

/// DRF's `PermissionDenied` message: the one body of every 403 for a
/// caller who may not do what they asked.
pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

/// The body of a 503 when the database cannot answer (the wording of
/// DRF's generic `APIException` family: a sentence and what to do).
pub const UNAVAILABLE: &str = "Service temporarily unavailable, try again later.";

/// `Retry-After` of that 503, in seconds.
pub const UNAVAILABLE_RETRY_AFTER: &str = "5";

/// DRF's `NON_FIELD_ERRORS_KEY`.
pub const NON_FIELD_ERRORS: &str = "non_field_errors";

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Set for 500s: the outer middleware adds the request id to the body.
    internal: bool,
    /// Send no body at all.
    empty: bool,
}

/// Marks an error response whose empty body is deliberate (Djoser answers
/// one request with a bare 400), so the error middleware leaves it alone.
#[derive(Clone, Copy, Debug)]
pub struct KeepEmptyBody;

/// Marks a 500 response built from an `ApiError`, so the error middleware
/// can put the request id in its body.
#[derive(Clone, Copy, Debug)]
pub struct InternalErrorMarker;

impl ApiError {
    /// `{"detail": message}` with any status.
    pub fn detail(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "detail": message.into() }),
            headers: Vec::new(),
            internal: false,
            empty: false,
        }
    }

    /// Any JSON body with any status.
    pub fn json(status: StatusCode, body: Value) -> Self {
        ApiError {
            status,
            body,
            headers: Vec::new(),
            internal: false,
            empty: false,
        }
    }

    /// 400 with one list of messages per field, fields in the given order.
    pub fn fields(errors: FieldErrors) -> Self {
        let mut map = Map::new();
        for (field, messages) in errors {
            let entry = map.entry(field).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.extend(messages.into_iter().map(Value::String));
            }
        }
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: Value::Object(map),
            headers: Vec::new(),
            internal: false,
            empty: false,
        }
    }

    /// A status with no body (and no content type).
    pub fn empty(status: StatusCode) -> Self {
        let mut e = Self::json(status, Value::Null);
        e.empty = true;
        e
    }

    /// 400 `{"non_field_errors": [...]}`.
    pub fn non_field(messages: Vec<String>) -> Self {
        Self::fields(vec![(NON_FIELD_ERRORS.to_string(), messages)])
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::detail(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found() -> Self {
        Self::detail(StatusCode::NOT_FOUND, "Not found.")
    }

    /// 403 with DRF's permission-denied message.
    pub fn forbidden() -> Self {
        Self::detail(StatusCode::FORBIDDEN, PERMISSION_DENIED)
    }

    /// 500 with a generic message; the cause is logged, never shown.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(cause), "internal error");
        let mut e = Self::detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "A server error occurred.",
        );
        e.internal = true;
        e
    }

    /// 503 for a database that cannot be reached or stayed locked: the
    /// fault passes, so the client is told when to try again; the cause is
    /// logged, never shown.
    pub fn unavailable(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::warn!(error = %error_chain(cause), "database unavailable");
        Self::detail(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE).with_header(
            header::RETRY_AFTER,
            HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER),
        )
    }

    /// Adds simplejwt's machine-readable `code` next to `detail`.
    pub fn with_code(mut self, code: &str) -> Self {
        if let Value::Object(map) = &mut self.body {
            map.insert("code".into(), Value::String(code.into()));
        }
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn body(&self) -> &Value {
        &self.body
    }
}

/// `cause: its cause: its cause` for logs.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = if self.empty {
            let mut r = self.status.into_response();
            r.extensions_mut().insert(KeepEmptyBody);
            r
        } else {
            (self.status, Json(self.body)).into_response()
        };
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        if self.internal {
            response.extensions_mut().insert(InternalErrorMarker);
        }
        response
    }
}

impl From<domain::Error> for ApiError {
    fn from(e: domain::Error) -> Self {
        use domain::Error as E;
        match e {
            E::NotFound => ApiError::not_found(),
            E::Conflict { field, message } => ApiError::fields(vec![(field, vec![message])]),
            E::InUse { table } => ApiError::detail(
                StatusCode::CONFLICT,
                format!(
                    "Cannot delete: rows of the table \"{table}\" still refer to it; \
                     remove or reassign them first."
                ),
            ),
            E::InvalidCredentials => {
                ApiError::non_field(vec!["Unable to log in with provided credentials.".into()])
            }
            E::Inactive => ApiError::non_field(vec!["User account is disabled.".into()]),
            E::Forbidden => ApiError::forbidden(),
            E::Throttled { retry_after } => ApiError::from(crate::limits::Throttled {
                retry_after_secs: retry_after,
            }),
            E::Validation(errors) => ApiError::fields(errors),
            E::State(message) => ApiError::detail(StatusCode::CONFLICT, message),
            E::ReauthenticationRequired => ApiError::json(
                StatusCode::FORBIDDEN,
                json!({
                    "detail": domain::mfa::REAUTHENTICATION_REQUIRED,
                    "code": "reauthentication_required",
                }),
            ),
            E::MfaRequired(challenge) => super::auth::unauthorized(json!({
                "detail": domain::mfa::MFA_REQUIRED,
                "code": "mfa_required",
                "mfa_token": challenge.token,
                "methods": challenge.methods,
                "expires_in": challenge.expires_in,
            })),
            E::MfaTokenInvalid => super::auth::unauthorized(json!({
                "detail": domain::mfa::MFA_TOKEN_INVALID,
                "code": "mfa_token_invalid",
            })),
            E::Unavailable(cause) => ApiError::unavailable(cause.as_ref()),
            E::Internal(cause) => ApiError::internal(cause.as_ref()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        domain::Error::from(e).into()
    }
}

/// A flow's outcome in Djoser's particular shapes.
impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::Domain(e) => e.into(),
            FlowError::Stale => ApiError::detail(StatusCode::FORBIDDEN, messages::STALE_TOKEN),
            FlowError::EmailNotFound => {
                ApiError::json(StatusCode::BAD_REQUEST, json!([messages::EMAIL_NOT_FOUND]))
            }
            FlowError::ActivationOff => ApiError::empty(StatusCode::BAD_REQUEST),
        }
    }
}

/// A refused token presented in a body (refresh, verify, blacklist):
/// simplejwt's 401. A refused `Authorization` header is rendered by
/// `http::auth`, in DRF's and simplejwt's header shapes.
impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Failed(e) => e.into(),
            AuthError::Refused(AuthFailure::Jwt(e)) => {
                super::auth::unauthorized(json!({"detail": e.message(), "code": "token_not_valid"}))
            }
            AuthError::Refused(_) => super::auth::unauthorized(
                json!({"detail": "No active account found for the given token."}),
            ),
        }
    }
}

/// DRF's `Throttled`: 429, its message (one "second", otherwise
/// "seconds") and `Retry-After`.
impl From<crate::limits::Throttled> for ApiError {
    fn from(t: crate::limits::Throttled) -> Self {
        let wait = t.retry_after_secs;
        let unit = if wait == 1 { "second" } else { "seconds" };
        ApiError::detail(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Request was throttled. Expected available in {wait} {unit}."),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(wait))
    }
}
