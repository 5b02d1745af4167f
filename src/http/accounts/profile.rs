//! `profile/`: the caller's own profile, created on first access; `PUT` and
//! `PATCH` are both partial updates, from JSON or multipart (with a
//! `profile_picture` file). Also the profile body and update reading that
//! `user_profile/` and `users/` share.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    domain::profiles::{self, PictureInput, Profile, ProfileUpdate, ProvinceRef, pictures::Upload},
    http::{
        AppState,
        auth::Authenticated,
        error::ApiError,
        host::BaseUrl,
        input::{Fields, Payload},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_profile, update_own))
}

/// A group as bodies show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedBody {
    pub id: i32,
    pub name: String,
}

/// A profile as every endpoint returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileBody {
    pub username: String,
    pub email: String,
    pub phone: String,
    pub address: String,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// Absolute URL of the picture.
    pub profile_picture: Option<String>,
    pub bio: String,
    /// Profile-level roles.
    pub roles: Vec<NamedBody>,
    /// The user's own groups.
    pub groups: Vec<NamedBody>,
    pub province: Option<i32>,
    pub created_at: String,
    pub updated_at: String,
}

/// The caller's own profile update: every field optional. `province` is
/// an id or a name; `roles` are set only by an admin
/// (`user_profile/{user_id}/update/`) and ignored here.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OwnProfileRequest {
    #[schema(max_length = 20)]
    phone: Option<String>,
    #[schema(max_length = 255)]
    address: Option<String>,
    /// `YYYY-MM-DD`, not in the future, year 1 to 9999.
    birth_date: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    profile_picture: Option<String>,
    /// At most 10,000 characters.
    #[schema(max_length = 10000)]
    bio: Option<String>,
    #[schema(value_type = Option<Object>)]
    province: Option<Value>,
}

/// An admin's update of a user's profile: every field optional.
/// `province` is an id or a name; `roles` the complete list of group ids.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ProfileRequest {
    #[schema(max_length = 20)]
    phone: Option<String>,
    #[schema(max_length = 255)]
    address: Option<String>,
    /// `YYYY-MM-DD`, not in the future, year 1 to 9999.
    birth_date: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    profile_picture: Option<String>,
    /// At most 10,000 characters.
    #[schema(max_length = 10000)]
    bio: Option<String>,
    #[schema(value_type = Option<Object>)]
    province: Option<Value>,
    /// At most 1,000 ids.
    #[schema(max_items = 1000)]
    roles: Option<Vec<i32>>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn profile_body(p: Profile, base: &str) -> ProfileBody {
    let named = |v: Vec<profiles::Named>| {
        v.into_iter()
            .map(|n| NamedBody {
                id: n.id,
                name: n.name,
            })
            .collect()
    };
    ProfileBody {
        username: p.username,
        email: p.email,
        phone: p.phone,
        address: p.address,
        birth_date: p.birth_date.map(|d| d.to_string()),
        profile_picture: p.picture.map(|path| format!("{base}/media/{path}")),
        bio: p.bio,
        roles: named(p.roles),
        groups: named(p.groups),
        province: p.province_id,
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
    }
}

/// Reads a profile update; `with_roles` also reads `roles` (group ids).
/// `bio` is a text column without a bound in Django's model; 10,000
/// characters (counted after trimming, as DRF counts) keeps a profile a
/// profile rather than a file store.
pub fn read_update(payload: &Payload, with_roles: bool) -> ProfileUpdate {
    let mut f = Fields::new(payload);
    let mut update = ProfileUpdate::default();
    update.changes.phone = f.optional_string_max("phone", 20);
    update.changes.address = f.optional_string_max("address", 255);
    update.changes.bio = f.optional_string_max("bio", 10_000);
    let today = OffsetDateTime::now_utc().date();
    match payload.data.get("birth_date") {
        None => {}
        Some(Value::Null) => update.changes.birth_date = Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => update.changes.birth_date = Some(None),
        Some(Value::String(s)) => match profiles::parse_birth_date(s, today) {
            Ok(d) => update.changes.birth_date = Some(Some(d)),
            Err(m) => f.error("birth_date", m),
        },
        Some(_) => f.error(
            "birth_date",
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        ),
    }
    update.province = read_province(&mut f, payload.data.get("province"));
    update.picture = read_picture(&mut f, payload);
    if with_roles && let Some(value) = payload.data.get("roles") {
        match read_ids(value) {
            Some(ids) => update.changes.roles = Some(ids),
            None => f.error("roles", "Expected a list of group ids."),
        }
    }
    update.errors = f.into_errors();
    update
}

fn read_province(f: &mut Fields<'_>, value: Option<&Value>) -> Option<ProvinceRef> {
    match value? {
        Value::Null => Some(ProvinceRef::Clear),
        Value::Number(n) => match n.as_i64().and_then(|n| i32::try_from(n).ok()) {
            Some(id) => Some(ProvinceRef::Id(id)),
            None => {
                f.error(
                    "province",
                    "Incorrect type. Expected pk value or province name.",
                );
                None
            }
        },
        Value::String(s) if s.trim().is_empty() => Some(ProvinceRef::Clear),
        Value::String(s) => Some(match s.trim().parse::<i32>() {
            Ok(id) => ProvinceRef::Id(id),
            Err(_) => ProvinceRef::Name(s.trim().to_string()),
        }),
        _ => {
            f.error(
                "province",
                "Incorrect type. Expected pk value or province name.",
            );
            None
        }
    }
}

fn read_picture(f: &mut Fields<'_>, payload: &Payload) -> Option<PictureInput> {
    if let Some(file) = payload
        .files
        .iter()
        .rev()
        .find(|u| u.field == "profile_picture")
    {
        return Some(PictureInput::Upload(Upload {
            filename: file.filename.clone(),
            content_type: file.content_type.clone(),
            bytes: file.bytes.to_vec(),
        }));
    }
    match payload.data.get("profile_picture")? {
        Value::Null => Some(PictureInput::Clear),
        Value::String(s) if s.is_empty() => Some(PictureInput::Clear),
        _ => {
            f.error(
                "profile_picture",
                "The submitted data was not a file. Check the encoding type on the form.",
            );
            None
        }
    }
}

/// A list of ids: a JSON array of numbers (or numeric strings), or a
/// comma-separated string (form bodies).
pub fn read_ids(value: &Value) -> Option<Vec<i32>> {
    let one = |v: &Value| match v {
        Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::String(s) if s.trim().is_empty() => Some(Vec::new()),
        Value::String(s) => s.split(',').map(|p| p.trim().parse().ok()).collect(),
        _ => None,
    }
}

/// The caller's profile (created if missing).
#[utoipa::path(get, path = "/api/auth/profile/", tag = "accounts",
    responses((status = 200, description = "The profile", body = ProfileBody)))]
async fn get_profile(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let profile = profiles::get_or_create(&state.store, caller.user.id).await?;
    Ok(Json(profile_body(profile, &base)).into_response())
}

/// Update the caller's profile (JSON or multipart).
///
/// Every field is optional, with PUT as with PATCH.
#[utoipa::path(method(put, patch), path = "/api/auth/profile/", tag = "accounts",
    request_body(content((OwnProfileRequest = "application/json"), (OwnProfileRequest = "multipart/form-data"))),
    responses((status = 200, description = "The profile", body = ProfileBody),
        (status = 400, description = "Field errors")))]
async fn update_own(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    BaseUrl(base): BaseUrl,
    payload: Payload,
) -> Result<Response, ApiError> {
    let update = read_update(&payload, false);
    let profile =
        profiles::update(&state.store, &state.settings.media, caller.user.id, update).await?;
    Ok(Json(profile_body(profile, &base)).into_response())
}
