//! `users/`: registration, the user list, one user, `users/me/`, and the
//! 1.x aliases `users/create/`, `register/`, `me/`, `users/delete/`.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    ALLOW_ACTION, ALLOW_DETAIL, ALLOW_LIST, created_body, extra_fields, fallback, no_content,
    ordered, read_current_password, schema, user_body, with_fallback,
};
use crate::{
    config::{LoginField, Settings},
    domain::{
        FieldErrors,
        access::Principal,
        flows::{Registration, messages},
        password::Password,
        sessions::Caller,
        users::{EmailAddress, User, UserUpdate, Username},
    },
    http::{
        AppState,
        auth::{Authenticated, MaybeCaller},
        error::ApiError,
        input::{Fields, Payload},
    },
    store::UserChanges,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(with_fallback(
            routes!(register, list_users),
            "User List",
            ALLOW_LIST,
            true,
        ))
        .routes(with_fallback(
            routes!(get_user, update_user, delete_user),
            "User Instance",
            ALLOW_DETAIL,
            true,
        ))
        .routes(with_fallback(
            routes!(get_me, update_me, delete_me),
            "User Me",
            ALLOW_DETAIL,
            true,
        ))
        // Djoser 1.x paths, same behaviour as their 2.x equivalents.
        .route(
            "/auth/users/create/",
            fallback(post(register), "User Create", ALLOW_ACTION, false),
        )
        .route(
            "/auth/register/",
            fallback(post(register), "User Create", ALLOW_ACTION, false),
        )
        .route(
            "/auth/me/",
            fallback(
                get(get_me).put(update_me).patch(update_me),
                "User Me",
                "GET, PUT, PATCH, HEAD, OPTIONS",
                true,
            ),
        )
        .route(
            "/auth/users/delete/",
            fallback(post(delete_me), "User Delete", ALLOW_ACTION, true),
        )
}

/// Reads the login field's value: a username, or an e-mail address when
/// users log in by e-mail.
pub(super) fn read_login(f: &mut Fields<'_>, name: &str, kind: LoginField) -> Option<String> {
    let parsed = match kind {
        LoginField::Username => {
            Username::parse(&f.required_string(name)?).map(|u| u.as_str().to_string())
        }
        LoginField::Email => {
            EmailAddress::parse(&f.required_email_text(name)?).map(|e| e.as_str().to_string())
        }
    };
    match parsed {
        Ok(v) => Some(v),
        Err(messages) => {
            for m in messages {
                f.error(name, m);
            }
            None
        }
    }
}

/// Reads an optional e-mail field; `""` is allowed and means "none".
fn read_email(f: &mut Fields<'_>, name: &str) -> Option<String> {
    let raw = f.optional_email_text(name)?;
    if raw.is_empty() {
        return Some(raw);
    }
    match EmailAddress::parse(&raw) {
        Ok(e) => Some(e.as_str().to_string()),
        Err(messages) => {
            for m in messages {
                f.error(name, m);
            }
            None
        }
    }
}

/// The editable profile fields (`users.required_fields`) of a body.
fn read_profile(f: &mut Fields<'_>, settings: &Settings) -> UserChanges {
    let mut changes = UserChanges::default();
    for name in extra_fields(settings) {
        match name {
            "email" => changes.email = read_email(f, "email"),
            "first_name" => changes.first_name = f.optional_string_max("first_name", 150),
            "last_name" => changes.last_name = f.optional_string_max("last_name", 150),
            _ => {}
        }
    }
    changes
}

/// Register a user (Djoser `POST users/`; 1.x: `users/create/`, `register/`).
///
/// Body: the login field, `password` (and `re_password` with
/// `user_create_password_retype`), plus the fields of
/// `users.required_fields`. With `send_activation_email` the account starts
/// inactive and an activation mail is queued.
#[utoipa::path(post, path = "/auth/users/", tag = "djoser",
    request_body = schema::RegisterRequest,
    responses(
        (status = 201, description = "Created", body = schema::UserBody),
        (status = 400, description = "Field errors", body = schema::FieldErrors),
        (status = 401, description = "Bad credentials were sent", body = schema::Detail)))]
async fn register(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    let user = register_user(&state, &payload).await?;
    Ok((
        StatusCode::CREATED,
        Json(created_body(&state.settings, &user)),
    )
        .into_response())
}

/// Registration with Djoser's rules and validation order; the Accounts
/// API's `register/` uses it too.
pub(crate) async fn register_user(state: &AppState, payload: &Payload) -> Result<User, ApiError> {
    let s = &state.settings;
    let kind = s.users.login_field;
    let login_name = kind.name();
    let mut f = Fields::new(payload);
    let profile = read_profile(&mut f, s);
    let login = read_login(&mut f, login_name, kind);
    let password = f.required_string("password");
    let re_password = if s.djoser.user_create_password_retype {
        f.required_string("re_password")
    } else {
        None
    };
    let mut errors = f.into_errors();
    // Accounts that log in by e-mail keep their address in `username`
    // too (the column is required); only the address is checked.
    let (username, email) = match kind {
        LoginField::Username => (login.clone(), profile.email.clone()),
        LoginField::Email => (None, login.clone()),
    };
    errors.extend(
        state
            .users
            .uniqueness_errors(username.as_deref(), email.as_deref(), None)
            .await?,
    );
    let mut order: Vec<&str> = extra_fields(s);
    order.extend([login_name, "password", "re_password"]);
    if !errors.is_empty() {
        return Err(ApiError::fields(ordered(errors, &order)));
    }
    let email = email
        .filter(|e| !e.is_empty())
        .and_then(|e| EmailAddress::parse(&e).ok());
    let username = match (kind, username, &email) {
        (LoginField::Username, Some(u), _) => Username::parse(&u).ok(),
        (LoginField::Email, _, Some(e)) => Some(Username::from_email(e)),
        _ => None,
    };
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::json(
            StatusCode::BAD_REQUEST,
            serde_json::json!([messages::CANNOT_CREATE_USER]),
        ));
    };
    let registration = Registration {
        username,
        email,
        first_name: profile.first_name.unwrap_or_default(),
        last_name: profile.last_name.unwrap_or_default(),
        password: Password::new(password),
        re_password: re_password.map(Password::new),
    };
    Ok(state.flows.register(registration).await?)
}

/// List users. Non-staff callers see only themselves while `hide_users`.
#[utoipa::path(get, path = "/auth/users/", tag = "djoser",
    responses((status = 200, description = "The users", body = Vec<schema::UserBody>), (status = 401, description = "Not authenticated", body = schema::Detail)))]
async fn list_users(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let s = &state.settings;
    let users = if s.djoser.hide_users && !caller.user.is_staff {
        vec![caller.user.clone()]
    } else {
        state.store.list_users().await?
    };
    let body: Vec<_> = users.iter().map(|u| user_body(s, u)).collect();
    Ok(Json(body).into_response())
}

/// The user `id` as the caller may see it: staff see anyone, others only
/// themselves; with `hide_users` others are "not found", exactly like ids
/// that do not exist (Djoser's messages differ and leak which exist).
async fn visible_user(state: &AppState, caller: &User, id: &str) -> Result<User, ApiError> {
    let id: i32 = id.trim().parse().map_err(|_| ApiError::not_found())?;
    if id == caller.id {
        return Ok(caller.clone());
    }
    let target = state.store.find_user_by_id(id).await?;
    let allowed = caller.is_staff;
    match target {
        Some(user) if allowed => Ok(user),
        Some(_) if !state.settings.djoser.hide_users => Err(ApiError::forbidden()),
        _ => Err(ApiError::not_found()),
    }
}

/// One user (self, or anyone for staff).
#[utoipa::path(get, path = "/auth/users/{id}/", tag = "djoser", params(("id" = i32, Path)),
    responses((status = 200, description = "The user", body = schema::UserBody), (status = 401, body = schema::Detail), (status = 403, body = schema::Detail), (status = 404, body = schema::Detail)))]
async fn get_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = visible_user(&state, &caller.user, &id).await?;
    Ok(Json(user_body(&state.settings, &user)).into_response())
}

/// Djoser's update, as `caller` (see `Users::update` for who may).
async fn update(
    state: &AppState,
    caller: &Principal,
    user: &User,
    payload: &Payload,
) -> Result<Response, ApiError> {
    let s = &state.settings;
    let mut f = Fields::new(payload);
    let changes = read_profile(&mut f, s);
    let mut errors: FieldErrors = f.into_errors();
    if let Some(email) = changes.email.as_deref() {
        errors.extend(
            state
                .users
                .uniqueness_errors(None, Some(email), Some(user.id))
                .await?,
        );
    }
    let update = UserUpdate {
        changes,
        groups: None,
        errors: ordered(errors, &extra_fields(s)),
    };
    let updated = state.users.update(caller, user, update).await?;
    Ok(Json(user_body(s, &updated)).into_response())
}

/// Change a user's editable fields (the login field is read-only).
///
/// Every field is optional, with PUT as with PATCH.
#[utoipa::path(method(put, patch), path = "/auth/users/{id}/", tag = "djoser", params(("id" = i32, Path)),
    request_body = schema::UserUpdate, responses((status = 200, body = schema::UserBody), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail), (status = 403, body = schema::Detail), (status = 404, body = schema::Detail)))]
async fn update_user(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let user = visible_user(&state, &caller.user, &id).await?;
    update(&state, &caller, &user, &payload).await
}

/// Checks `current_password` (the caller's, as Djoser does) and deletes
/// `target` (see `Users::delete` for who may).
async fn delete(
    state: &AppState,
    (caller, credential): (&Principal, &Caller),
    target: &User,
    payload: &Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(payload);
    read_current_password(state, &caller.user, &mut f).await?;
    f.finish()?;
    state
        .mfa
        .guard_credentials_change(credential, super::mfa::inline_code(payload).as_deref())
        .await?;
    state.users.delete(caller, target.id).await?;
    Ok(no_content())
}

/// Delete a user; body `{"current_password"}` (the caller's password).
#[utoipa::path(delete, path = "/auth/users/{id}/", tag = "djoser", params(("id" = i32, Path)),
    request_body = schema::CurrentPassword,
    responses((status = 204), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail),
        (status = 403, description = "Not allowed to delete this user; or, with `security.reauthentication`, a caller with a second factor sent no `code` and signed in with both factors too long ago (`code` `reauthentication_required`)", body = schema::Detail),
        (status = 404, body = schema::Detail), (status = 409, body = schema::Detail)))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Principal,
    Authenticated(credential): Authenticated,
    Path(id): Path<String>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let target = visible_user(&state, &caller.user, &id).await?;
    delete(&state, (&caller, &credential), &target, &payload).await
}

/// The caller (1.x: `me/`).
#[utoipa::path(get, path = "/auth/users/me/", tag = "djoser",
    responses((status = 200, description = "The caller", body = schema::UserBody), (status = 401, body = schema::Detail)))]
async fn get_me(State(state): State<AppState>, Authenticated(caller): Authenticated) -> Response {
    Json(user_body(&state.settings, &caller.user)).into_response()
}

/// Change the caller's editable fields (1.x: `me/`).
///
/// Every field is optional, with PUT as with PATCH.
#[utoipa::path(method(put, patch), path = "/auth/users/me/", tag = "djoser", request_body = schema::UserUpdate,
    responses((status = 200, body = schema::UserBody), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail)))]
async fn update_me(
    State(state): State<AppState>,
    caller: Principal,
    payload: Payload,
) -> Result<Response, ApiError> {
    let user = caller.user.clone();
    update(&state, &caller, &user, &payload).await
}

/// Delete the caller's account; body `{"current_password"}` (1.x: `POST users/delete/`).
#[utoipa::path(delete, path = "/auth/users/me/", tag = "djoser",
    request_body = schema::CurrentPassword,
    responses((status = 204), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail),
        (status = 403, description = "With `security.reauthentication`: a caller with a second factor sent no `code` and signed in with both factors too long ago (`code` `reauthentication_required`)", body = schema::Detail),
        (status = 409, body = schema::Detail)))]
async fn delete_me(
    State(state): State<AppState>,
    caller: Principal,
    Authenticated(credential): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let target = caller.user.clone();
    delete(&state, (&caller, &credential), &target, &payload).await
}
