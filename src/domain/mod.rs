//! Rules with no HTTP and no SQL: typed inputs, validators, the user
//! operations shared by the CLI and the APIs, and the domain error enum.

pub mod access;
pub mod audit;
mod error;
pub mod flows;
pub mod mfa;
pub mod profiles;
pub mod roles;
pub mod sessions;
pub mod users;

pub use error::{Error, FieldErrors};

/// The secret password type (a record of `model`), at its familiar path.
pub mod password {
    pub use crate::model::Password;
}
