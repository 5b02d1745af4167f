//! Delegated administration, as one table: every admin write on both
//! surfaces × every kind of caller × every kind of target. The rule
//! (`domain::access`): nobody below a superuser touches a superuser;
//! nobody below a full admin touches a full admin or a staff member; a
//! permission holder manages only users whose permissions are a subset of
//! their own and changes the address of nobody who holds a permission;
//! Djoser's staff rule still lets staff manage ordinary users. Each case
//! checks the status and that the target's row changed exactly when the
//! answer was a success.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    on_both_backends,
    support::{
        TestApp,
        people::{PW, Person},
    },
};

on_both_backends!(
    every_admin_write_follows_one_rule,
    role_changes_respect_the_members_rank,
);

/// What the delegated admin holds: the Accounts API's user and profile
/// permissions.
const DELEGATED: &[&str] = &[
    "auth.view_user",
    "auth.change_user",
    "auth.delete_user",
    "accounts.change_profile",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    /// Everything the delegated admin holds, and one more.
    Richer,
    /// A subset of what the delegated admin holds.
    Poorer,
    Staff,
    FullAdmin,
    Superuser,
    /// A full admin whose account is inactive for now (say, a new address
    /// waiting for activation): still a full admin.
    InactiveFullAdmin,
    /// As `Richer`, inactive.
    InactiveRicher,
    /// The caller themself.
    Itself,
}

const CALLERS: &[Kind] = &[
    Kind::Plain,
    Kind::Poorer,
    Kind::Staff,
    Kind::FullAdmin,
    Kind::Superuser,
];
const TARGETS: &[Kind] = &[
    Kind::Plain,
    Kind::Richer,
    Kind::Poorer,
    Kind::Staff,
    Kind::FullAdmin,
    Kind::Superuser,
    Kind::InactiveFullAdmin,
    Kind::InactiveRicher,
    Kind::Itself,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    AccountsUpdateNames,
    AccountsUpdateEmail,
    AccountsDelete,
    AccountsProfile,
    DjoserUpdateEmail,
    DjoserDelete,
}

const ACTIONS: &[Action] = &[
    Action::AccountsUpdateNames,
    Action::AccountsUpdateEmail,
    Action::AccountsDelete,
    Action::AccountsProfile,
    Action::DjoserUpdateEmail,
    Action::DjoserDelete,
];

/// Builds a person of `kind`. The "Poorer" caller is the delegated admin;
/// as a target, a "Poorer" user holds one of the delegated admin's
/// permissions.
async fn person(app: &TestApp, name: &str, kind: Kind, as_caller: bool) -> Person {
    let b = app.user(name);
    let b = match (kind, as_caller) {
        (Kind::Plain, _) | (Kind::Itself, _) => b,
        (Kind::Poorer, true) => b.permissions(DELEGATED),
        (Kind::Poorer, false) => b.permissions(&["auth.view_user"]),
        (Kind::Richer, _) => b.permissions(DELEGATED).permissions(&["auth.add_group"]),
        (Kind::Staff, _) => b.staff(),
        (Kind::FullAdmin, _) => b.admin(),
        (Kind::Superuser, _) => b.superuser(),
        (Kind::InactiveFullAdmin, _) => b.admin().inactive(),
        (Kind::InactiveRicher, _) => b
            .permissions(DELEGATED)
            .permissions(&["auth.add_group"])
            .inactive(),
    };
    match as_caller {
        true => b.signed_in().await,
        false => b.create().await,
    }
}

/// The route's own permission check (the Accounts API) or Djoser's staff
/// rule, before any rule about the target.
fn reaches(caller: Kind, target: Kind, action: Action) -> bool {
    let djoser = matches!(action, Action::DjoserUpdateEmail | Action::DjoserDelete);
    match djoser {
        true => target == Kind::Itself || matches!(caller, Kind::Staff | Kind::Superuser),
        false => matches!(caller, Kind::Poorer | Kind::FullAdmin | Kind::Superuser),
    }
}

/// The rule under test, written out case by case.
fn allowed(caller: Kind, target: Kind, action: Action) -> bool {
    if !reaches(caller, target, action) {
        return false;
    }
    let credentials = matches!(
        action,
        Action::AccountsUpdateEmail | Action::DjoserUpdateEmail
    );
    let target = match target {
        Kind::InactiveFullAdmin => Kind::FullAdmin,
        Kind::InactiveRicher => Kind::Richer,
        other => other,
    };
    match (caller, target) {
        (_, Kind::Itself) => action != Action::AccountsDelete,
        (Kind::Superuser, _) => true,
        (_, Kind::Superuser) => false,
        (Kind::FullAdmin, _) => true,
        (_, Kind::Staff | Kind::FullAdmin) => false,
        // Subset: the delegated admin holds what Plain and Poorer hold.
        (Kind::Poorer, Kind::Plain) => true,
        (Kind::Poorer, Kind::Poorer) => !credentials,
        (Kind::Poorer, Kind::Richer) => false,
        // Staff hold nothing: only targets that hold nothing.
        (Kind::Staff, Kind::Plain) => true,
        (Kind::Staff, _) => false,
        _ => false,
    }
}

/// The request for `action` on user `id`; `case` keeps each new address
/// unique.
fn request(action: Action, id: i64, case: usize) -> (Method, String, Value) {
    let email = json!({"email": format!("moved{case}@example.com")});
    match action {
        Action::AccountsUpdateNames => (
            Method::PATCH,
            format!("/api/auth/users/{id}/update/"),
            json!({"first_name": "Changed"}),
        ),
        Action::AccountsUpdateEmail => (
            Method::PATCH,
            format!("/api/auth/users/{id}/update/"),
            email,
        ),
        Action::AccountsDelete => (
            Method::DELETE,
            format!("/api/auth/users/{id}/delete/"),
            json!({}),
        ),
        Action::AccountsProfile => (
            Method::PATCH,
            format!("/api/auth/user_profile/{id}/update/"),
            json!({"bio": "changed"}),
        ),
        Action::DjoserUpdateEmail => (Method::PATCH, format!("/auth/users/{id}/"), email),
        Action::DjoserDelete => (
            Method::DELETE,
            format!("/auth/users/{id}/"),
            json!({"current_password": PW}),
        ),
    }
}

/// A fingerprint of the target's row: changes exactly when a write landed.
async fn row(app: &TestApp, id: i64) -> String {
    app.db
        .text(&format!(
            "SELECT COALESCE((SELECT username || '|' || email || '|' || first_name || '|' || \
             COALESCE((SELECT bio FROM doorman_profile WHERE user_id = {id}), '') \
             FROM auth_user WHERE id = {id}), 'gone')"
        ))
        .await
}

async fn every_admin_write_follows_one_rule(app: TestApp) {
    // Rank and activity are written straight into the tables; the app must
    // see them at once.
    let app = crate::support::apps::app_with(app, |s| s.database.user_cache_ttl_ms = 0).await;
    let mut n = 0;
    let mut failures = Vec::new();
    for &caller_kind in CALLERS {
        let steady = person(&app, &format!("{caller_kind:?}"), caller_kind, true).await;
        for &target_kind in TARGETS {
            for &action in ACTIONS {
                n += 1;
                // Only deleting oneself through Djoser uses the caller up.
                let caller = match (target_kind, action) {
                    (Kind::Itself, Action::DjoserDelete) => {
                        person(&app, &format!("c{n}"), caller_kind, true).await
                    }
                    _ => steady.clone(),
                };
                let target = match target_kind {
                    Kind::Itself => caller.clone(),
                    kind => person(&app, &format!("t{n}"), kind, false).await,
                };
                let before = row(&app, target.id).await;
                let (method, path, body) = request(action, target.id, n);
                let r = app
                    .request(method, &path, Some(caller.auth()), Some(body))
                    .await;
                let after = row(&app, target.id).await;
                let expected = allowed(caller_kind, target_kind, action);
                let succeeded = r.status.is_success();
                let changed = before != after;
                if succeeded != expected || changed != expected {
                    failures.push(format!(
                        "{caller_kind:?} -> {target_kind:?} {action:?}: {} {} (changed: {changed}, \
                         expected allowed: {expected})",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    ));
                }
                if !succeeded {
                    assert!(
                        matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                        "{caller_kind:?} -> {target_kind:?} {action:?}: refused with {}",
                        r.status
                    );
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Grants `permission` to group `group`.
async fn grant_group(app: &TestApp, group: i64, permission: &str) {
    let p = app.permission_id(permission).await;
    app.db
        .execute(&format!(
            "INSERT INTO auth_group_permissions (group_id, permission_id) VALUES ({group}, {p})"
        ))
        .await;
}

async fn role_exists(app: &TestApp, id: i64) -> bool {
    app.db
        .scalar(&format!("SELECT count(*) FROM auth_group WHERE id = {id}"))
        .await
        == 1
}

/// Deleting or re-permissioning a role changes what its members hold, so
/// the rank rules apply to every member: a holder of the role permissions
/// cannot strip a staff member, nor anyone holding more than they do, nor
/// take away permissions they do not hold themself.
async fn role_changes_respect_the_members_rank(app: TestApp) {
    let app = crate::support::apps::app_with(app, |s| s.database.user_cache_ttl_ms = 0).await;
    let caller = app
        .user("rolekeeper")
        .permissions(&["auth.view_user", "auth.change_group", "auth.delete_group"])
        .signed_in()
        .await;
    let mut roles = Vec::new();
    for (name, permission, member) in [
        ("ops", "auth.view_user", app.user("staffer").staff()),
        ("editors", "auth.add_group", app.user("editor")),
        (
            "team",
            "auth.view_user",
            app.user("richer").permissions(&["auth.add_group"]),
        ),
        (
            "inactive-ops",
            "auth.view_user",
            app.user("resting").staff().inactive(),
        ),
        ("plain", "auth.view_user", app.user("plainmember")),
    ] {
        let member = member.role(name).create().await;
        let id = app.group(name).await;
        grant_group(&app, id, permission).await;
        roles.push((name, id, member));
    }
    for (name, id, _) in &roles {
        let allowed = *name == "plain";
        let r = app
            .request(
                Method::PUT,
                &format!("/api/auth/permissions/{id}/update/"),
                Some(caller.auth()),
                Some(json!({"permissions": []})),
            )
            .await;
        let expected = match allowed {
            true => StatusCode::OK,
            false => StatusCode::FORBIDDEN,
        };
        assert_eq!(r.status, expected, "re-permission {name}: {:?}", r);
        if allowed {
            // Put the permission back for the delete below.
            grant_group(&app, *id, "auth.view_user").await;
        }
        let r = app
            .request(
                Method::DELETE,
                &format!("/api/auth/roles/{id}/"),
                Some(caller.auth()),
                None,
            )
            .await;
        let expected = match allowed {
            true => StatusCode::NO_CONTENT,
            false => StatusCode::FORBIDDEN,
        };
        assert_eq!(r.status, expected, "delete {name}: {:?}", r);
        assert_eq!(role_exists(&app, *id).await, !allowed, "{name}");
    }
}
