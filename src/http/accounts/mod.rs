//! The Accounts API, mounted at `/api/auth/` (SPEC §3): sign-in with
//! sessions, profiles with pictures, provinces, admin user management,
//! roles and permissions, password reset by mail.
//!
//! Access control has one home: `ACCESS` below names the rule of every
//! endpoint, and `enforce` applies it before any handler runs (an endpoint
//! missing from the table is refused, so forgetting an entry fails closed).
//! Handlers only read the caller the check has put in the request.

mod admin_users;
mod audit;
mod lockouts;
mod pagination;
mod profile;
mod provinces;
mod reset;
mod roles;
mod session;
mod user_profile;

use axum::{
    extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State},
    http::{HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

pub use pagination::{Page, paginate};
pub(crate) use session::{LoginResponse, issue as issue_session, rfc3339};

use super::{
    AppState,
    auth::{MaybeCaller, NOT_AUTHENTICATED, unauthorized},
    error::ApiError,
};
use crate::domain::access::{Principal, Rule};

/// Every endpoint of the Accounts API and what it requires of its caller.
pub const ACCESS: &[(&str, &str, Rule)] = &[
    ("POST", "/api/auth/register/", Rule::Anyone),
    ("POST", "/api/auth/login/", Rule::Anyone),
    ("POST", "/api/auth/token/refresh/", Rule::Anyone),
    ("POST", "/api/auth/logout/", Rule::Authenticated),
    ("GET", "/api/auth/sessions/", Rule::Authenticated),
    ("DELETE", "/api/auth/sessions/{id}/", Rule::Authenticated),
    ("POST", "/api/auth/forgot-password/", Rule::Anyone),
    ("POST", "/api/auth/reset-password-confirm/", Rule::Anyone),
    ("GET", "/api/auth/profile/", Rule::Authenticated),
    ("PUT", "/api/auth/profile/", Rule::Authenticated),
    ("PATCH", "/api/auth/profile/", Rule::Authenticated),
    (
        "GET",
        "/api/auth/user_profile/",
        Rule::Admin("accounts.view_profile"),
    ),
    (
        "GET",
        "/api/auth/user_profile/{user_id}/",
        Rule::AdminOrSelf("accounts.view_profile"),
    ),
    (
        "PUT",
        "/api/auth/user_profile/{user_id}/update/",
        Rule::Admin("accounts.change_profile"),
    ),
    (
        "PATCH",
        "/api/auth/user_profile/{user_id}/update/",
        Rule::Admin("accounts.change_profile"),
    ),
    ("GET", "/api/auth/users/", Rule::Admin("auth.view_user")),
    (
        "PUT",
        "/api/auth/users/{id}/update/",
        Rule::Admin("auth.change_user"),
    ),
    (
        "PATCH",
        "/api/auth/users/{id}/update/",
        Rule::Admin("auth.change_user"),
    ),
    (
        "DELETE",
        "/api/auth/users/{id}/delete/",
        Rule::Admin("auth.delete_user"),
    ),
    (
        "GET",
        "/api/auth/users/{id}/lockouts/",
        Rule::Admin("auth.view_user"),
    ),
    (
        "DELETE",
        "/api/auth/users/{id}/lockouts/",
        Rule::Admin("auth.change_user"),
    ),
    (
        "DELETE",
        "/api/auth/users/{id}/mfa/",
        Rule::Admin("auth.change_user"),
    ),
    ("GET", "/api/auth/audit/", Rule::FullAdmin),
    ("GET", "/api/auth/roles/", Rule::Authenticated),
    (
        "POST",
        "/api/auth/roles/create/",
        Rule::Admin("auth.add_group"),
    ),
    (
        "PUT",
        "/api/auth/roles/{id}/",
        Rule::Admin("auth.change_group"),
    ),
    (
        "PATCH",
        "/api/auth/roles/{id}/",
        Rule::Admin("auth.change_group"),
    ),
    (
        "DELETE",
        "/api/auth/roles/{id}/",
        Rule::Admin("auth.delete_group"),
    ),
    (
        "GET",
        "/api/auth/permissions/",
        Rule::Admin("auth.view_permission"),
    ),
    (
        "PUT",
        "/api/auth/permissions/{group_id}/update/",
        Rule::Admin("auth.change_group"),
    ),
    ("GET", "/api/auth/provinces/", Rule::Anyone),
    (
        "POST",
        "/api/auth/provinces/",
        Rule::Admin("accounts.add_province"),
    ),
];

/// The rule for a method on a route template, if the table has one.
pub fn rule_for(method: &Method, path: &str) -> Option<Rule> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    ACCESS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, rule)| *rule)
}

/// Every `/api/auth/` route, guarded by `enforce` (given the state; the
/// OpenAPI document is built without one).
pub fn routes(state: Option<AppState>) -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .merge(session::routes())
        .merge(reset::routes())
        .merge(profile::routes())
        .merge(user_profile::routes())
        .merge(provinces::routes())
        .merge(admin_users::routes())
        .merge(lockouts::routes())
        .merge(audit::routes())
        .merge(roles::routes());
    match state {
        Some(state) => router.route_layer(axum::middleware::from_fn_with_state(state, enforce)),
        None => router,
    }
}

/// The methods `ACCESS` lists for a route template, as an `Allow` value.
fn allowed_methods(path: &str) -> String {
    let mut methods: Vec<&str> = ACCESS
        .iter()
        .filter(|(_, p, _)| *p == path)
        .map(|(m, _, _)| *m)
        .collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.join(",")
}

/// Applies `ACCESS` to a matched request: authenticates (bad credentials
/// are refused even on open endpoints), then checks the rule. A method the
/// table does not list for the route is a 405 with the route's `Allow`,
/// whether or not a handler exists (so a forgotten row fails closed). For
/// admin rules the caller's `Principal` is built here, once, and left in
/// the request for the handler.
pub async fn enforce(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    params: RawPathParams,
    request: Request,
    next: Next,
) -> Response {
    let Some(path) = matched.map(|m| m.as_str().to_string()) else {
        return next.run(request).await;
    };
    let method = request.method().clone();
    let Some(rule) = rule_for(&method, &path) else {
        if method == Method::OPTIONS {
            return next.run(request).await;
        }
        let allow = allowed_methods(&path);
        let mut response = ApiError::detail(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method \"{method}\" not allowed."),
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return response;
    };
    let (mut parts, body) = request.into_parts();
    match authorize(&state, rule, &params, &mut parts).await {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(e) => e.into_response(),
    }
}

async fn authorize(
    state: &AppState,
    rule: Rule,
    params: &RawPathParams,
    parts: &mut Parts,
) -> Result<(), ApiError> {
    let MaybeCaller(caller) = MaybeCaller::from_request_parts(parts, state).await?;
    let (permission, caller) = match (rule, caller) {
        (Rule::Anyone, _) => return Ok(()),
        (_, None) => return Err(unauthorized(json!({ "detail": NOT_AUTHENTICATED }))),
        (Rule::Authenticated, Some(_)) => return Ok(()),
        (Rule::Admin(p) | Rule::AdminOrSelf(p), Some(caller)) => (Some(p), caller),
        (Rule::FullAdmin, Some(caller)) => (None, caller),
    };
    let is_self = matches!(rule, Rule::AdminOrSelf(_))
        && params
            .iter()
            .any(|(k, v)| k == "user_id" && v.parse::<i32>().ok() == Some(caller.user.id));
    let principal = Principal::load(&state.store, &state.settings.accounts, caller.user).await?;
    let allowed = match permission {
        Some(permission) => is_self || principal.may(permission),
        None => principal.is_full_admin(),
    };
    if !allowed {
        return Err(ApiError::forbidden());
    }
    parts.extensions.insert(principal);
    Ok(())
}
