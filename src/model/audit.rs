//! Audit records: one security event as `doorman_audit` stores it.

use time::OffsetDateTime;

/// An event to record. `kind` and `outcome` are the domain's names
/// (`domain::audit`); the request's context comes with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub kind: &'static str,
    pub outcome: &'static str,
    /// Who did it (`None`: anonymous, or the operator at the CLI).
    pub actor_id: Option<i32>,
    /// Whom it concerns.
    pub target_id: Option<i32>,
    /// The target as named at the time (a username, or the login or
    /// address that was typed when no account matched).
    pub target: String,
    pub address: String,
    pub user_agent: String,
    pub request_id: String,
    /// What changed or why it failed, in words (never a secret).
    pub detail: String,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: OffsetDateTime,
    pub kind: String,
    pub outcome: String,
    pub actor_id: Option<i32>,
    pub target_id: Option<i32>,
    pub target: String,
    pub address: String,
    pub user_agent: String,
    pub request_id: String,
    pub detail: String,
}

/// Which events to read: newest first below `before`, or oldest first
/// above `after` (to follow the trail), at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Events by or about this user.
    pub user_id: Option<i32>,
    pub kind: Option<String>,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: u32,
}
