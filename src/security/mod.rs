//! Cryptographic building blocks: password hashers (Django-compatible),
//! and the async password service that runs them off the runtime.

pub mod hashers;
pub mod passwords;
