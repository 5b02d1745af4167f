//! Roles and the permissions they carry. A role is a Django group
//! (`auth_group`) and a permission a Django permission (`auth_permission`),
//! so a database shared with the original Django app keeps working.
//!
//! Policy: role names follow Django's `Group.name` field (at most 150
//! characters, unique by exact comparison, DRF's trimming and messages);
//! replacing a role's permissions either applies the whole list in one
//! transaction or, when an id names no permission, changes nothing and names
//! every unknown id.

use super::{
    Error,
    access::{self, Principal},
    audit::{Audit, Event, Kind},
};
use crate::{
    config::AccountsSettings,
    store::{Store, StoreError},
};

/// Longest role name `auth_group.name` holds.
pub const NAME_MAX_CHARS: usize = 150;

pub mod messages {
    /// Django's unique message for `Group.name`, as DRF reports it.
    pub const NAME_TAKEN: &str = "group with this name already exists.";
    pub const BLANK: &str = "This field may not be blank.";
    pub const TOO_LONG: &str = "Ensure this field has no more than 150 characters.";
    pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";
}

pub use crate::model::{Permission, Role};

/// A valid role name: trimmed, not blank, at most 150 characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    /// Checks a name the way DRF's `CharField` for `Group.name` does; the
    /// error is the one message DRF would give.
    pub fn parse(raw: &str) -> Result<RoleName, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(messages::BLANK);
        }
        if name.contains('\0') {
            return Err(messages::NULL_CHARACTERS);
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(messages::TOO_LONG);
        }
        Ok(RoleName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Every role with its permissions, by id.
pub async fn list_roles(store: &Store) -> Result<Vec<Role>, Error> {
    Ok(store.list_roles().await?)
}

/// Every permission, ordered by app label then codename (byte order, so
/// both backends agree whatever PostgreSQL's collation).
pub async fn list_permissions(store: &Store) -> Result<Vec<Permission>, Error> {
    let mut permissions = store.list_permissions().await?;
    permissions.sort_by(|a, b| {
        (a.app_label.as_str(), a.codename.as_str(), a.id).cmp(&(
            b.app_label.as_str(),
            b.codename.as_str(),
            b.id,
        ))
    });
    Ok(permissions)
}

/// Role `id`, or `NotFound`.
pub async fn find_role(store: &Store, id: i32) -> Result<Role, Error> {
    store.find_role(id).await?.ok_or(Error::NotFound)
}

/// Creates a role with no permissions, as `caller` (an admin role only as
/// a full admin).
pub async fn create_role(
    store: &Store,
    audit: &Audit,
    settings: &AccountsSettings,
    caller: &Principal,
    name: &RoleName,
) -> Result<Role, Error> {
    access::may_create_role(settings, caller, name.as_str())?;
    if store.role_named(name.as_str()).await?.is_some() {
        return Err(name_taken());
    }
    let mut tx = store.begin().await?;
    let id = tx
        .insert_role(name.as_str())
        .await
        .map_err(conflict_as_name_taken)?;
    let event = Event::new(Kind::RoleCreated, None, name.as_str())
        .by(Some(caller.user.id))
        .detail(format!("role {id}"));
    audit.in_tx(&mut tx, event).await?;
    tx.commit().await?;
    Ok(Role {
        id,
        name: name.as_str().to_string(),
        permissions: Vec::new(),
    })
}

/// Renames role `id` as `caller` (`None` keeps the name, as a PATCH
/// without `name`); see `access::may_change_role`.
pub async fn rename_role(
    store: &Store,
    audit: &Audit,
    settings: &AccountsSettings,
    caller: &Principal,
    id: i32,
    name: Option<&RoleName>,
) -> Result<Role, Error> {
    let mut role = find_role(store, id).await?;
    let Some(name) = name.filter(|n| n.as_str() != role.name) else {
        return Ok(role);
    };
    access::may_change_role(settings, caller, id, &role.name, Some(name.as_str()))?;
    // Keeping one's own name is not a clash, as in Django's check.
    if store
        .role_named(name.as_str())
        .await?
        .is_some_and(|other| other != id)
    {
        return Err(name_taken());
    }
    let mut tx = store.begin().await?;
    let renamed = tx
        .rename_role(id, name.as_str())
        .await
        .map_err(conflict_as_name_taken)?;
    if !renamed {
        return Err(Error::NotFound);
    }
    let event = Event::new(Kind::RoleChanged, None, name.as_str())
        .by(Some(caller.user.id))
        .detail(format!("role {id} renamed from {}", role.name));
    audit.in_tx(&mut tx, event).await?;
    tx.commit().await?;
    role.name = name.as_str().to_string();
    Ok(role)
}

/// Deletes role `id` with its memberships and permission grants, as
/// `caller` (an admin role, or one the caller belongs to, only as a full
/// admin: deleting it changes its members).
pub async fn delete_role(
    store: &Store,
    audit: &Audit,
    settings: &AccountsSettings,
    caller: &Principal,
    id: i32,
) -> Result<(), Error> {
    let role = find_role(store, id).await?;
    access::may_change_role(settings, caller, id, &role.name, None)?;
    // Deleting takes every permission of the role from its members.
    access::check_permission_grants(caller, &role.permissions)?;
    access::may_change_members(settings, caller, &store.role_members(id).await?)?;
    let mut tx = store.begin().await?;
    if !tx.delete_role(id).await? {
        return Err(Error::NotFound);
    }
    let event = Event::new(Kind::RoleDeleted, None, &role.name)
        .by(Some(caller.user.id))
        .detail(format!("role {id}"));
    audit.in_tx(&mut tx, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces the permissions of role `id` with `ids` (duplicates allowed),
/// all in one transaction, as `caller`: a change needs
/// `access::may_change_role` and that the caller holds every permission
/// granted or taken away.
pub async fn set_role_permissions(
    store: &Store,
    audit: &Audit,
    settings: &AccountsSettings,
    caller: &Principal,
    id: i32,
    ids: &[i64],
) -> Result<Role, Error> {
    let mut seen = std::collections::HashSet::new();
    let wanted: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    // Ids outside the key's range cannot name a permission.
    let candidates: Vec<i32> = wanted
        .iter()
        .filter_map(|id| i32::try_from(*id).ok())
        .collect();
    let current = find_role(store, id).await?;
    let changed = access::changed(&current.permissions, &candidates);
    if !changed.is_empty() {
        access::may_change_role(settings, caller, id, &current.name, None)?;
        access::check_permission_grants(caller, &changed)?;
        access::may_change_members(settings, caller, &store.role_members(id).await?)?;
    }
    let mut tx = store.begin().await?;
    if !tx.lock_role(id).await? {
        return Err(Error::NotFound);
    }
    let existing = tx.existing_permissions(&candidates).await?;
    let existing: std::collections::HashSet<i32> = existing.into_iter().collect();
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|id| !i32::try_from(**id).is_ok_and(|id| existing.contains(&id)))
        .map(|id| format!("Invalid pk \"{id}\" - object does not exist."))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Validation(vec![("permissions".into(), unknown)]));
    }
    tx.replace_role_permissions(id, &candidates).await?;
    let role = tx.role(id).await?.ok_or(Error::NotFound)?;
    if !changed.is_empty() {
        let event = Event::new(Kind::RoleChanged, None, &role.name)
            .by(Some(caller.user.id))
            .detail(format!("role {id}: permissions now {:?}", role.permissions));
        audit.in_tx(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(role)
}

fn name_taken() -> Error {
    Error::field("name", messages::NAME_TAKEN)
}

/// A concurrent insert of the same name loses at the unique constraint.
fn conflict_as_name_taken(e: StoreError) -> Error {
    match e {
        StoreError::Conflict { .. } => name_taken(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked_like_drf() {
        assert_eq!(RoleName::parse("  editors ").unwrap().as_str(), "editors");
        assert_eq!(RoleName::parse(" \t ").unwrap_err(), messages::BLANK);
        assert_eq!(
            RoleName::parse("a\0b").unwrap_err(),
            messages::NULL_CHARACTERS
        );
        assert!(RoleName::parse(&"é".repeat(150)).is_ok());
        assert_eq!(
            RoleName::parse(&"é".repeat(151)).unwrap_err(),
            messages::TOO_LONG
        );
    }
}
