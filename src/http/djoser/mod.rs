//! The Djoser-compatible API, mounted at `/auth/`: every Djoser 2.x
//! endpoint, the 1.x URLs as aliases of their 2.x equivalents, and
//! doorman's additions (`token/logout_all/`, `jwt/blacklist/`). Status
//! codes, bodies, headers and validation order follow Djoser 2.3.5 (the
//! wire notes), except its known defects (no 5xx, no enumeration, sessions
//! revoked on password change/reset). One file per group of actions.

pub(crate) mod activation;
mod email_change;
mod jwt;
mod mfa;
mod passkeys;
mod password;
pub(crate) mod schema;
mod token;
mod username;
pub(crate) mod users;

pub(crate) use mfa::inline_code;

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{MethodRouter, get},
};
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;

use super::{AppState, auth::Authenticated, error::ApiError, host::BaseUrl};
use crate::{
    config::Settings,
    domain::{FieldErrors, users::User},
};

/// Every `/auth/` route; the set of username routes follows
/// `users.login_field`.
pub fn routes(settings: &Settings) -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .merge(users::routes())
        .merge(activation::routes())
        .merge(password::routes())
        .merge(token::routes())
        .merge(jwt::routes())
        .merge(mfa::routes())
        .merge(email_change::routes())
        .merge(passkeys::routes());
    router
        .merge(username::routes(settings.users.login_field))
        .route(
            "/auth/",
            fallback(get(api_root), "Api Root", "GET, HEAD, OPTIONS", false),
        )
}

/// DRF's API root at the mount: where the user routes are (an absolute
/// URL, so an untrusted `Host` is refused as for every such URL).
async fn api_root(BaseUrl(base): BaseUrl) -> Response {
    axum::Json(json!({ "users": format!("{base}/auth/users/") })).into_response()
}

/// What DRF does around every view, as one middleware per route: JSON is
/// the only rendering, so a request whose `Accept` admits no JSON gets 406
/// and `?format=` naming anything but `json` is "not found"; and every
/// response carries the view's `Allow` header. One layer rather than two
/// (and no allocation for the usual request) because every layer costs
/// per request (see `http::middleware`).
async fn drf_view(allow: &'static str, request: Request, next: Next) -> Response {
    // Only a query that may name `format` (perhaps percent-encoded) is parsed.
    let query = request.uri().query();
    if let Some(query) = query.filter(|q| q.contains("format") || q.contains('%')) {
        let format = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()
            .and_then(|pairs| pairs.into_iter().rev().find(|(k, _)| k == "format"))
            .map(|(_, v)| v);
        if format.is_some_and(|f| f != "json") {
            return with_allow(ApiError::not_found().into_response(), allow);
        }
    }
    let ok = accepts_json(request.headers());
    let response = if ok {
        next.run(request).await
    } else {
        ApiError::detail(
            StatusCode::NOT_ACCEPTABLE,
            "Could not satisfy the request Accept header.",
        )
        .into_response()
    };
    with_allow(response, allow)
}

/// Whether `Accept` is absent or admits JSON.
fn accepts_json(headers: &HeaderMap) -> bool {
    let mut ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| range.split(';').next().unwrap_or("").trim())
        .peekable();
    ranges.peek().is_none()
        || ranges.any(|r| {
            r.is_empty()
                || r == "*/*"
                || r.eq_ignore_ascii_case("application/*")
                || r.eq_ignore_ascii_case("application/json")
        })
}

fn with_allow(mut response: Response, allow: &'static str) -> Response {
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// The Allow header values DRF sends per kind of route.
pub const ALLOW_LIST: &str = "GET, POST, HEAD, OPTIONS";
pub const ALLOW_DETAIL: &str = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS";
pub const ALLOW_ACTION: &str = "POST, OPTIONS";

/// What a route answers to methods it has no handler for, as DRF does:
/// OPTIONS gets the view's metadata, other methods 405 with `Allow`; on
/// routes whose fallback permission needs a user (everything under
/// `users/`, `token/logout/`), anonymous callers get 401 first.
pub fn fallback(
    router: MethodRouter<AppState>,
    name: &'static str,
    allow: &'static str,
    needs_user: bool,
) -> MethodRouter<AppState> {
    let handler = move |state: axum::extract::State<AppState>, request: Request| async move {
        let method = request.method().clone();
        if needs_user {
            let (mut parts, _) = request.into_parts();
            if let Err(e) =
                <Authenticated as axum::extract::FromRequestParts<AppState>>::from_request_parts(
                    &mut parts, &state,
                )
                .await
            {
                return e.into_response();
            }
        }
        let allow_header = (header::ALLOW, HeaderValue::from_static(allow));
        if method == Method::OPTIONS {
            let body = json!({
                "name": name,
                "description": "",
                "renders": ["application/json"],
                "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
            });
            return (StatusCode::OK, [allow_header], axum::Json(body)).into_response();
        }
        ApiError::detail(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method \"{method}\" not allowed."),
        )
        .with_header(allow_header.0, allow_header.1)
        .into_response()
    };
    // DRF sends `Allow` on every response of a view.
    router
        .fallback(handler)
        .layer::<_, std::convert::Infallible>(axum::middleware::from_fn(
            move |request: Request, next: Next| drf_view(allow, request, next),
        ))
}

/// `fallback` for a documented route group.
pub fn with_fallback(
    (schemas, paths, router): utoipa_axum::router::UtoipaMethodRouter<AppState>,
    name: &'static str,
    allow: &'static str,
    needs_user: bool,
) -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    (schemas, paths, fallback(router, name, allow, needs_user))
}

/// Reads `current_password` and checks it against the caller's password
/// (a field-phase check, so its error joins the body's other field errors).
pub async fn read_current_password(
    state: &AppState,
    user: &User,
    f: &mut crate::http::input::Fields<'_>,
) -> Result<(), ApiError> {
    if let Some(current) = f.required_string("current_password")
        && !state
            .flows
            .check_current_password(user, &crate::domain::password::Password::new(current))
            .await?
    {
        f.error(
            "current_password",
            crate::domain::flows::messages::INVALID_PASSWORD,
        );
    }
    Ok(())
}

/// 204 with no body.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A user's value for one of the body fields.
fn field_value(user: &User, field: &str) -> Value {
    match field {
        "id" => json!(user.id),
        "username" => json!(user.username),
        "email" => json!(user.email),
        "first_name" => json!(user.first_name),
        "last_name" => json!(user.last_name),
        _ => Value::Null,
    }
}

/// `users.required_fields` without the login field (which is listed on
/// its own).
pub fn extra_fields(settings: &Settings) -> Vec<&str> {
    let login = settings.users.login_field.name();
    settings
        .users
        .required_fields
        .iter()
        .map(String::as_str)
        .filter(|f| *f != login)
        .collect()
}

/// Djoser's user body: required fields, then `id`, then the login field.
pub fn user_body(settings: &Settings, user: &User) -> Value {
    let mut map = Map::new();
    for f in extra_fields(settings) {
        map.insert(f.to_string(), field_value(user, f));
    }
    map.insert("id".into(), field_value(user, "id"));
    let login = settings.users.login_field.name();
    map.insert(login.into(), field_value(user, login));
    Value::Object(map)
}

/// The registration response: required fields, the login field, then `id`.
pub fn created_body(settings: &Settings, user: &User) -> Value {
    let mut map = Map::new();
    for f in extra_fields(settings) {
        map.insert(f.to_string(), field_value(user, f));
    }
    let login = settings.users.login_field.name();
    map.insert(login.into(), field_value(user, login));
    map.insert("id".into(), field_value(user, "id"));
    Value::Object(map)
}

/// Puts field errors in the order the fields are declared.
pub fn ordered(mut errors: FieldErrors, order: &[&str]) -> FieldErrors {
    errors.sort_by_key(|(f, _)| order.iter().position(|o| o == f).unwrap_or(order.len()));
    errors
}
