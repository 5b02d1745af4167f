//! `users/{id}/lockouts/`: where a user's failed-login budget ran out,
//! for an admin who may manage the user to see (GET) and clear (DELETE),
//! as `doorman unlock USER` does; and `users/{id}/mfa/`, the reset of a
//! user who lost their second factor (`doorman mfa reset USER`).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{session::rfc3339, user_profile::user_id};
use crate::{
    domain::access::Principal,
    http::{AppState, error::ApiError},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_lockouts, clear_lockouts))
        .routes(routes!(reset_mfa))
}

/// One address at which the user cannot sign in for now.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockoutBody {
    /// The client address (an IPv6 client by its /64).
    pub address: String,
    /// When attempts from there are taken again (RFC 3339).
    pub locked_until: String,
    /// Attempts refused while it lasted.
    pub refused: i32,
}

/// The user's lockouts in force, the latest-ending first.
#[utoipa::path(get, path = "/api/auth/users/{id}/lockouts/", tag = "accounts",
    params(("id" = i32, Path, description = "The user's id")),
    responses((status = 200, description = "The lockouts in force", body = Vec<LockoutBody>),
        (status = 404, description = "No such user")))]
async fn list_lockouts(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    let lockouts = state.users.lockouts(Some(&caller), id).await?;
    let body: Vec<LockoutBody> = lockouts
        .into_iter()
        .map(|l| LockoutBody {
            address: l.address,
            locked_until: rfc3339(l.locked_until),
            refused: l.refused,
        })
        .collect();
    Ok(Json(body).into_response())
}

/// Clear the user's lockouts on every node: they can sign in again at
/// once, and their failed-login count starts again.
#[utoipa::path(delete, path = "/api/auth/users/{id}/lockouts/", tag = "accounts",
    params(("id" = i32, Path, description = "The user's id")),
    responses((status = 204, description = "Cleared"), (status = 404, description = "No such user")))]
async fn clear_lockouts(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    state.users.unlock(Some(&caller), id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Remove every second factor and recovery code of a user who lost them,
/// and sign them out everywhere; they then sign in with the password
/// alone. Needs the right to change the user's credentials; not for the
/// caller's own account (403: use `DELETE /auth/mfa/totp/`).
#[utoipa::path(delete, path = "/api/auth/users/{id}/mfa/", tag = "accounts",
    params(("id" = i32, Path, description = "The user's id")),
    responses((status = 204, description = "Reset (also when the user had no factor)"),
        (status = 404, description = "No such user")))]
async fn reset_mfa(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    state.mfa.reset(Some(&caller), id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
