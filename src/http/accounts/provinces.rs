//! `provinces/`: anyone may list them (by name); an admin may add one.
//! Names are unique ignoring case.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    domain::profiles::{self, Province},
    http::{
        AppState,
        error::ApiError,
        input::{Fields, Payload},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_provinces, create_province))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvinceBody {
    pub id: i32,
    pub name: String,
    pub code: Option<String>,
}

/// A new province.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ProvinceRequest {
    name: String,
    code: Option<String>,
}

fn body(p: Province) -> ProvinceBody {
    ProvinceBody {
        id: p.id,
        name: p.name,
        code: p.code,
    }
}

/// Every province, ordered by name.
#[utoipa::path(get, path = "/api/auth/provinces/", tag = "accounts",
    responses((status = 200, description = "The provinces", body = Vec<ProvinceBody>)))]
async fn list_provinces(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = state.store.list_provinces().await?;
    Ok(Json(list.into_iter().map(body).collect::<Vec<_>>()).into_response())
}

/// Add a province (admin). A name already taken, ignoring case, is refused.
#[utoipa::path(post, path = "/api/auth/provinces/", tag = "accounts",
    request_body = ProvinceRequest,
    responses((status = 201, description = "Created", body = ProvinceBody),
        (status = 400, description = "Field errors")))]
async fn create_province(
    State(state): State<AppState>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let name = f.optional_string("name");
    let code = f.optional_string("code");
    let mut errors = f.into_errors();
    if !errors.iter().any(|(field, _)| field == "name") {
        errors.extend(profiles::check_province(name.as_deref(), code.as_deref()));
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    let name = name.unwrap_or_default();
    let province = profiles::create_province(&state.store, &name, code.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(body(province))).into_response())
}
