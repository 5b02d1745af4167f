//! Who may call what in the Accounts API. "Admin" (SPEC §3) is: a
//! superuser, a member of a group named in `accounts.admin_roles` (directly
//! or through profile roles), or the holder of the Django permission that
//! fits the action. The table of which endpoint needs which rule lives
//! beside the routes (`http/accounts/mod.rs`); this module answers the
//! questions the rules ask.

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
