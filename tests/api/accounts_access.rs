//! The Accounts API's access table, walked row by row: every `ACCESS`
//! entry is called by every kind of caller SPEC §3 names, and each answer
//! must match the entry's rule. Anonymous callers get 401 wherever a
//! credential is needed, plain users 403 on admin actions, and admins of
//! every kind (the permission held directly or through a group, an admin
//! role held directly or through profile roles, a superuser) reach the
//! handler, whose own answer (200, 400, 404, …) is not judged here beyond
//! "no refusal and no server error". The table and the routes must also
//! agree: every row is routed and guarded, every documented route has a row,
//! and an unknown route has no rule (so `enforce` refuses it).

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use doorman::{domain::access::Rule, http::ACCESS, http::rule_for};
use serde_json::json;

use crate::{
    on_both_backends,
    support::{
        TestApp, TestResponse,
        accounts::make_user,
        grants::{give_profile_role, grant_group, grant_user, join_group, make_group},
    },
};

on_both_backends!(
    every_rule_holds_for_every_kind_of_caller,
    every_access_row_is_routed_and_guarded,
    every_documented_accounts_route_has_an_access_row,
);

#[test]
fn routes_missing_from_the_table_have_no_rule() {
    assert_eq!(rule_for(&Method::GET, "/api/auth/made-up/"), None);
    assert_eq!(rule_for(&Method::DELETE, "/api/auth/roles/"), None);
    assert_eq!(
        rule_for(&Method::GET, "/api/auth/roles"),
        None,
        "templates match exactly"
    );
    assert_eq!(
        rule_for(&Method::HEAD, "/api/auth/roles/"),
        Some(Rule::Authenticated)
    );
    let mut seen = std::collections::HashSet::new();
    for (method, path, _) in ACCESS {
        assert!(
            seen.insert((method, path)),
            "{method} {path} is listed twice"
        );
        assert!(
            path.starts_with("/api/auth/") && path.ends_with('/'),
            "{path}"
        );
    }
}

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Plain,
    /// The plain user, on a path whose `{user_id}` is their own.
    Themself,
    PermissionDirect,
    PermissionViaGroup,
    AdminRoleDirect,
    AdminRoleViaProfile,
    Superuser,
    InactiveSuperuser,
}

/// The users of the matrix, made once per database.
struct Cast {
    plain: i64,
    admin_direct: i64,
    admin_profile: i64,
    superuser: i64,
    inactive_superuser: i64,
}

impl Cast {
    async fn new(app: &TestApp) -> Cast {
        let admin = make_group(app, "admin").await;
        let cast = Cast {
            plain: make_user(app, "plain", false).await,
            admin_direct: make_user(app, "admin_direct", false).await,
            admin_profile: make_user(app, "admin_profile", false).await,
            superuser: make_user(app, "root", true).await,
            inactive_superuser: make_user(app, "gone_root", true).await,
        };
        join_group(app, cast.admin_direct, admin).await;
        give_profile_role(app, cast.admin_profile, admin).await;
        app.db
            .execute(&format!(
                "UPDATE auth_user SET is_active = false WHERE id = {}",
                cast.inactive_superuser
            ))
            .await;
        cast
    }
}

/// A user holding exactly `permission`, directly or through a group of its own.
async fn permission_holder(app: &TestApp, permission: &str, via_group: bool) -> i64 {
    let tag = permission.replace('.', "_");
    if via_group {
        let user = make_user(app, &format!("g_{tag}"), false).await;
        let group = make_group(app, &format!("holds_{tag}")).await;
        grant_group(app, group, permission).await;
        join_group(app, user, group).await;
        user
    } else {
        let user = make_user(app, &format!("d_{tag}"), false).await;
        grant_user(app, user, permission).await;
        user
    }
}

/// A fresh API key for the user (a fresh one per request, so an endpoint
/// that revokes the caller's credentials cannot disturb the next row).
async fn auth_for(app: &TestApp, user: i64) -> String {
    let user = app
        .state
        .store
        .find_user_by_id(i32::try_from(user).unwrap())
        .await
        .unwrap()
        .unwrap();
    let key = app
        .state
        .sessions
        .create_token(
            &user,
            "matrix",
            &doorman::domain::sessions::SignIn::new(0, &["pwd"]),
        )
        .await
        .unwrap();
    format!("Token {key}")
}

/// The concrete path for a row: `{user_id}` is `user_id`, ids of roles are
/// a real role, other ids a real user (fresh ones for deletions, so every
/// deletion has something to delete).
async fn concrete_path(
    app: &TestApp,
    method: &str,
    template: &str,
    user_id: i64,
    n: usize,
) -> String {
    let role_path = template.contains("/roles/") || template.contains("/permissions/");
    let deleting = method == "DELETE";
    let other = match (role_path, deleting) {
        (true, true) => make_group(app, &format!("doomed_{n}")).await,
        (true, false) => make_group(app, &format!("role_{n}")).await,
        (false, true) => make_user(app, &format!("doomed_{n}"), false).await,
        (false, false) => make_user(app, &format!("target_{n}"), false).await,
    };
    template
        .replace("{user_id}", &user_id.to_string())
        .replace("{group_id}", &other.to_string())
        .replace("{id}", &other.to_string())
}

async fn request(app: &TestApp, method: &str, path: &str, auth: Option<&str>) -> TestResponse {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut builder = Request::builder().method(method.clone()).uri(path);
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    let body = match method {
        Method::GET | Method::DELETE | Method::HEAD => Body::empty(),
        _ => {
            builder = builder.header("content-type", "application/json");
            Body::from(json!({}).to_string())
        }
    };
    app.send(builder.body(body).unwrap()).await
}

/// What the rule lets this caller expect: `Some(status)` for a refusal,
/// `None` when the handler must answer.
fn expected_refusal(rule: Rule, caller: Caller) -> Option<StatusCode> {
    use Caller::*;
    match (rule, caller) {
        (_, InactiveSuperuser) => Some(StatusCode::UNAUTHORIZED),
        (Rule::Anyone, _) => None,
        (_, Anonymous) => Some(StatusCode::UNAUTHORIZED),
        (Rule::Authenticated, _) => None,
        (Rule::AdminOrSelf(_), Themself) => None,
        (Rule::Admin(_) | Rule::AdminOrSelf(_), Plain | Themself) => Some(StatusCode::FORBIDDEN),
        (Rule::FullAdmin, AdminRoleDirect | AdminRoleViaProfile | Superuser) => None,
        (Rule::FullAdmin, _) => Some(StatusCode::FORBIDDEN),
        (Rule::Admin(_) | Rule::AdminOrSelf(_), _) => None,
    }
}

async fn every_rule_holds_for_every_kind_of_caller(app: TestApp) {
    let cast = Cast::new(&app).await;
    let mut failures = Vec::new();
    let mut holders = std::collections::HashMap::new();
    let mut n = 0;
    for (method, template, rule) in ACCESS {
        let mut callers = vec![
            (Caller::Anonymous, None),
            (Caller::Plain, Some(cast.plain)),
            (Caller::AdminRoleDirect, Some(cast.admin_direct)),
            (Caller::AdminRoleViaProfile, Some(cast.admin_profile)),
            (Caller::Superuser, Some(cast.superuser)),
            (Caller::InactiveSuperuser, Some(cast.inactive_superuser)),
        ];
        if template.contains("{user_id}") {
            callers.push((Caller::Themself, Some(cast.plain)));
        }
        // A full-admin rule is tried by holders of a permission too (one
        // that admin pages need), who must be refused.
        let permission = match rule {
            Rule::Admin(p) | Rule::AdminOrSelf(p) => Some(*p),
            Rule::FullAdmin => Some("auth.view_user"),
            _ => None,
        };
        if let Some(p) = permission {
            if !holders.contains_key(p) {
                let direct = permission_holder(&app, p, false).await;
                let via_group = permission_holder(&app, p, true).await;
                holders.insert(p, (direct, via_group));
            }
            let (direct, via_group) = holders[p];
            callers.push((Caller::PermissionDirect, Some(direct)));
            callers.push((Caller::PermissionViaGroup, Some(via_group)));
        }
        for (caller, user) in callers {
            n += 1;
            // `{user_id}` names the caller only for `Themself`.
            let user_id = match caller {
                Caller::Themself => cast.plain,
                _ => make_user(&app, &format!("someone_{n}"), false).await,
            };
            let path = concrete_path(&app, method, template, user_id, n).await;
            let auth = match user {
                Some(u) => Some(auth_for(&app, u).await),
                None => None,
            };
            let r = request(&app, method, &path, auth.as_deref()).await;
            let verdict = match expected_refusal(*rule, caller) {
                Some(refusal) if r.status == refusal => Ok(()),
                Some(refusal) => Err(format!("expected {refusal}")),
                None if r.status == StatusCode::UNAUTHORIZED
                    || r.status == StatusCode::FORBIDDEN =>
                {
                    Err("refused".to_string())
                }
                None if r.status.is_server_error() => Err("server error".to_string()),
                None => Ok(()),
            };
            if let Err(why) = verdict {
                let body = String::from_utf8_lossy(&r.body);
                failures.push(format!(
                    "{method} {template} as {caller:?} ({rule:?}): {why}, got {} {body}",
                    r.status
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the matrix's answers break their rule:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// With a bad credential every guarded route answers 401 before its
/// handler runs; a route that does not exist answers 404 instead.
async fn every_access_row_is_routed_and_guarded(app: TestApp) {
    let mut missing = Vec::new();
    for (n, (method, template, _)) in ACCESS.iter().enumerate() {
        let path = concrete_path(&app, method, template, 1, n).await;
        let r = request(
            &app,
            method,
            &path,
            Some("Token 0000000000000000000000000000000000000000"),
        )
        .await;
        if r.status != StatusCode::UNAUTHORIZED {
            missing.push(format!("{method} {template}: {}", r.status));
        }
    }
    // The probe tells a missing route apart: no route, no guard, 404.
    let r = request(
        &app,
        "GET",
        "/api/auth/made-up/",
        Some("Token 0000000000000000000000000000000000000000"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        missing.is_empty(),
        "rows whose route is missing or unguarded:\n{}",
        missing.join("\n")
    );
}

/// Every `/api/auth/` operation in the OpenAPI document (generated from the
/// routes) has a row in `ACCESS`.
async fn every_documented_accounts_route_has_an_access_row(app: TestApp) {
    let r = app.get("/api/schema/").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    let paths = doc["paths"].as_object().unwrap();
    let mut unlisted = Vec::new();
    for (path, operations) in paths.iter().filter(|(p, _)| p.starts_with("/api/auth/")) {
        for method in operations.as_object().unwrap().keys() {
            const VERBS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];
            if !VERBS.contains(&method.as_str()) {
                continue;
            }
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            if rule_for(&m, path).is_none() {
                unlisted.push(format!("{m} {path}"));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "routes without an ACCESS row: {unlisted:?}"
    );
}
