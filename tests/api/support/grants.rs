//! Groups and permission grants written straight into Django's tables, as
//! an operator or the Django admin would: a group, a permission given to a
//! user or a group, a membership, a profile role.

use super::TestApp;

/// The id of permission `app_label.codename` (`TestApp::permission_id`).
pub async fn permission_id(app: &TestApp, permission: &str) -> i64 {
    app.permission_id(permission).await
}

/// Inserts a group; its id.
pub async fn make_group(app: &TestApp, name: &str) -> i64 {
    app.db
        .execute(&format!("INSERT INTO auth_group (name) VALUES ('{name}')"))
        .await;
    app.db
        .scalar(&format!(
            "SELECT CAST(id AS BIGINT) FROM auth_group WHERE name = '{name}'"
        ))
        .await
}

pub async fn grant_user(app: &TestApp, user: i64, permission: &str) {
    let p = permission_id(app, permission).await;
    app.db
        .execute(&format!(
            "INSERT INTO auth_user_user_permissions (user_id, permission_id) VALUES ({user}, {p})"
        ))
        .await;
}

pub async fn grant_group(app: &TestApp, group: i64, permission: &str) {
    let p = permission_id(app, permission).await;
    app.db
        .execute(&format!(
            "INSERT INTO auth_group_permissions (group_id, permission_id) VALUES ({group}, {p})"
        ))
        .await;
}

pub async fn join_group(app: &TestApp, user: i64, group: i64) {
    app.db
        .execute(&format!(
            "INSERT INTO auth_user_groups (user_id, group_id) VALUES ({user}, {group})"
        ))
        .await;
}

/// Gives the user a profile (if missing) holding `group` as a profile role.
pub async fn give_profile_role(app: &TestApp, user: i64, group: i64) {
    let has_profile = app
        .db
        .scalar(&format!(
            "SELECT count(*) FROM doorman_profile WHERE user_id = {user}"
        ))
        .await;
    if has_profile == 0 {
        app.db
            .execute(&format!(
                "INSERT INTO doorman_profile (user_id, created_at, updated_at) \
                 VALUES ({user}, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ))
            .await;
    }
    app.db
        .execute(&format!(
            "INSERT INTO doorman_profile_roles (profile_id, group_id) \
             SELECT id, {group} FROM doorman_profile WHERE user_id = {user}"
        ))
        .await;
}
