//! What the access rules ask the database: group membership (directly, or
//! through profile roles) and Django permissions (held directly, or through
//! any group the user belongs to either way), read once per principal.

use super::{Store, StoreError, on_pool};

/// The groups a user belongs to directly or through profile roles.
const USER_GROUPS: &str = "SELECT group_id FROM auth_user_groups WHERE user_id = $1 \
     UNION SELECT r.group_id FROM @profile_roles@ r \
     JOIN @profile@ p ON p.id = r.@roles_profile@ WHERE p.user_id = $1";

impl Store {
    /// The groups the user belongs to (directly or through profile roles),
    /// with their names.
    pub async fn user_group_names(&self, user_id: i32) -> Result<Vec<(i32, String)>, StoreError> {
        let sql = self.profile_tables.sql(&format!(
            "SELECT g.id, g.name FROM auth_group g WHERE g.id IN ({USER_GROUPS})"
        ));
        Ok(
            on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(user_id)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Every permission the user holds, directly or through a group
    /// (joined either way), as `(id, "app_label.codename")`.
    pub async fn user_permissions(&self, user_id: i32) -> Result<Vec<(i32, String)>, StoreError> {
        let sql = self.profile_tables.sql(&format!(
            "SELECT p.id, ct.app_label || '.' || p.codename FROM auth_permission p \
             JOIN django_content_type ct ON ct.id = p.content_type_id WHERE p.id IN ( \
               SELECT permission_id FROM auth_user_user_permissions WHERE user_id = $1 \
               UNION SELECT permission_id FROM auth_group_permissions WHERE group_id IN ({USER_GROUPS}))"
        ));
        Ok(
            on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(user_id)
            .fetch_all(pool)
            .await)?,
        )
    }
}

/// The users in group `$1`, directly or through profile roles.
const GROUP_MEMBERS: &str = "SELECT user_id FROM auth_user_groups WHERE group_id = $1 \
     UNION SELECT p.user_id FROM @profile_roles@ r \
     JOIN @profile@ p ON p.id = r.@roles_profile@ WHERE r.group_id = $1";

/// What a change to a role would touch, as the rank rules see it: its
/// members' flags, every group they are in and every permission they hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMembers {
    /// Some member is staff or a superuser.
    pub privileged: bool,
    /// The names of every group any member belongs to (either way).
    pub group_names: Vec<String>,
    /// Every permission any member holds (directly or through a group).
    pub permission_ids: Vec<i32>,
}

impl Store {
    /// The rank facts of group `group_id`'s members, in three queries
    /// whatever their number.
    pub async fn role_members(&self, group_id: i32) -> Result<RoleMembers, StoreError> {
        let flags = format!(
            "SELECT count(*) FROM auth_user WHERE (is_staff OR is_superuser) \
             AND id IN ({GROUP_MEMBERS})"
        );
        let member_groups = format!(
            "SELECT group_id FROM auth_user_groups WHERE user_id IN ({GROUP_MEMBERS}) \
             UNION SELECT r.group_id FROM @profile_roles@ r \
             JOIN @profile@ p ON p.id = r.@roles_profile@ WHERE p.user_id IN ({GROUP_MEMBERS})"
        );
        let names = format!("SELECT name FROM auth_group WHERE id IN ({member_groups})");
        let permissions = format!(
            "SELECT permission_id FROM auth_user_user_permissions WHERE user_id IN ({GROUP_MEMBERS}) \
             UNION SELECT permission_id FROM auth_group_permissions WHERE group_id IN ({member_groups})"
        );
        let tables = &self.profile_tables;
        let (flags, names, permissions) = (
            tables.sql(&flags),
            tables.sql(&names),
            tables.sql(&permissions),
        );
        let (privileged,): (i64,) = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(flags.clone()))
            .bind(group_id)
            .fetch_one(pool)
            .await)?;
        let group_names: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(names.clone()))
            .bind(group_id)
            .fetch_all(pool)
            .await)?;
        let permission_ids: Vec<(i32,)> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(permissions.clone()))
            .bind(group_id)
            .fetch_all(pool)
            .await)?;
        Ok(RoleMembers {
            privileged: privileged > 0,
            group_names: group_names.into_iter().map(|(n,)| n).collect(),
            permission_ids: permission_ids.into_iter().map(|(p,)| p).collect(),
        })
    }
}

/// Ids bound per statement when reading rows for a requested list.
const ID_CHUNK: usize = 500;

/// `$first, $first+1, …` for `count` bound values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A group as the grant check sees it: its name and permission ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupGrants {
    pub id: i32,
    pub name: String,
    pub permissions: Vec<i32>,
}

impl Store {
    /// The existing groups among `ids` with their names and permission ids
    /// (ids naming no group are left out). Any length: the ids are
    /// de-duplicated and read in chunks.
    pub async fn group_grants(&self, ids: &[i32]) -> Result<Vec<GroupGrants>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<i32> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        let mut out: Vec<GroupGrants> = Vec::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let list = placeholders(1, chunk.len());
            let groups_sql = format!("SELECT id, name FROM auth_group WHERE id IN ({list})");
            let grants_sql = format!(
                "SELECT group_id, permission_id FROM auth_group_permissions WHERE group_id IN ({list})"
            );
            let groups: Vec<(i32, String)> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(groups_sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await
            })?;
            let grants: Vec<(i32, i32)> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(grants_sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await
            })?;
            out.extend(groups.into_iter().map(|(id, name)| {
                GroupGrants {
                    id,
                    name,
                    permissions: grants
                        .iter()
                        .filter(|(g, _)| *g == id)
                        .map(|(_, p)| *p)
                        .collect(),
                }
            }));
        }
        Ok(out)
    }
}
