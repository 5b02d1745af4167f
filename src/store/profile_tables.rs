//! Where profiles, their roles and provinces live: doorman's own tables by
//! default, or the tables of a Django "accounts" app sharing the database
//! (`accounts.django_app`), so that Django's models and doorman read and
//! write the same rows. SQL that touches them is written with the
//! placeholders `@profile@`, `@profile_roles@`, `@roles_profile@` (the
//! roles table's column naming the profile) and `@province@`, filled in by
//! [`ProfileTables::sql`] (not `{…}`, which `format!` would capture).

use std::borrow::Cow;

use super::references::{OnDelete, Rule};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileTables {
    pub profile: String,
    pub profile_roles: String,
    pub roles_profile: String,
    pub province: String,
}

impl Default for ProfileTables {
    fn default() -> Self {
        ProfileTables {
            profile: "doorman_profile".into(),
            profile_roles: "doorman_profile_roles".into(),
            roles_profile: "profile_id".into(),
            province: "doorman_province".into(),
        }
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

impl ProfileTables {
    /// A Django app's tables as its models make them: `<app>_userprofile`,
    /// its many-to-many `<app>_userprofile_roles` (`userprofile_id`,
    /// `group_id`) and `<app>_provinces`.
    pub fn django(app: &str) -> ProfileTables {
        ProfileTables {
            profile: format!("{app}_userprofile"),
            profile_roles: format!("{app}_userprofile_roles"),
            roles_profile: "userprofile_id".into(),
            province: format!("{app}_provinces"),
        }
    }

    /// The tables `accounts` names (`django_app` and its overrides), or
    /// doorman's own.
    pub fn from_settings(accounts: &crate::config::AccountsSettings) -> ProfileTables {
        let Some(app) = &accounts.django_app else {
            return ProfileTables::default();
        };
        let mut tables = ProfileTables::django(app);
        let overrides = [
            (&accounts.django_profile_table, &mut tables.profile),
            (
                &accounts.django_profile_roles_table,
                &mut tables.profile_roles,
            ),
            (
                &accounts.django_profile_roles_column,
                &mut tables.roles_profile,
            ),
            (&accounts.django_province_table, &mut tables.province),
        ];
        for (set, name) in overrides {
            if let Some(value) = set {
                *name = value.clone();
            }
        }
        tables
    }

    /// Whether these are doorman's own tables (which cascade in the
    /// database).
    pub fn own(&self) -> bool {
        *self == ProfileTables::default()
    }

    /// `template` with the placeholders replaced by the quoted names.
    pub fn sql(&self, template: &str) -> String {
        template
            .replace("@profile_roles@", &quote(&self.profile_roles))
            .replace("@roles_profile@", &quote(&self.roles_profile))
            .replace("@profile@", &quote(&self.profile))
            .replace("@province@", &quote(&self.province))
    }

    /// What a user's delete clears of these tables (Django's CASCADE of the
    /// profile and its roles); nothing for doorman's own, which cascade.
    pub fn user_rules(&self) -> Vec<Rule> {
        match self.own() {
            true => Vec::new(),
            false => vec![
                (
                    Cow::Owned(self.profile.clone()),
                    Cow::Borrowed("user_id"),
                    OnDelete::Cascade,
                ),
                (
                    Cow::Owned(self.profile_roles.clone()),
                    Cow::Owned(self.roles_profile.clone()),
                    OnDelete::Cascade,
                ),
            ],
        }
    }

    /// What a group's delete clears: the profile roles naming it.
    pub fn group_rules(&self) -> Vec<Rule> {
        match self.own() {
            true => Vec::new(),
            false => vec![(
                Cow::Owned(self.profile_roles.clone()),
                Cow::Borrowed("group_id"),
                OnDelete::Cascade,
            )],
        }
    }
}
