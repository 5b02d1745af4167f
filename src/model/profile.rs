//! Profiles as records: the profile of a user with its roles and groups,
//! provinces, the admin list's user summary, and column changes.

use time::{Date, OffsetDateTime};

/// A group as shown in bodies: `{id, name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: i32,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub user_id: i32,
    pub username: String,
    pub email: String,
    pub phone: String,
    pub address: String,
    pub birth_date: Option<Date>,
    /// Path under `media.root`, e.g. `profile_pics/ab12….png`.
    pub picture: Option<String>,
    pub bio: String,
    pub roles: Vec<Named>,
    pub groups: Vec<Named>,
    pub province_id: Option<i32>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct Province {
    pub id: i32,
    pub name: String,
    pub code: Option<String>,
}

/// A user as the admin list shows it (its profile is loaded separately).
#[derive(Debug, Clone)]
pub struct UserSummary {
    pub id: i32,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub groups: Vec<i32>,
}

/// Column changes for the store; `None` leaves a column alone,
/// `Some(None)` clears a nullable one.
#[derive(Debug, Default, Clone)]
pub struct ProfileChanges {
    pub phone: Option<String>,
    pub address: Option<String>,
    pub bio: Option<String>,
    pub birth_date: Option<Option<Date>>,
    pub province_id: Option<Option<i32>>,
    pub picture: Option<Option<String>>,
    pub roles: Option<Vec<i32>>,
}
