//! Who may do what. The route layer builds a `Principal` once per request
//! (the user, whether they are a full admin, the groups they belong to and
//! every permission they hold); the domain operations ask the questions
//! below and return `Error::Forbidden` when the answer is no. The table of
//! which endpoint needs which permission lives beside the routes
//! (`http/accounts/mod.rs`).
//!
//! The rules, for every surface (both APIs):
//! - "admin" for an action guarded by a permission (SPEC §3): an active
//!   superuser, a member of a group named in `accounts.admin_roles`
//!   (directly or through profile roles) — a *full admin* — or the holder
//!   of that Django permission;
//! - nobody below a superuser changes or deletes a superuser; nobody below
//!   a full admin changes a full admin or a staff member; a delegated admin
//!   (one who only holds permissions) manages only users whose effective
//!   permissions are a subset of their own, and changes the login
//!   credentials (username, e-mail) of nobody who holds any permission;
//! - nobody grants (or takes away) a group or permission they could not
//!   hold themself; only a full admin touches an admin role or a role they
//!   belong to.

use std::collections::HashSet;

use super::{Error, users::User};
use crate::{
    config::AccountsSettings,
    store::{RoleMembers, Store},
};

/// What an endpoint requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No credentials needed (bad ones are still refused).
    Anyone,
    /// Any signed-in user.
    Authenticated,
    /// An admin, or a holder of the permission `app_label.codename`.
    Admin(&'static str),
    /// As `Admin`, or the user the path's `{user_id}` names.
    AdminOrSelf(&'static str),
    /// A full admin only (an active superuser or a member of an admin
    /// role): what shows every account, superusers' included, is not for
    /// a holder of a delegated permission.
    FullAdmin,
}

/// A user with what they may do: computed once (two queries) and then
/// asked any number of questions without the database.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// An active superuser or a member of an admin role.
    full_admin: bool,
    /// Groups joined directly or through profile roles.
    groups: HashSet<i32>,
    /// Permission ids held directly or through any of those groups.
    permission_ids: HashSet<i32>,
    /// The same permissions as `app_label.codename`.
    permission_names: HashSet<String>,
}

impl Principal {
    /// Reads what `user` may do and what they rank as. What an inactive
    /// user may do is nothing (as in Django, where an inactive user has no
    /// permissions), but their rank still counts when they are the
    /// *target*: an admin who is inactive for a moment (a new address
    /// waiting for activation, a suspended account) is still an admin, and
    /// must not become fair game for anyone who can manage ordinary users.
    pub async fn load(
        store: &Store,
        settings: &AccountsSettings,
        user: User,
    ) -> Result<Principal, Error> {
        let groups = store.user_group_names(user.id).await?;
        let permissions = store.user_permissions(user.id).await?;
        Ok(Principal {
            full_admin: user.is_superuser
                || groups
                    .iter()
                    .any(|(_, name)| settings.admin_roles.contains(name)),
            groups: groups.into_iter().map(|(id, _)| id).collect(),
            permission_ids: permissions.iter().map(|(id, _)| *id).collect(),
            permission_names: permissions.into_iter().map(|(_, name)| name).collect(),
            user,
        })
    }

    /// An active superuser.
    pub fn is_superuser(&self) -> bool {
        self.user.is_active && self.user.is_superuser
    }

    /// As a caller: an active superuser or member of an admin role.
    pub fn is_full_admin(&self) -> bool {
        self.user.is_active && self.full_admin
    }

    /// As a caller: whether this principal is an admin for an action
    /// guarded by `permission` (`app_label.codename`).
    pub fn may(&self, permission: &str) -> bool {
        self.is_full_admin() || (self.user.is_active && self.permission_names.contains(permission))
    }

    /// Whether the principal belongs to group `id` (either way).
    pub fn in_group(&self, id: i32) -> bool {
        self.groups.contains(&id)
    }

    /// As a caller: whether the principal holds permission `id`.
    pub fn holds(&self, id: i32) -> bool {
        self.user.is_active && self.permission_ids.contains(&id)
    }

    /// As a target: whether the user ranks as staff, full admin or
    /// superuser, active or not.
    fn ranks_high(&self) -> bool {
        self.user.is_staff || self.user.is_superuser || self.full_admin
    }

    /// As a target: whether the user holds any permission (some
    /// administrative power), active or not.
    fn holds_any(&self) -> bool {
        !self.permission_ids.is_empty()
    }

    /// As a target: whether `caller`, active, holds every permission this
    /// user holds.
    fn held_within(&self, caller: &Principal) -> bool {
        caller.user.is_active && self.permission_ids.is_subset(&caller.permission_ids)
    }
}

/// Whether `caller` may change or delete the account of `target`: oneself
/// always; a superuser's only as a superuser; a full admin's or a staff
/// member's only as a full admin; anyone else's only holding every
/// permission they hold.
pub fn may_manage(caller: &Principal, target: &Principal) -> Result<(), Error> {
    let allowed = if caller.user.id == target.user.id || caller.is_superuser() {
        true
    } else if target.user.is_superuser {
        false
    } else if caller.is_full_admin() {
        true
    } else if target.ranks_high() {
        false
    } else {
        target.held_within(caller)
    };
    allowed.then_some(()).ok_or(Error::Forbidden)
}

/// Whether `caller` may change `target`'s login credentials (username,
/// e-mail: the mail decides who can reset the password). Beyond
/// `may_manage`, only a full admin changes those of anyone who holds a
/// permission: otherwise a delegated admin could move another admin's
/// address to their own, reset the password and sign in as them.
pub fn may_change_credentials(caller: &Principal, target: &Principal) -> Result<(), Error> {
    may_manage(caller, target)?;
    let allowed = caller.user.id == target.user.id || caller.is_full_admin() || !target.holds_any();
    allowed.then_some(()).ok_or(Error::Forbidden)
}

/// Refuses unless the caller may grant (or take away) every group in
/// `group_ids`: a full admin any; anyone else only a group whose name is
/// not an admin role and all of whose permissions they hold. Ids naming no
/// group are left to the caller's existence check.
pub async fn check_group_grants(
    store: &Store,
    settings: &AccountsSettings,
    caller: &Principal,
    group_ids: &[i32],
) -> Result<(), Error> {
    if group_ids.is_empty() || caller.is_full_admin() {
        return Ok(());
    }
    let groups = store.group_grants(group_ids).await?;
    let refused = groups.iter().any(|g| {
        settings.admin_roles.contains(&g.name) || g.permissions.iter().any(|p| !caller.holds(*p))
    });
    match refused {
        true => Err(Error::Forbidden),
        false => Ok(()),
    }
}

/// Refuses unless the caller may grant (or take away) every permission in
/// `permission_ids`: a full admin any, anyone else only those they hold.
pub fn check_permission_grants(caller: &Principal, permission_ids: &[i32]) -> Result<(), Error> {
    match caller.is_full_admin() || permission_ids.iter().all(|p| caller.holds(*p)) {
        true => Ok(()),
        false => Err(Error::Forbidden),
    }
}

/// Whether the caller may rename, re-permission or delete the role `id`
/// named `name` (or give it `new_name`): a full admin may; anyone else not
/// for an admin role (now or after the rename) nor for a role they belong
/// to themself.
pub fn may_change_role(
    settings: &AccountsSettings,
    caller: &Principal,
    id: i32,
    name: &str,
    new_name: Option<&str>,
) -> Result<(), Error> {
    if caller.is_full_admin() {
        return Ok(());
    }
    let admin_role = |n: &str| settings.admin_roles.iter().any(|r| r == n);
    if admin_role(name) || new_name.is_some_and(admin_role) || caller.in_group(id) {
        return Err(Error::Forbidden);
    }
    Ok(())
}

/// Whether the caller may change what the members of a role hold
/// (re-permission it, delete it): a full admin may; anyone else only if
/// they may manage every member — no member is staff, a superuser or a
/// full admin, and every member's permissions are within the caller's
/// (active or not, as for any target).
pub fn may_change_members(
    settings: &AccountsSettings,
    caller: &Principal,
    members: &RoleMembers,
) -> Result<(), Error> {
    if caller.is_full_admin() {
        return Ok(());
    }
    let admin = members
        .group_names
        .iter()
        .any(|n| settings.admin_roles.contains(n));
    let within = members.permission_ids.iter().all(|p| caller.holds(*p));
    match !members.privileged && !admin && within {
        true => Ok(()),
        false => Err(Error::Forbidden),
    }
}

/// Whether the caller may create a role called `name`: an admin role only
/// as a full admin.
pub fn may_create_role(
    settings: &AccountsSettings,
    caller: &Principal,
    name: &str,
) -> Result<(), Error> {
    match caller.is_full_admin() || !settings.admin_roles.iter().any(|r| r == name) {
        true => Ok(()),
        false => Err(Error::Forbidden),
    }
}

/// The longest list of ids (groups, roles, permissions) a request may carry.
pub const MAX_IDS: usize = 1000;

/// The field message for a list longer than `MAX_IDS`.
pub fn too_many_ids_message() -> String {
    format!("Ensure this field has no more than {MAX_IDS} elements.")
}

/// `ids` without repeats, first occurrence kept.
pub fn dedup(ids: &[i32]) -> Vec<i32> {
    let mut seen = HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// The ids in exactly one of `current` and `wanted`: what a replacement of
/// the set grants or takes away.
pub fn changed(current: &[i32], wanted: &[i32]) -> Vec<i32> {
    let current_set: HashSet<i32> = current.iter().copied().collect();
    let wanted_set: HashSet<i32> = wanted.iter().copied().collect();
    let mut out: Vec<i32> = wanted
        .iter()
        .copied()
        .filter(|id| !current_set.contains(id))
        .collect();
    out.extend(
        current
            .iter()
            .copied()
            .filter(|id| !wanted_set.contains(id)),
    );
    dedup(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i32, staff: bool, superuser: bool) -> User {
        User {
            id,
            username: format!("u{id}"),
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            is_active: true,
            is_staff: staff,
            is_superuser: superuser,
            last_login: None,
            date_joined: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn principal(id: i32, staff: bool, superuser: bool, full: bool, perms: &[i32]) -> Principal {
        Principal {
            user: user(id, staff, superuser),
            full_admin: full || superuser,
            groups: HashSet::new(),
            permission_ids: perms.iter().copied().collect(),
            permission_names: HashSet::new(),
        }
    }

    #[test]
    fn managing_follows_rank_and_the_subset_rule() {
        let plain = principal(1, false, false, false, &[]);
        let delegated = principal(2, false, false, false, &[10, 11]);
        let richer = principal(3, false, false, false, &[10, 12]);
        let poorer = principal(4, false, false, false, &[10]);
        let staff = principal(5, true, false, false, &[]);
        let full = principal(6, false, false, true, &[]);
        let root = principal(7, false, true, true, &[]);
        let other_root = principal(8, false, true, true, &[]);
        let ok = |c: &Principal, t: &Principal| may_manage(c, t).is_ok();
        assert!(ok(&delegated, &plain) && ok(&delegated, &poorer));
        assert!(!ok(&delegated, &richer), "more permissions than the caller");
        assert!(!ok(&delegated, &staff) && !ok(&delegated, &full) && !ok(&delegated, &root));
        assert!(ok(&staff, &plain) && !ok(&staff, &poorer) && !ok(&staff, &root));
        assert!(ok(&full, &richer) && ok(&full, &staff) && ok(&full, &full.clone()));
        assert!(!ok(&full, &root), "a full admin is below a superuser");
        assert!(ok(&root, &other_root) && ok(&plain, &plain));
        let creds = |c: &Principal, t: &Principal| may_change_credentials(c, t).is_ok();
        assert!(creds(&delegated, &plain));
        assert!(!creds(&delegated, &poorer), "another admin's address");
        assert!(creds(&full, &richer) && creds(&poorer, &poorer));
    }
}
