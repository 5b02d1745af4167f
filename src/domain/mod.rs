//! Rules with no HTTP and no SQL: typed inputs, validators, the user
//! operations shared by the CLI and the APIs, and the domain error enum.

pub mod access;
pub mod accounts;
mod error;
pub mod password;
pub mod profiles;
pub mod roles;
pub mod sessions;
pub mod users;
pub mod validators;

pub use error::{Error, FieldErrors};
