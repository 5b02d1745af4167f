//! `audit/`: the audit trail for admins, newest first, paged by id
//! (`?before=` the last id of the page before), filtered by user and kind.

use axum::{
    Json,
    extract::{Query, State},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::session::rfc3339;
use crate::{
    domain::{access::Principal, audit},
    http::{AppState, error::ApiError},
    model::AuditQuery,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_trail))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditParams {
    /// Events by or about this user id.
    pub user: Option<String>,
    /// Events of this kind only (`login_failed`, `password_changed`, …).
    pub kind: Option<String>,
    /// Events older than this id (the previous page's `next_before`).
    pub before: Option<String>,
    /// Events per page, 1 to 500 (default 50).
    pub limit: Option<String>,
}

/// One security event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditBody {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    pub kind: String,
    /// `success`, `failure` or `refused`.
    pub outcome: String,
    pub actor_id: Option<i32>,
    pub target_id: Option<i32>,
    /// The target as named at the time.
    pub target: String,
    pub address: String,
    pub user_agent: String,
    pub request_id: String,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub results: Vec<AuditBody>,
    /// Pass as `before` for the next (older) page; null on the last.
    pub next_before: Option<i64>,
}

/// The audit trail, newest first; for full admins (superusers and the
/// admin role) only, since it shows every account's addresses and
/// sign-ins.
#[utoipa::path(get, path = "/api/auth/audit/", tag = "accounts", params(AuditParams),
    responses((status = 200, description = "A page of events", body = AuditPage),
        (status = 400, description = "A parameter is not a number, or an unknown kind"),
        (status = 403, description = "The caller is not a full admin")))]
async fn audit_trail(
    State(state): State<AppState>,
    caller: Principal,
    Query(params): Query<AuditParams>,
) -> Result<Response, ApiError> {
    let number = |field: &str, value: &Option<String>| -> Result<Option<i64>, ApiError> {
        match value.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
                ApiError::fields(vec![(
                    field.into(),
                    vec!["A valid integer is required.".into()],
                )])
            }),
        }
    };
    let user_id = number("user", &params.user)?.map(|v| i32::try_from(v).unwrap_or(-1));
    let before = number("before", &params.before)?;
    let limit = number("limit", &params.limit)?.unwrap_or(50);
    let limit = u32::try_from(limit.clamp(1, i64::from(audit::MAX_PAGE))).unwrap_or(50);
    let query = AuditQuery {
        user_id,
        kind: params.kind.filter(|k| !k.is_empty()),
        before,
        after: None,
        limit,
    };
    let entries = audit::trail(&state.store, Some(&caller), query).await?;
    let next_before = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let results = entries
        .into_iter()
        .map(|e| AuditBody {
            id: e.id,
            at: rfc3339(crate::store::Timestamp(e.at)),
            kind: e.kind,
            outcome: e.outcome,
            actor_id: e.actor_id,
            target_id: e.target_id,
            target: e.target,
            address: e.address,
            user_agent: e.user_agent,
            request_id: e.request_id,
            detail: e.detail,
        })
        .collect();
    Ok(Json(AuditPage {
        results,
        next_before,
    })
    .into_response())
}
