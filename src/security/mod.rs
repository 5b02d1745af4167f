//! Cryptographic building blocks and password policy: password hashers
//! (Django-compatible), the async password service that runs them off the
//! runtime, Django's password validators, JWTs and Django's uid/tokens.
//! Imports only `model`, so `config` may embed its parameter types.

pub mod django_tokens;
pub mod hashers;
pub mod jwt;
pub mod mfa;
pub mod opaque;
pub mod passwords;
pub mod validators;
