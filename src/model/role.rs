//! Roles (Django groups) and Django permissions as records.

/// A role as the API shows it: the group and its permission ids (ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: i32,
    pub name: String,
    pub permissions: Vec<i32>,
}

/// A Django permission with the app it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub id: i32,
    pub name: String,
    pub codename: String,
    pub app_label: String,
}
