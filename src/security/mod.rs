//! Cryptographic building blocks: password hashers (Django-compatible),
//! and the async password service that runs them off the runtime.

pub mod django_tokens;
pub mod hashers;
pub mod jwt;
pub mod opaque;
pub mod passwords;
