//! Who may call what in the Accounts API. "Admin" (SPEC §3) is: a
//! superuser, a member of a group named in `accounts.admin_roles` (directly
//! or through profile roles), or the holder of the Django permission that
//! fits the action. The table of which endpoint needs which rule lives
//! beside the routes (`http/accounts/mod.rs`); this module answers the
//! questions the rules ask.

use std::collections::HashSet;

use super::{Error, users::User};
use crate::{config::AccountsSettings, store::Store};

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
}

/// Whether `user` is an admin for an action guarded by `permission`
/// (`app_label.codename`).
pub async fn is_admin(
    store: &Store,
    settings: &AccountsSettings,
    user: &User,
    permission: &str,
) -> Result<bool, Error> {
    if !user.is_active {
        return Ok(false);
    }
    if user.is_superuser {
        return Ok(true);
    }
    if store
        .user_in_any_group(user.id, &settings.admin_roles)
        .await?
    {
        return Ok(true);
    }
    let Some((app_label, codename)) = permission.split_once('.') else {
        return Ok(false);
    };
    Ok(store
        .user_has_permission(user.id, app_label, codename)
        .await?)
}

/// The longest list of ids (groups, roles, permissions) a request may carry.
pub const MAX_IDS: usize = 1000;

/// The field message for a list longer than `MAX_IDS`.
pub fn too_many_ids_message() -> String {
    format!("Ensure this field has no more than {MAX_IDS} elements.")
}

/// Whether `user` is a full admin: an active superuser, or an active member
/// of a group named in `accounts.admin_roles` (directly or through profile
/// roles). Holding a single Django permission does not make one.
pub async fn is_full_admin(
    store: &Store,
    settings: &AccountsSettings,
    user: &User,
) -> Result<bool, Error> {
    if !user.is_active {
        return Ok(false);
    }
    if user.is_superuser {
        return Ok(true);
    }
    Ok(store
        .user_in_any_group(user.id, &settings.admin_roles)
        .await?)
}

/// Which of `group_ids` the caller may not grant (or take away): nobody
/// grants more than they hold. A full admin may grant any group; anyone
/// else only a group whose name is not in `accounts.admin_roles` and all of
/// whose permissions the caller holds (directly or through their groups).
/// Ids naming no group are not reported here (they are a field error
/// elsewhere). The offending ids come back in the order given, once each.
pub async fn can_grant_groups(
    store: &Store,
    settings: &AccountsSettings,
    caller: &User,
    group_ids: &[i32],
) -> Result<Vec<i32>, Error> {
    if group_ids.is_empty() || is_full_admin(store, settings, caller).await? {
        return Ok(Vec::new());
    }
    let groups = store.group_grants(group_ids).await?;
    let held: HashSet<i32> = match caller.is_active {
        true => store
            .user_permission_ids(caller.id)
            .await?
            .into_iter()
            .collect(),
        false => HashSet::new(),
    };
    let refused: HashSet<i32> = groups
        .iter()
        .filter(|g| {
            settings.admin_roles.contains(&g.name)
                || g.permissions.iter().any(|p| !held.contains(p))
        })
        .map(|g| g.id)
        .collect();
    Ok(in_order(group_ids, &refused))
}

/// Which of `permission_ids` the caller may not grant to a group: a full
/// admin may grant any, anyone else only permissions they hold.
pub async fn can_grant_permissions(
    store: &Store,
    settings: &AccountsSettings,
    caller: &User,
    permission_ids: &[i32],
) -> Result<Vec<i32>, Error> {
    if permission_ids.is_empty() || is_full_admin(store, settings, caller).await? {
        return Ok(Vec::new());
    }
    let held: HashSet<i32> = match caller.is_active {
        true => store
            .user_permission_ids(caller.id)
            .await?
            .into_iter()
            .collect(),
        false => HashSet::new(),
    };
    let refused: HashSet<i32> = permission_ids
        .iter()
        .copied()
        .filter(|p| !held.contains(p))
        .collect();
    Ok(in_order(permission_ids, &refused))
}

/// The ids of `ids` that are in `set`, in order, each once.
fn in_order(ids: &[i32], set: &HashSet<i32>) -> Vec<i32> {
    let mut seen = HashSet::new();
    ids.iter()
        .copied()
        .filter(|id| set.contains(id) && seen.insert(*id))
        .collect()
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

/// Whether `caller` may change the account of `target` at all: a superuser
/// account only by a superuser, a staff member's or a full admin's only by
/// a full admin (so a permission holder cannot, say, move an admin's e-mail
/// address to their own and reset the password).
pub async fn may_manage_user(
    store: &Store,
    settings: &AccountsSettings,
    caller: &User,
    target: &User,
) -> Result<bool, Error> {
    if caller.id == target.id || (caller.is_active && caller.is_superuser) {
        return Ok(true);
    }
    if target.is_superuser {
        return Ok(false);
    }
    if is_full_admin(store, settings, caller).await? {
        return Ok(true);
    }
    Ok(!target.is_staff && !is_full_admin(store, settings, target).await?)
}
