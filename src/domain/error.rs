//! The domain's error enum: what can go wrong in a rule, independent of how
//! it is shown. `http::error` renders it in Djoser's shapes, the CLI prints it.

use std::collections::BTreeMap;

/// Messages per field, in the order the fields were checked.
pub type FieldErrors = Vec<(String, Vec<String>)>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// A unique value is taken (e.g. the username).
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    /// Rows of another app's `table` still refer to what was to be deleted
    /// (a shared Django database); nothing was deleted.
    #[error("still referred to by rows of {table}")]
    InUse { table: String },
    #[error("unable to log in with provided credentials")]
    InvalidCredentials,
    #[error("the account is inactive")]
    Inactive,
    /// The caller may not do this (to this target).
    #[error("permission denied")]
    Forbidden,
    #[error("too many requests, retry after {retry_after} s")]
    Throttled { retry_after: u64 },
    /// Input failed validation; every failing field is listed.
    #[error("invalid input: {}", describe(.0))]
    Validation(FieldErrors),
    /// The database could not be reached or stayed busy (a fault that
    /// passes: the client may retry).
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request cannot be done in the state things are in (a second
    /// authenticator app while one is set up, say); the message says why.
    #[error("{0}")]
    State(String),
    /// A sensitive change needs the password again (and a code, for a user
    /// with MFA) in the same request.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The password was right and a second factor is needed: the login
    /// goes on at `mfa/login/` with the challenge's token.
    #[error("a second factor is required")]
    MfaRequired(super::mfa::MfaChallenge),
    /// A waiting login's token that is unknown, used, expired or was
    /// tried too often.
    #[error("the two-factor login is no longer valid")]
    MfaTokenInvalid,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![(field.to_string(), vec![message.into()])])
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Box::new(e))
    }
}

fn describe(errors: &FieldErrors) -> String {
    let grouped: BTreeMap<_, _> = errors.iter().map(|(f, m)| (f, m.join(" "))).collect();
    grouped
        .iter()
        .map(|(f, m)| format!("{f}: {m}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Conflict { field } => Error::Conflict {
                message: format!("A user with that {field} already exists."),
                field,
            },
            crate::store::StoreError::Referenced { table } => Error::InUse { table },
            other if other.is_unavailable() => Error::Unavailable(Box::new(other)),
            other => Error::internal(other),
        }
    }
}

impl From<crate::limits::Throttled> for Error {
    fn from(t: crate::limits::Throttled) -> Self {
        Error::Throttled {
            retry_after: t.retry_after_secs,
        }
    }
}
