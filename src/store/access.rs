//! What the Accounts API's access rules ask the database: group
//! membership (directly, or through profile roles) and Django permissions
//! (held directly, or through any group the user belongs to either way).

use super::{Store, StoreError, on_pool};

/// The groups a user belongs to directly or through profile roles.
const USER_GROUPS: &str = "SELECT group_id FROM auth_user_groups WHERE user_id = $1 \
     UNION SELECT r.group_id FROM doorman_profile_roles r \
     JOIN doorman_profile p ON p.id = r.profile_id WHERE p.user_id = $1";

impl Store {
    /// Whether the user is in a group with one of these names.
    pub async fn user_in_any_group(
        &self,
        user_id: i32,
        names: &[String],
    ) -> Result<bool, StoreError> {
        if names.is_empty() {
            return Ok(false);
        }
        let sql = format!("SELECT g.name FROM auth_group g WHERE g.id IN ({USER_GROUPS})");
        let rows: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(user_id)
            .fetch_all(pool)
            .await)?;
        Ok(rows.iter().any(|(n,)| names.contains(n)))
    }

    /// Whether the user holds `app_label.codename`, directly or via groups.
    pub async fn user_has_permission(
        &self,
        user_id: i32,
        app_label: &str,
        codename: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT 1 FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id \
             WHERE ct.app_label = $2 AND p.codename = $3 AND ( \
               p.id IN (SELECT permission_id FROM auth_user_user_permissions WHERE user_id = $1) \
               OR p.id IN (SELECT permission_id FROM auth_group_permissions WHERE group_id IN ({USER_GROUPS})))"
        );
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(user_id)
            .bind(app_label)
            .bind(codename)
            .fetch_optional(pool)
            .await)?;
        Ok(row.is_some())
    }
}
