//! `users/`: the admin's user list (paginated, `?search=`), update and
//! delete. A page costs a fixed handful of queries whatever its size (the
//! users, then their groups, profiles and roles in batches). An admin may
//! not delete their own account here: that is refused with 403 (the
//! caller can use Djoser's `DELETE /auth/users/me/`, which asks for the
//! password).

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    Page, paginate,
    profile::{ProfileBody, profile_body, read_ids},
    user_profile::{settle, user_id},
};
use crate::{
    domain::{
        Error,
        access::{self, Principal},
        profiles::Profile,
        users::{EmailAddress, UserSummary, UserUpdate, Username},
    },
    http::{
        AppState,
        error::ApiError,
        host::BaseUrl,
        input::{Fields, Payload},
    },
};

pub const CANNOT_DELETE_SELF: &str =
    "You cannot delete your own account here; use DELETE /auth/users/me/.";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(update_user))
        .routes(routes!(delete_user))
}

/// A user as the admin endpoints show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserBody {
    pub id: i32,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    /// Group ids.
    pub groups: Vec<i32>,
    /// The profile, or null when the user has none yet.
    pub profile: Option<ProfileBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<AdminUserBody>,
}

/// An admin's change to a user; every field optional.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AdminUserRequest {
    #[schema(max_length = 150)]
    username: Option<String>,
    #[schema(max_length = 254)]
    email: Option<String>,
    #[schema(max_length = 150)]
    first_name: Option<String>,
    #[schema(max_length = 150)]
    last_name: Option<String>,
    /// At most 1,000 ids.
    #[schema(max_items = 1000)]
    groups: Option<Vec<i32>>,
}

fn user_body(u: UserSummary, profile: Option<Profile>, base: &str) -> AdminUserBody {
    AdminUserBody {
        id: u.id,
        username: u.username,
        email: u.email,
        first_name: u.first_name,
        last_name: u.last_name,
        is_active: u.is_active,
        groups: u.groups,
        profile: profile.map(|p| profile_body(p, base)),
    }
}

/// The `search` query parameter (the last one given), trimmed; `""` for none.
pub(super) fn search_term(uri: &Uri) -> String {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    pairs
        .into_iter()
        .rev()
        .find(|(k, _)| k == "search")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// Users, paginated by id; `search` matches username, e-mail and names.
#[utoipa::path(get, path = "/api/auth/users/", tag = "accounts",
    params(("page" = Option<u32>, Query), ("page_size" = Option<u32>, Query),
        ("search" = Option<String>, Query, description = "A part of the username, e-mail address, first or last name, ignoring case")),
    responses((status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "The Host header names a host not in server.allowed_hosts")))]
async fn list_users(
    State(state): State<AppState>,
    uri: Uri,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let s = &state.settings;
    let search = search_term(&uri);
    let page = Page::from_query(uri.query(), s)?;
    let count = state.store.count_users_matching(&search).await?;
    let page = settle(page, count);
    let results = state
        .users
        .page(&search, page.offset(), page.limit())
        .await?
        .into_iter()
        .map(|(u, p)| serde_json::to_value(user_body(u, p, &base)).unwrap_or_default())
        .collect();
    Ok(Json(paginate(&uri, &base, page, count, results)?).into_response())
}

/// Reads `username`, `email`, names and `groups`, with the syntax errors.
fn read_user_update(payload: &Payload) -> UserUpdate {
    let mut f = Fields::new(payload);
    let mut update = UserUpdate::default();
    if let Some(raw) = f.optional_string("username") {
        match Username::parse(&raw) {
            Ok(u) => update.changes.username = Some(u.as_str().to_string()),
            Err(messages) => messages.into_iter().for_each(|m| f.error("username", m)),
        }
    }
    match f.optional_email_text("email") {
        Some(raw) if raw.is_empty() => update.changes.email = Some(raw),
        Some(raw) => match EmailAddress::parse(&raw) {
            Ok(e) => update.changes.email = Some(e.as_str().to_string()),
            Err(messages) => messages.into_iter().for_each(|m| f.error("email", m)),
        },
        None => {}
    }
    update.changes.first_name = f.optional_string_max("first_name", 150);
    update.changes.last_name = f.optional_string_max("last_name", 150);
    if let Some(value) = payload.data.get("groups") {
        match read_ids(value) {
            Some(ids) if ids.len() > access::MAX_IDS => {
                f.error("groups", access::too_many_ids_message())
            }
            Some(ids) => update.groups = Some(access::dedup(&ids)),
            None => f.error("groups", "Expected a list of group ids."),
        }
    }
    update.errors = f.into_errors();
    update
}

/// Update a user: names, username, e-mail and groups (ids).
///
/// Every field is optional, with PUT as with PATCH.
#[utoipa::path(method(put, patch), path = "/api/auth/users/{id}/update/", tag = "accounts",
    params(("id" = i32, Path, description = "The user's id")), request_body = AdminUserRequest,
    responses((status = 200, description = "The user", body = AdminUserBody),
        (status = 400, description = "Field errors"), (status = 404, description = "No such user")))]
async fn update_user(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
    BaseUrl(base): BaseUrl,
    payload: Payload,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    let target = state
        .store
        .find_user_by_id(id)
        .await?
        .ok_or(Error::NotFound)?;
    let mut update = read_user_update(&payload);
    let (username, email) = (&update.changes.username, &update.changes.email);
    let taken = state
        .users
        .uniqueness_errors(username.as_deref(), email.as_deref(), Some(id))
        .await?;
    update.errors.extend(taken);
    state.users.update(&caller, &target, update).await?;
    let (user, profile) = state.users.admin_view(id).await?;
    Ok(Json(user_body(user, profile, &base)).into_response())
}

/// Delete a user with their tokens, sessions, profile and picture. An
/// admin cannot delete themself here (403).
#[utoipa::path(delete, path = "/api/auth/users/{id}/delete/", tag = "accounts",
    params(("id" = i32, Path, description = "The user's id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "The caller's own account"),
        (status = 404, description = "No such user"),
        (status = 409, description = "Another app's table still refers to the user", body = crate::http::djoser::schema::Detail)))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    if id == caller.user.id {
        return Err(ApiError::detail(StatusCode::FORBIDDEN, CANNOT_DELETE_SELF));
    }
    state.users.delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
