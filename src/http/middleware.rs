//! What every request passes through before and after its handler, in one
//! middleware (`frame`): the request id, trailing-slash normalisation, the
//! tracing span, the timeout, and the error finisher (panics, bare
//! 404/405/408/413 and 500s become JSON carrying the request id).
//!
//! These were first six layers (tower-http's request-id pair, trace and
//! timeout, and two of our own). A profile of `GET /healthz/` under load
//! showed the stack, not the work in it, costing about 40 % of the
//! throughput: each layer is cloned, allocated and polled per request. One
//! function doing the same steps serves the same answers for a fraction of
//! that (bench/README.md). For the same reason the body limit is a
//! `Content-Length` check here plus axum's `DefaultBodyLimit`, which the
//! body extractors apply, rather than a third layer.

use std::{any::Any, net::SocketAddr, panic::AssertUnwindSafe, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, Method, StatusCode, Uri, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::FutureExt;
use serde_json::{Value, json};
use tracing::Instrument as _;

use super::{
    client::{self, ClientAddr},
    error::{ApiError, InternalErrorMarker, KeepEmptyBody},
    throttle,
};
use crate::{config::Cidr, limits::Limits};

pub const REQUEST_ID: &str = "x-request-id";

/// What `frame` needs to know.
#[derive(Clone)]
pub struct Frame {
    /// The budgets spent before routing (`throttle::class_of`).
    pub limits: Limits,
    /// `server.trusted_proxies`.
    pub trusted_proxies: Arc<[Cidr]>,
    /// `server.forwarded_header`.
    pub forwarded_header: client::ForwardedHeader,
    /// Send `Strict-Transport-Security` (`server.public_url` is https).
    pub hsts: bool,
    /// `server.max_json_bytes`, for `Payload`.
    pub max_json_bytes: usize,
    /// A request still unanswered after this gets 408.
    pub timeout: Duration,
    /// A request declaring a longer body gets 413 before any handler runs
    /// (bodies without a length are cut at this by `DefaultBodyLimit`).
    pub max_body_bytes: usize,
}

/// The per-request frame, in order: take the client's `X-Request-Id` or
/// make one (and answer with it); serve `/path` as `/path/`; decide the
/// client's address and spend from its budget for the path; run the rest
/// in a span carrying method, path and request id, under the timeout and
/// catching panics; then give error answers DRF's JSON shape.
pub async fn frame(State(frame): State<Frame>, req: Request, next: Next) -> Response {
    let cacheable = CACHEABLE.iter().any(|p| req.uri().path().starts_with(p));
    let hsts = frame.hsts;
    let mut response = framed(frame, req, next).await;
    secure(response.headers_mut(), cacheable, hsts);
    response
}

/// Paths whose answers hold no credentials and may be cached: uploaded
/// pictures and the Swagger UI's files.
const CACHEABLE: &[&str] = &["/media/", "/api/docs/"];

/// The headers Django's `SecurityMiddleware` and clickjacking middleware
/// send by default, stricter where an API can be: nothing here is meant to
/// be framed, sniffed or followed with a referrer; and since answers carry
/// tokens and personal data, none is stored by a cache unless its handler
/// said otherwise (or it is in `CACHEABLE`).
fn secure(headers: &mut axum::http::HeaderMap, cacheable: bool, hsts: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !cacheable {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

async fn framed(frame: Frame, mut req: Request, next: Next) -> Response {
    let request_id = match req.headers().get(REQUEST_ID).filter(|id| usable_id(id)) {
        Some(id) => id.clone(),
        None => {
            let id = new_request_id();
            req.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    append_trailing_slash(&mut req);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > frame.max_body_bytes as u64) {
        let mut response = finish_errors(
            StatusCode::PAYLOAD_TOO_LARGE.into_response(),
            req.method(),
            request_id.to_str().unwrap_or(""),
        );
        response.headers_mut().insert(REQUEST_ID, request_id);
        return response;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = ClientAddr(client::resolve(
        peer,
        req.headers(),
        &frame.trusted_proxies,
        frame.forwarded_header,
    ));
    req.extensions_mut().insert(client);
    req.extensions_mut()
        .insert(super::input::JsonLimit(frame.max_json_bytes));
    if let Some(class) = throttle::class_of(req.method(), req.uri().path())
        && let Err(throttled) = frame.limits.take(class, &client.budget_key()).await
    {
        let mut response = ApiError::from(throttled).into_response();
        response.headers_mut().insert(REQUEST_ID, request_id);
        return response;
    }
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = request_id.to_str().unwrap_or(""),
    );
    let method = req.method().clone();
    let context = crate::domain::audit::Context {
        address: client.text(),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default(),
        request_id: request_id.to_str().unwrap_or("").to_string(),
    };
    let handled = tokio::time::timeout(
        frame.timeout,
        crate::domain::audit::within(context, AssertUnwindSafe(next.run(req)).catch_unwind()),
    )
    .instrument(span.clone())
    .await;
    let id_text = request_id.to_str().unwrap_or("");
    let mut response = match handled {
        Ok(Ok(response)) => finish_errors(response, &method, id_text),
        Ok(Err(panic)) => {
            span.in_scope(|| {
                tracing::error!(
                    request_id = id_text,
                    panic = panic_message(&panic),
                    "handler panicked"
                );
            });
            server_error(id_text)
        }
        Err(_elapsed) => finish_errors(
            StatusCode::REQUEST_TIMEOUT.into_response(),
            &method,
            id_text,
        ),
    };
    if response.status().is_server_error() {
        span.in_scope(|| tracing::error!(status = response.status().as_u16(), "request failed"));
    }
    response
        .headers_mut()
        .entry(REQUEST_ID)
        .or_insert(request_id);
    response
}

/// Whether a client's `X-Request-Id` is kept: 1 to 128 letters, digits and
/// `-_.:`, which covers UUIDs and the ids proxies make. Anything else (say,
/// kilobytes of text meant for the logs) is replaced by a new id.
fn usable_id(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    (1..=128).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// A random (version 4) UUID, from `rand`'s thread-local generator (seeded
/// from the kernel): tower-http's `MakeRequestUuid` asked the kernel for
/// the bytes on every request, a system call that was 3 % of the time of
/// `GET /auth/users/me/` in a profile.
fn new_request_id() -> HeaderValue {
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
        .expect("a hyphenated UUID is a valid header value")
}

/// Serves `/path` as `/path/`: every route is registered with its trailing
/// slash (as Django's are) and clients that leave it off get the same
/// answer, not a redirect. Paths whose last segment has a dot (static files
/// such as `/api/docs/swagger-ui.css`, media files) are left alone.
/// Hand-written: tower-http's `NormalizePath` would also rewrite those.
fn append_trailing_slash(req: &mut Request) {
    let uri = req.uri();
    let path = uri.path();
    let last = path.rsplit('/').next().unwrap_or("");
    if path.ends_with('/') || last.contains('.') {
        return;
    }
    let new = match uri.query() {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    };
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = new.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

/// Turns what would leave the service as an unhelpful response into JSON in
/// DRF's shape: errors with an empty body get a `detail`, and 500s carry
/// the request id so an operator can find the log line.
fn finish_errors(response: Response, method: &Method, request_id: &str) -> Response {
    let status = response.status();
    if response.extensions().get::<InternalErrorMarker>().is_some() {
        return server_error(request_id);
    }
    let empty = !response.headers().contains_key(header::CONTENT_TYPE)
        && response.extensions().get::<KeepEmptyBody>().is_none();
    if !status.is_client_error() && !status.is_server_error() || !empty {
        return response;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => "Not found.".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => format!("Method \"{method}\" not allowed."),
        StatusCode::PAYLOAD_TOO_LARGE => "Request body is too large.".to_string(),
        StatusCode::REQUEST_TIMEOUT => "The request took too long.".to_string(),
        s if s.is_server_error() => return server_error(request_id),
        s => s.canonical_reason().unwrap_or("Error.").to_string(),
    };
    let (mut parts, _) = response.into_parts();
    let body = json!({ "detail": detail });
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    if method == Method::HEAD {
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(body.to_string()))
}

fn server_error(request_id: &str) -> Response {
    let body: Value = json!({
        "detail": "A server error occurred.",
        "request_id": request_id,
    });
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

fn panic_message(panic: &Box<dyn Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
