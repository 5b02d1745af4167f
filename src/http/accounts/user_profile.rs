//! `user_profile/`: profiles by **user** id for admins (a user may read
//! their own). The list pages over users by id and creates the page's
//! missing profiles (one statement), so every entry is a real profile;
//! the detail creates one too. Updates may also set the profile's `roles`.

use axum::{
    Json,
    extract::{Path, State},
    http::Uri,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    Page,
    admin_users::search_term,
    paginate,
    profile::{ProfileBody, ProfileRequest, profile_body, read_update},
};
use crate::{
    domain::{
        access::{self, Principal},
        profiles,
    },
    http::{AppState, error::ApiError, host::BaseUrl, input::Payload},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_profiles))
        .routes(routes!(get_user_profile))
        .routes(routes!(update_profile))
}

/// A page of profiles.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfilePage {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<ProfileBody>,
}

/// Resolves `?page=last` once the count is known.
pub fn settle(page: Page, count: i64) -> Page {
    let pages = ((count.max(1) - 1) / i64::from(page.size) + 1) as u32;
    match page.number {
        u32::MAX => Page {
            number: pages,
            ..page
        },
        _ => page,
    }
}

pub fn user_id(raw: &str) -> Result<i32, ApiError> {
    raw.trim().parse().map_err(|_| ApiError::not_found())
}

/// Profiles, paginated, ordered by user id; `search` matches the user's
/// username, e-mail and names, as on `users/`.
#[utoipa::path(get, path = "/api/auth/user_profile/", tag = "accounts",
    params(("page" = Option<u32>, Query), ("page_size" = Option<u32>, Query),
        ("search" = Option<String>, Query, description = "A part of the username, e-mail address, first or last name, ignoring case")),
    responses((status = 200, description = "A page of profiles", body = ProfilePage),
        (status = 400, description = "The Host header names a host not in server.allowed_hosts")))]
async fn list_profiles(
    State(state): State<AppState>,
    uri: Uri,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let s = &state.settings;
    let search = search_term(&uri);
    let page = Page::from_query(uri.query(), s)?;
    let count = state.store.count_users_matching(&search).await?;
    let page = settle(page, count);
    let users = state
        .store
        .user_page(&search, page.offset(), page.limit())
        .await?;
    let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
    let results = profiles::for_users(&state.store, &ids)
        .await?
        .into_iter()
        .map(|p| serde_json::to_value(profile_body(p, &base)).unwrap_or_default())
        .collect();
    Ok(Json(paginate(&uri, &base, page, count, results)?).into_response())
}

/// One user's profile, by user id (created if missing).
#[utoipa::path(get, path = "/api/auth/user_profile/{user_id}/", tag = "accounts",
    params(("user_id" = i32, Path, description = "The user's id")),
    responses((status = 200, description = "The profile", body = ProfileBody),
        (status = 404, description = "No such user")))]
async fn get_user_profile(
    State(state): State<AppState>,
    Path(id): Path<String>,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let profile = profiles::get_or_create(&state.store, user_id(&id)?).await?;
    Ok(Json(profile_body(profile, &base)).into_response())
}

/// Update a user's profile, including its `roles` (group ids).
///
/// Every field is optional, with PUT as with PATCH.
#[utoipa::path(method(put, patch), path = "/api/auth/user_profile/{user_id}/update/", tag = "accounts",
    params(("user_id" = i32, Path, description = "The user's id")),
    request_body(content((ProfileRequest = "application/json"), (ProfileRequest = "multipart/form-data"))),
    responses((status = 200, description = "The profile", body = ProfileBody),
        (status = 400, description = "Field errors"), (status = 404, description = "No such user")))]
async fn update_profile(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
    BaseUrl(base): BaseUrl,
    payload: Payload,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    let mut update = read_update(&payload, true);
    if let Some(roles) = update.changes.roles.take() {
        match roles.len() > access::MAX_IDS {
            true => update
                .errors
                .push(("roles".into(), vec![access::too_many_ids_message()])),
            false => update.changes.roles = Some(access::dedup(&roles)),
        }
    }
    let profile = profiles::update_as(
        &state.store,
        state.users.audit(),
        &state.settings,
        &caller,
        id,
        update,
    )
    .await?;
    Ok(Json(profile_body(profile, &base)).into_response())
}
