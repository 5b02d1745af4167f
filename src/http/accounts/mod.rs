//! The Accounts API, mounted at `/api/auth/` (SPEC §3): sign-in with
//! sessions, profiles with pictures, provinces, admin user management,
//! roles and permissions, password reset by mail.
//!
//! Access control has one home: `ACCESS` below names the rule of every
//! endpoint, and `enforce` applies it before any handler runs (an endpoint
//! missing from the table is refused, so forgetting an entry fails closed).
//! Handlers only read the caller the check has put in the request.

mod admin_users;
mod pagination;
mod profile;
mod provinces;
mod reset;
mod roles;
mod session;
mod user_profile;

use axum::{
    extract::{MatchedPath, RawPathParams, Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use utoipa_axum::router::OpenApiRouter;

pub use pagination::{Page, paginate};

use super::{
    AppState,
    auth::{MaybeCaller, NOT_AUTHENTICATED, unauthorized},
    error::ApiError,
};
use crate::domain::access::{Rule, is_admin};

pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

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
        .merge(roles::routes());
    match state {
        Some(state) => router.route_layer(axum::middleware::from_fn_with_state(state, enforce)),
        None => router,
    }
}

/// Applies `ACCESS` to a matched request: authenticates (bad credentials
/// are refused even on open endpoints), then checks the rule. The caller
/// is left in the request for the handler.
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
        tracing::error!(%method, path, "no access rule for this endpoint; refusing");
        return ApiError::detail(StatusCode::FORBIDDEN, PERMISSION_DENIED).into_response();
    };
    let (mut parts, body) = request.into_parts();
    let caller =
        match <MaybeCaller as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, &state,
        )
        .await
        {
            Ok(MaybeCaller(caller)) => caller,
            Err(e) => return e.into_response(),
        };
    let allowed = match (rule, &caller) {
        (Rule::Anyone, _) => Ok(()),
        (_, None) => Err(unauthorized(
            serde_json::json!({ "detail": NOT_AUTHENTICATED }),
        )),
        (Rule::Authenticated, Some(_)) => Ok(()),
        (Rule::Admin(permission) | Rule::AdminOrSelf(permission), Some(caller)) => {
            let is_self = matches!(rule, Rule::AdminOrSelf(_))
                && params
                    .iter()
                    .any(|(k, v)| k == "user_id" && v.parse::<i32>().ok() == Some(caller.user.id));
            match is_self {
                true => Ok(()),
                false => match is_admin(
                    &state.store,
                    &state.settings.accounts,
                    &caller.user,
                    permission,
                )
                .await
                {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(ApiError::detail(StatusCode::FORBIDDEN, PERMISSION_DENIED)),
                    Err(e) => Err(e.into()),
                },
            }
        }
    };
    if let Err(e) = allowed {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
