//! Plain records and value types: users, passwords, profiles, roles and
//! permissions, and the changes the store writes. This is the bottom of the
//! layering (`http → domain → store → model`): it imports nothing of
//! doorman's, so every other layer can share these types without a cycle.

mod audit;
mod password;
mod profile;
mod role;
mod user;

pub use audit::{AuditEntry, AuditQuery, NewAuditEntry};
pub use password::Password;
pub use profile::{Named, Profile, ProfileChanges, Province, UserSummary};
pub use role::{Permission, Role};
pub use user::{EmailAddress, NewUser, User, UserChanges, Username};
