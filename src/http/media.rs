//! `GET /media/{*path}`: serves stored uploads from `media.root`. Only plain
//! relative paths are served (`..`, absolute paths and odd segments are a
//! 404, like a missing file); the type comes from the extension, and
//! `nosniff` stops browsers guessing another.

use axum::{
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use utoipa_axum::router::OpenApiRouter;

use super::{AppState, error::ApiError};
use crate::domain::profiles::pictures;

/// Stored names are random and never reused, so caches may keep them.
const CACHE_CONTROL: &str = "public, max-age=86400";

/// A plain axum route: the OpenAPI path syntax has no catch-all segment.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().route("/media/{*path}", get(serve_media))
}

fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

/// A stored upload (profile pictures).
#[utoipa::path(get, path = "/media/{path}", tag = "media",
    params(("path" = String, Path, description = "Path under the media root")),
    responses((status = 200, description = "The file"), (status = 404, description = "No such file")))]
async fn serve_media(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let file = pictures::resolve(&state.settings.media, &path).ok_or_else(ApiError::not_found)?;
    let bytes = tokio::fs::read(&file)
        .await
        .map_err(|_| ApiError::not_found())?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
