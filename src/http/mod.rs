//! The HTTP surface. Each surface (ops, and later `/auth/` and
//! `/api/auth/`) contributes an `OpenApiRouter`; `routes` merges them so the
//! OpenAPI document is generated from the very routes that are served, and
//! `finish` wraps the result in the layers every request passes through.

mod accounts;
pub mod auth;
pub mod client;
pub(crate) mod djoser;
pub mod error;
pub mod host;
pub mod input;
mod media;
mod middleware;
mod openapi;
mod ops;
pub mod serve;
mod throttle;

use std::{sync::Arc, time::Duration};

use axum::{Router, extract::DefaultBodyLimit};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use accounts::{ACCESS, rule_for};
pub use middleware::REQUEST_ID;

use crate::{
    config::Settings,
    domain::{flows::Flows, sessions::Sessions, users::Users},
    limits::Limits,
    mail::{Mailer, transport::Transport},
    metrics::Metrics,
    store::Store,
};

/// What handlers share: read-only settings and the services built from them.
/// axum clones the state for every request (and every extractor that asks
/// for it), so it is one `Arc`: a clone is a reference-count increment, not a
/// copy of the services' settings, validators and templates (a profile of
/// `GET /auth/users/me/` showed those deep copies as its largest cost).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind `AppState`.
#[derive(Clone)]
pub struct Services {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub users: Users,
    pub mailer: Mailer,
    pub transport: Arc<Transport>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub sessions: Sessions,
    /// Djoser's flows (registration, activation, password and login changes).
    pub flows: Flows,
    /// Second factors and the logins that wait for one.
    pub mfa: crate::domain::mfa::Mfa,
}

#[derive(OpenApi)]
#[openapi(info(
    title = "doorman",
    description = "User accounts: a Djoser-compatible API at /auth/ and the Accounts API at /api/auth/."
))]
struct ApiDoc;

/// Every route of the service with its OpenAPI document, not yet layered.
pub fn routes(state: AppState) -> Router {
    let (router, api) = all_routes(&state.settings, Some(state.clone())).split_for_parts();
    // Built once; every request for it shares the same bytes.
    let document = axum::body::Bytes::from(openapi::complete(api, &state.settings).to_string());
    router
        .route(
            "/api/schema/",
            axum::routing::get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document,
                    )
                }
            }),
        )
        .merge(SwaggerUi::new("/api/docs").config(utoipa_swagger_ui::Config::from("/api/schema/")))
        .with_state(state)
}

fn all_routes(settings: &Settings, state: Option<AppState>) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::routes())
        .merge(djoser::routes(settings))
        .merge(accounts::routes(state))
        .merge(media::routes())
}

/// The OpenAPI document (for `doorman openapi`).
pub fn openapi_json(settings: &Settings) -> String {
    let (_, api) = all_routes(settings, None).split_for_parts();
    serde_json::to_string_pretty(&openapi::complete(api, settings))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Wraps `routes` in what every request passes through: the body limit the
/// extractors apply, then `middleware::frame`. The outer router has no
/// routes of its own, so the frame runs before routing (the trailing slash
/// must be added before the path is matched).
pub fn finish(routes: Router, settings: &Settings, limits: Limits) -> Router {
    let inner = routes.layer(DefaultBodyLimit::max(settings.server.max_body_bytes));
    let frame = middleware::Frame {
        limits,
        trusted_proxies: settings.server.trusted_proxies.clone().into(),
        forwarded_header: match settings.server.forwarded_header {
            crate::config::ForwardedHeaderSetting::XForwardedFor => {
                client::ForwardedHeader::XForwardedFor
            }
            crate::config::ForwardedHeaderSetting::Forwarded => client::ForwardedHeader::Forwarded,
        },
        hsts: settings
            .server
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://")),
        max_json_bytes: settings.server.max_json_bytes,
        timeout: Duration::from_secs(settings.server.request_timeout_secs),
        max_body_bytes: settings.server.max_body_bytes,
    };
    let router = Router::new()
        .fallback_service(inner)
        .layer(axum::middleware::from_fn_with_state(
            frame,
            middleware::frame,
        ));
    match cors(settings) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// tower-http's CORS layer for `server.cors_allowed_origins`, outside the
/// frame so a preflight is answered before routing; none without origins
/// (the default), so no response carries CORS headers.
fn cors(settings: &Settings) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method};
    let s = &settings.server;
    if s.cors_allowed_origins.is_empty() {
        return None;
    }
    // Checked by Settings::validate.
    let origins: Vec<HeaderValue> = s
        .cors_allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let methods: Vec<Method> = s
        .cors_allowed_methods
        .iter()
        .filter_map(|m| m.parse().ok())
        .collect();
    let headers: Vec<HeaderName> = s
        .cors_allowed_headers
        .iter()
        .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
        .collect();
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods(methods)
            .allow_headers(headers)
            .allow_credentials(s.cors_allow_credentials)
            .expose_headers([HeaderName::from_static(REQUEST_ID)])
            .max_age(Duration::from_secs(s.cors_max_age_secs)),
    )
}

/// The complete application router.
pub fn app(state: AppState) -> Router {
    let settings = state.settings.clone();
    let limits = state.limits.clone();
    finish(routes(state), &settings, limits)
}
