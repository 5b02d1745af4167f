//! Roles: `auth_group` rows and their grants in `auth_group_permissions`,
//! plus reading `auth_permission` with its content type's app label.
//! Django's foreign keys have no `ON DELETE` action, so deleting a group
//! removes its grants and memberships first (`doorman_profile_roles`
//! cascades in the database).

use std::collections::BTreeMap;

use super::{Store, StoreError, Tx, map_unique, on_pool, on_tx};
use crate::model::{Permission, Role};

const GROUP_BY_ID: &str = "SELECT id, name FROM auth_group WHERE id = $1";
const GRANTS_OF_GROUP: &str =
    "SELECT permission_id FROM auth_group_permissions WHERE group_id = $1 ORDER BY permission_id";

/// Ids bound per statement when checking a requested list.
const ID_CHUNK: usize = 500;

#[derive(sqlx::FromRow)]
struct PermissionRow {
    id: i32,
    name: String,
    codename: String,
    app_label: String,
}

/// `$first, $first+1, …` for `count` bound values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn role(group: Option<(i32, String)>, grants: Vec<(i32,)>) -> Option<Role> {
    group.map(|(id, name)| Role {
        id,
        name,
        permissions: grants.into_iter().map(|(p,)| p).collect(),
    })
}

impl Store {
    /// Every group with its permission ids: two queries whatever the count.
    pub async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let groups: Vec<(i32, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, name FROM auth_group ORDER BY id",
        )
        .fetch_all(pool)
        .await)?;
        let grants: Vec<(i32, i32)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT group_id, permission_id FROM auth_group_permissions \
             ORDER BY group_id, permission_id",
        )
        .fetch_all(pool)
        .await)?;
        let mut by_group: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for (group, permission) in grants {
            by_group.entry(group).or_default().push(permission);
        }
        Ok(groups
            .into_iter()
            .map(|(id, name)| Role {
                id,
                name,
                permissions: by_group.remove(&id).unwrap_or_default(),
            })
            .collect())
    }

    pub async fn find_role(&self, id: i32) -> Result<Option<Role>, StoreError> {
        let group: Option<(i32, String)> = on_pool!(self, pool => sqlx::query_as(GROUP_BY_ID).bind(id).fetch_optional(pool).await)?;
        if group.is_none() {
            return Ok(None);
        }
        let grants: Vec<(i32,)> =
            on_pool!(self, pool => sqlx::query_as(GRANTS_OF_GROUP).bind(id).fetch_all(pool).await)?;
        Ok(role(group, grants))
    }

    /// The id of the group with exactly this name (Django's `exact`
    /// lookup: case-sensitive on both backends).
    pub async fn role_named(&self, name: &str) -> Result<Option<i32>, StoreError> {
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM auth_group WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(id,)| id))
    }

    /// Every permission with its app label, in no particular order.
    pub async fn list_permissions(&self) -> Result<Vec<Permission>, StoreError> {
        let rows: Vec<PermissionRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT p.id, p.name, p.codename, ct.app_label FROM auth_permission p \
             JOIN django_content_type ct ON ct.id = p.content_type_id",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| Permission {
                id: r.id,
                name: r.name,
                codename: r.codename,
                app_label: r.app_label,
            })
            .collect())
    }
}

impl Tx {
    /// Inserts a group; a taken name is `StoreError::Conflict`.
    pub async fn insert_role(&mut self, name: &str) -> Result<i32, StoreError> {
        let (id,): (i32,) = on_tx!(self, conn => sqlx::query_as(
            "INSERT INTO auth_group (name) VALUES ($1) RETURNING id",
        )
        .bind(name)
        .fetch_one(conn)
        .await)
        .map_err(|e| map_unique(e, &["name"]))?;
        Ok(id)
    }

    /// Renames a group; false if there is none with this id.
    pub async fn rename_role(&mut self, id: i32, name: &str) -> Result<bool, StoreError> {
        let changed =
            on_tx!(self, conn => sqlx::query("UPDATE auth_group SET name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
            .map_err(|e| map_unique(e, &["name"]))?;
        Ok(changed > 0)
    }

    /// Deletes a group with its grants, user memberships and the seed
    /// accounts app's profile roles (`Referenced` if another app's table
    /// still points at it); false if there is none with this id.
    pub async fn delete_role(&mut self, id: i32) -> Result<bool, StoreError> {
        let mut rules = super::GROUP_RULES.to_vec();
        rules.extend(self.tables.group_rules());
        self.release_references("auth_group", "id", id, &rules)
            .await?;
        let deleted = on_tx!(self, conn => sqlx::query("DELETE FROM auth_group WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(super::foreign_key_error)?;
        Ok(deleted > 0)
    }

    /// Whether the group exists, locking its row (PostgreSQL) so it cannot
    /// be deleted before the transaction ends; SQLite's write transaction
    /// already excludes other writers.
    pub async fn lock_role(&mut self, id: i32) -> Result<bool, StoreError> {
        let touched = on_tx!(self, conn => sqlx::query("UPDATE auth_group SET name = name WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(touched > 0)
    }

    /// Which of these ids name a permission.
    pub async fn existing_permissions(&mut self, ids: &[i32]) -> Result<Vec<i32>, StoreError> {
        let mut found = Vec::new();
        // The list comes from a request: chunks keep each statement far
        // below either backend's limit on bound parameters.
        for chunk in ids.chunks(ID_CHUNK) {
            let sql = format!(
                "SELECT id FROM auth_permission WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let rows: Vec<(i32,)> = on_tx!(self, conn => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(conn).await
            })?;
            found.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(found)
    }

    /// Makes `ids` the group's exact set of permissions. Grants it keeps
    /// keep their rows, as Django's `permissions.set()` does.
    pub async fn replace_role_permissions(
        &mut self,
        group_id: i32,
        ids: &[i32],
    ) -> Result<(), StoreError> {
        let keep = match ids.is_empty() {
            true => String::new(),
            false => format!(" AND permission_id NOT IN ({})", placeholders(2, ids.len())),
        };
        let remove = format!("DELETE FROM auth_group_permissions WHERE group_id = $1{keep}");
        on_tx!(self, conn => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(remove.clone())).bind(group_id);
            for id in ids {
                query = query.bind(*id);
            }
            query.execute(conn).await.map(|r| r.rows_affected())
        })?;
        if ids.is_empty() {
            return Ok(());
        }
        let rows: Vec<String> = (2..ids.len() + 2).map(|n| format!("($1, ${n})")).collect();
        let add = format!(
            "INSERT INTO auth_group_permissions (group_id, permission_id) VALUES {} \
             ON CONFLICT (group_id, permission_id) DO NOTHING",
            rows.join(", ")
        );
        on_tx!(self, conn => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(add.clone())).bind(group_id);
            for id in ids {
                query = query.bind(*id);
            }
            query.execute(conn).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The group and its permissions as this transaction sees them.
    pub async fn role(&mut self, id: i32) -> Result<Option<Role>, StoreError> {
        let group: Option<(i32, String)> =
            on_tx!(self, conn => sqlx::query_as(GROUP_BY_ID).bind(id).fetch_optional(conn).await)?;
        if group.is_none() {
            return Ok(None);
        }
        let grants: Vec<(i32,)> =
            on_tx!(self, conn => sqlx::query_as(GRANTS_OF_GROUP).bind(id).fetch_all(conn).await)?;
        Ok(role(group, grants))
    }
}
