//! Operational endpoints: liveness and readiness.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{AppState, error::ApiError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the check passed, else `unavailable`.
    pub status: &'static str,
    /// What works only in part: rate limits kept per node because
    /// `rate_limit.redis_url` cannot be reached (the node still serves).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/healthz/", tag = "ops",
    responses((status = 200, description = "The process is up", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        detail: None,
    })
}

/// How long readiness waits for the database: a load balancer's probe
/// gets its answer well inside its own timeout.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: the database answers a query (within two seconds). With `rate_limit.redis_url`
/// set and Redis not answering, the node is still ready (it keeps its own
/// budgets) and `detail` says so.
#[utoipa::path(get, path = "/readyz/", tag = "ops",
    responses(
        (status = 200, description = "The database is reachable", body = Health),
        (status = 503, description = "The database is not reachable", body = Health)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let detail = match state.limits.check_shared().await {
        Some(Err(e)) => Some(format!(
            "rate limits are kept per node: Redis cannot be reached ({e})"
        )),
        _ => None,
    };
    match state.store.ping(READY_WITHIN).await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                detail,
            }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    detail,
                }),
            )
        }
    }
}

/// Prometheus metrics (text exposition format), for
/// `Authorization: Bearer <server.metrics_token>` only: counters such as
/// mails sent move with what accounts exist, so they are not public.
/// Without a configured token nobody reads them.
#[utoipa::path(get, path = "/metrics/", tag = "ops",
    responses((status = 200, description = "Counters and gauges", content_type = "text/plain", body = String),
        (status = 401, description = "No or a wrong `server.metrics_token`", body = crate::http::djoser::schema::Detail)))]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let allowed = match (&state.settings.server.metrics_token, sent) {
        (Some(token), Some(sent)) => {
            // Equal-length digests, compared in constant time.
            let digest = |t: &str| sha2::Sha256::digest(t.as_bytes());
            bool::from(digest(token).ct_eq(&digest(sent)))
        }
        _ => false,
    };
    if !allowed {
        let mut response = ApiError::detail(
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided.",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return response;
    }
    let gauges = match state.store.mail_counts().await {
        Ok((queued, failed)) => crate::metrics::Gauges {
            mail_queued: queued,
            mail_failed_stored: failed,
        },
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the outbox");
            crate::metrics::Gauges::default()
        }
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(gauges),
    )
        .into_response()
}
