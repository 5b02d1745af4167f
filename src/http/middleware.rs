//! The layers every request passes through, outermost first: request id,
//! trailing-slash normalisation, tracing span, the error finisher (panics,
//! bare 404/405/408/413 and 500s become JSON carrying the request id), body
//! limit and timeout.

use std::{any::Any, panic::AssertUnwindSafe};

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, Uri, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::FutureExt;
use serde_json::{Value, json};

use super::error::{InternalErrorMarker, KeepEmptyBody};

pub const REQUEST_ID: &str = "x-request-id";

/// Serves `/path` as `/path/`: every route is registered with its trailing
/// slash (as Django's are) and clients that leave it off get the same
/// answer, not a redirect. Paths whose last segment has a dot (static files
/// such as `/api/docs/swagger-ui.css`, media files) are left alone.
/// Hand-written: tower-http's `NormalizePath` would also rewrite those.
pub async fn append_trailing_slash(mut req: Request, next: Next) -> Response {
    let uri = req.uri();
    let path = uri.path();
    let last = path.rsplit('/').next().unwrap_or("");
    if !path.ends_with('/') && !last.contains('.') {
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
    next.run(req).await
}

/// Turns what would leave the service as an unhelpful response into JSON in
/// DRF's shape: a panic in a handler becomes a logged 500 (the server keeps
/// serving), errors with an empty body get a `detail`, and 500s carry the
/// request id so an operator can find the log line. Hand-written rather
/// than tower-http's `CatchPanic` because the body needs the request id.
pub async fn finish_errors(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let method = req.method().clone();
    let response = match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(
                request_id,
                panic = panic_message(&panic),
                "handler panicked"
            );
            return server_error(&request_id);
        }
    };
    let status = response.status();
    if response.extensions().get::<InternalErrorMarker>().is_some() {
        return server_error(&request_id);
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
        s if s.is_server_error() => return server_error(&request_id),
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
