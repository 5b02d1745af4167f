//! `roles/` and `permissions/`: the Django groups used as roles, and the
//! Django permissions they carry. Who may call each endpoint is decided by
//! `ACCESS` before a handler runs; the handlers read the body in DRF's
//! shapes and leave the rules to `domain::roles`.

use axum::{
    Json,
    extract::{Path, State},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    domain::{
        access::{self, Principal},
        roles::{self, Permission, Role, RoleName},
    },
    http::{
        AppState,
        error::ApiError,
        input::{Fields, Payload},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles))
        .routes(routes!(create_role))
        .routes(routes!(rename_role, delete_role))
        .routes(routes!(list_permissions))
        .routes(routes!(set_permissions))
}

/// A role: the group, its name and the ids of its permissions.
#[derive(Serialize, ToSchema)]
pub struct RoleBody {
    pub id: i32,
    pub name: String,
    pub permissions: Vec<i32>,
}

impl From<Role> for RoleBody {
    fn from(r: Role) -> Self {
        RoleBody {
            id: r.id,
            name: r.name,
            permissions: r.permissions,
        }
    }
}

/// A Django permission.
#[derive(Serialize, ToSchema)]
pub struct PermissionBody {
    pub id: i32,
    pub name: String,
    pub codename: String,
    pub app_label: String,
}

impl From<Permission> for PermissionBody {
    fn from(p: Permission) -> Self {
        PermissionBody {
            id: p.id,
            name: p.name,
            codename: p.codename,
            app_label: p.app_label,
        }
    }
}

/// A role's name: 1 to 150 characters after trimming, unique.
#[derive(Serialize, ToSchema)]
pub struct RoleRequest {
    pub name: String,
}

/// The complete new set of permission ids.
#[derive(Serialize, ToSchema)]
pub struct PermissionsRequest {
    pub permissions: Vec<i32>,
}

/// `{"detail": message}`.
#[derive(Serialize, ToSchema)]
pub struct DetailBody {
    pub detail: String,
}

/// Messages per field, e.g. `{"name": ["This field may not be blank."]}`.
#[derive(Serialize, ToSchema)]
pub struct FieldErrorsBody(pub std::collections::BTreeMap<String, Vec<String>>);

/// List every role with its permission ids, by id.
#[utoipa::path(get, path = "/api/auth/roles/", tag = "accounts",
    responses(
        (status = 200, description = "The roles", body = Vec<RoleBody>),
        (status = 401, description = "Not authenticated", body = DetailBody)))]
async fn list_roles(State(state): State<AppState>) -> Result<Json<Vec<RoleBody>>, ApiError> {
    let roles = roles::list_roles(&state.store).await?;
    Ok(Json(roles.into_iter().map(RoleBody::from).collect()))
}

/// Create a role (a Django group) with no permissions.
#[utoipa::path(post, path = "/api/auth/roles/create/", tag = "accounts",
    request_body = RoleRequest,
    responses(
        (status = 201, description = "Created", body = RoleBody),
        (status = 400, description = "Blank, too long or taken name", body = FieldErrorsBody),
        (status = 401, description = "Not authenticated", body = DetailBody),
        (status = 403, description = "Not an admin", body = DetailBody)))]
async fn create_role(
    State(state): State<AppState>,
    caller: Principal,
    payload: Payload,
) -> Result<Response, ApiError> {
    let name = read_name(&payload, false)?.ok_or_else(|| required("name"))?;
    let role = roles::create_role(
        &state.store,
        state.users.audit(),
        &state.settings.accounts,
        &caller,
        &name,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(RoleBody::from(role))).into_response())
}

/// Rename a role: PUT requires `name`; PATCH without it changes nothing.
#[utoipa::path(method(put, patch), path = "/api/auth/roles/{id}/", tag = "accounts",
    params(("id" = i32, Path, description = "The role (group) id")),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "Renamed", body = RoleBody),
        (status = 400, description = "Blank, too long or taken name", body = FieldErrorsBody),
        (status = 401, description = "Not authenticated", body = DetailBody),
        (status = 403, description = "Not an admin", body = DetailBody),
        (status = 404, description = "No such role", body = DetailBody)))]
async fn rename_role(
    State(state): State<AppState>,
    method: Method,
    caller: Principal,
    Path(id): Path<String>,
    payload: Payload,
) -> Result<Json<RoleBody>, ApiError> {
    let partial = method == Method::PATCH;
    let id = path_id(&id)?;
    // DRF looks the object up before it reads the body.
    roles::find_role(&state.store, id).await?;
    let name = read_name(&payload, partial)?;
    let settings = &state.settings.accounts;
    let role = roles::rename_role(
        &state.store,
        state.users.audit(),
        settings,
        &caller,
        id,
        name.as_ref(),
    )
    .await?;
    Ok(Json(role.into()))
}

/// Delete a role, its permission grants and its memberships.
#[utoipa::path(delete, path = "/api/auth/roles/{id}/", tag = "accounts",
    params(("id" = i32, Path, description = "The role (group) id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = DetailBody),
        (status = 403, description = "Not an admin", body = DetailBody),
        (status = 404, description = "No such role", body = DetailBody),
        (status = 409, description = "Another app's table still refers to the role", body = DetailBody)))]
async fn delete_role(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let settings = &state.settings.accounts;
    roles::delete_role(
        &state.store,
        state.users.audit(),
        settings,
        &caller,
        path_id(&id)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List every Django permission, by app label then codename.
#[utoipa::path(get, path = "/api/auth/permissions/", tag = "accounts",
    responses(
        (status = 200, description = "The permissions", body = Vec<PermissionBody>),
        (status = 401, description = "Not authenticated", body = DetailBody),
        (status = 403, description = "Not an admin", body = DetailBody)))]
async fn list_permissions(
    State(state): State<AppState>,
) -> Result<Json<Vec<PermissionBody>>, ApiError> {
    let permissions = roles::list_permissions(&state.store).await?;
    Ok(Json(
        permissions.into_iter().map(PermissionBody::from).collect(),
    ))
}

/// Replace a role's permissions with exactly the given ids.
#[utoipa::path(put, path = "/api/auth/permissions/{group_id}/update/", tag = "accounts",
    params(("group_id" = i32, Path, description = "The role (group) id")),
    request_body = PermissionsRequest,
    responses(
        (status = 200, description = "The role with its new permissions", body = RoleBody),
        (status = 400, description = "Not a list, or ids naming no permission", body = FieldErrorsBody),
        (status = 401, description = "Not authenticated", body = DetailBody),
        (status = 403, description = "Not an admin", body = DetailBody),
        (status = 404, description = "No such role", body = DetailBody)))]
async fn set_permissions(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
    payload: Payload,
) -> Result<Json<RoleBody>, ApiError> {
    let id = path_id(&id)?;
    // DRF looks the object up before it reads the body.
    roles::find_role(&state.store, id).await?;
    let ids = read_ids(&payload, "permissions").map_err(|m| field_error("permissions", m))?;
    if ids.len() > access::MAX_IDS {
        return Err(field_error("permissions", access::too_many_ids_message()));
    }
    let settings = &state.settings.accounts;
    let role = roles::set_role_permissions(
        &state.store,
        state.users.audit(),
        settings,
        &caller,
        id,
        &ids,
    )
    .await?;
    Ok(Json(role.into()))
}

/// A path id as Django's `<int:pk>` matches it (digits only); anything
/// else names no object.
fn path_id(raw: &str) -> Result<i32, ApiError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::not_found());
    }
    raw.parse().map_err(|_| ApiError::not_found())
}

/// The `name` field; `None` only when `partial` and absent.
fn read_name(payload: &Payload, partial: bool) -> Result<Option<RoleName>, ApiError> {
    let mut f = Fields::new(payload);
    if partial && !f.has("name") {
        return Ok(None);
    }
    let parsed = f.required_string("name").map(|raw| RoleName::parse(&raw));
    f.finish()?;
    match parsed {
        Some(Ok(name)) => Ok(Some(name)),
        Some(Err(message)) => Err(field_error("name", message.to_string())),
        None => Err(required("name")),
    }
}

fn field_error(field: &str, message: String) -> ApiError {
    ApiError::fields(vec![(field.to_string(), vec![message])])
}

fn required(field: &str) -> ApiError {
    field_error(field, "This field is required.".into())
}

/// A list of primary keys as DRF's `PrimaryKeyRelatedField(many=True)`
/// reads one: integers, or strings holding one; the first bad item is
/// reported. Existence is the domain's to check.
fn read_ids(payload: &Payload, field: &str) -> Result<Vec<i64>, String> {
    let items = match payload.data.get(field) {
        None => return Err("This field is required.".into()),
        Some(Value::Null) => return Err("This field may not be null.".into()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(format!(
                "Expected a list of items but got type \"{}\".",
                python_type(other)
            ));
        }
    };
    items
        .iter()
        .map(|item| {
            let id = match item {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            id.ok_or_else(|| match item {
                // An integer past i64 is well-typed but names nothing.
                Value::Number(n) if n.is_u64() => {
                    format!("Invalid pk \"{n}\" - object does not exist.")
                }
                _ => format!(
                    "Incorrect type. Expected pk value, received {}.",
                    python_type(item)
                ),
            })
        })
        .collect()
}

/// The Python type name DRF's messages use for a JSON value.
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
