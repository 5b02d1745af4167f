//! `users/set_{U}/`, `users/reset_{U}/`, `users/reset_{U}_confirm/` where
//! `{U}` is the login field (`username` or `email`; 1.x aliases
//! `users/change_username/` and `{U}/`). Each action has one implementation
//! and a thin documented entry point per login field, because the paths
//! differ.

use axum::{extract::State, response::Response, routing::post};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    ALLOW_ACTION, activation::read_email, fallback, no_content, read_current_password, schema,
    users::read_login, with_fallback,
};
use crate::{
    config::LoginField,
    domain::{flows::messages, users::Username},
    http::{
        AppState,
        auth::{Authenticated, MaybeCaller},
        error::ApiError,
        input::{Fields, Payload},
    },
};

pub fn routes(field: LoginField) -> OpenApiRouter<AppState> {
    let router = match field {
        LoginField::Username => OpenApiRouter::new()
            .routes(with_fallback(
                routes!(set_username),
                "Set Username",
                ALLOW_ACTION,
                true,
            ))
            .routes(with_fallback(
                routes!(reset_username),
                "Reset Username",
                ALLOW_ACTION,
                true,
            ))
            .routes(with_fallback(
                routes!(reset_username_confirm),
                "Reset Username Confirm",
                ALLOW_ACTION,
                true,
            ))
            .route(
                "/auth/username/",
                fallback(post(set_username), "Set Username", ALLOW_ACTION, true),
            ),
        LoginField::Email => OpenApiRouter::new()
            .routes(with_fallback(
                routes!(set_email),
                "Set Username",
                ALLOW_ACTION,
                true,
            ))
            .routes(with_fallback(
                routes!(reset_email),
                "Reset Username",
                ALLOW_ACTION,
                true,
            ))
            .routes(with_fallback(
                routes!(reset_email_confirm),
                "Reset Username Confirm",
                ALLOW_ACTION,
                true,
            ))
            .route(
                "/auth/email/",
                fallback(post(set_email), "Set Username", ALLOW_ACTION, true),
            ),
    };
    let change = match field {
        LoginField::Username => post(set_username),
        LoginField::Email => post(set_email),
    };
    router.route(
        "/auth/users/change_username/",
        fallback(change, "Set Username", ALLOW_ACTION, true),
    )
}

/// Reads `new_{U}` (and `re_new_{U}` with `retype`), adding the unique
/// check; returns the value and the retyped one.
async fn read_new_login(
    state: &AppState,
    f: &mut Fields<'_>,
    retype: bool,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let kind = state.settings.users.login_field;
    let name = format!("new_{}", kind.name());
    let value = read_login(f, &name, kind);
    if let Some(v) = &value {
        // As Djoser does, the caller's own current value counts as taken.
        let (u, e) = match kind {
            LoginField::Username => (Some(v.as_str()), None),
            LoginField::Email => (None, Some(v.as_str())),
        };
        for (_, m) in state.users.uniqueness_errors(u, e, None).await? {
            for message in m {
                f.error(&name, message);
            }
        }
    }
    let again = if retype {
        f.required_string(&format!("re_new_{}", kind.name()))
    } else {
        None
    };
    // The new username is in its stored (NFKC) form; so is the retype, or
    // the same look-alike typed twice would not match.
    let again = match kind {
        LoginField::Username => again.map(|a| Username::normalize(&a)),
        LoginField::Email => again,
    };
    Ok((value, again))
}

fn mismatch(state: &AppState, value: &str, again: Option<&str>) -> Result<(), ApiError> {
    match again {
        Some(a) if a != value => Err(ApiError::non_field(vec![messages::username_mismatch(
            state.settings.users.login_field.name(),
        )])),
        _ => Ok(()),
    }
}

async fn set_login(
    state: AppState,
    caller: crate::domain::sessions::Caller,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    read_current_password(&state, &caller.user, &mut f).await?;
    let (value, again) =
        read_new_login(&state, &mut f, state.settings.djoser.set_username_retype).await?;
    f.finish()?;
    let value = value.unwrap_or_default();
    mismatch(&state, &value, again.as_deref())?;
    state
        .mfa
        .guard_credentials_change(&caller, super::mfa::inline_code(&payload).as_deref())
        .await?;
    state.flows.set_login(&caller.user, &value).await?;
    Ok(no_content())
}

async fn reset_login(state: AppState, payload: Payload) -> Result<Response, ApiError> {
    let email = read_email(&payload)?;
    state.flows.request_reset(&email, true).await?;
    Ok(no_content())
}

async fn reset_login_confirm(state: AppState, payload: Payload) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let (value, again) = read_new_login(
        &state,
        &mut f,
        state.settings.djoser.username_reset_confirm_retype,
    )
    .await?;
    // As in Djoser, `uid` and `token` are read raw: no blank/null errors,
    // a missing one is simply invalid.
    let raw = |name: &str| match payload.data.get(name) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let (uid, token) = (raw("uid"), raw("token"));
    f.finish()?;
    let value = value.unwrap_or_default();
    mismatch(&state, &value, again.as_deref())?;
    state
        .flows
        .reset_login_confirm(&uid, &token, &value)
        .await?;
    Ok(no_content())
}

/// Change the caller's username. Body `{"current_password", "new_username"}`
/// (+ `re_new_username` with `set_username_retype`).
#[utoipa::path(post, path = "/auth/users/set_username/", tag = "djoser",
    request_body = schema::SetUsername,
    responses((status = 204), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail)))]
async fn set_username(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    set_login(state, caller, payload).await
}

/// Mail a username-change link to the account with this address.
#[utoipa::path(post, path = "/auth/users/reset_username/", tag = "djoser",
    request_body = schema::EmailRequest,
    responses((status = 204), (status = 400, body = schema::FieldErrors)))]
async fn reset_username(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    reset_login(state, payload).await
}

/// Set a new username with the `uid` and `token` from a username-reset link.
#[utoipa::path(post, path = "/auth/users/reset_username_confirm/", tag = "djoser",
    request_body = schema::ResetUsernameConfirm,
    responses((status = 204), (status = 400, body = schema::FieldErrors)))]
async fn reset_username_confirm(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    reset_login_confirm(state, payload).await
}

/// Change the caller's e-mail (login by e-mail). Body
/// `{"current_password", "new_email"}` (+ `re_new_email`).
#[utoipa::path(post, path = "/auth/users/set_email/", tag = "djoser",
    request_body = schema::SetEmail,
    responses((status = 204), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail)))]
async fn set_email(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    set_login(state, caller, payload).await
}

/// Mail an e-mail-change link (login by e-mail).
#[utoipa::path(post, path = "/auth/users/reset_email/", tag = "djoser",
    request_body = schema::EmailRequest,
    responses((status = 204), (status = 400, body = schema::FieldErrors)))]
async fn reset_email(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    reset_login(state, payload).await
}

/// Set a new e-mail with the `uid` and `token` from the link (login by e-mail).
#[utoipa::path(post, path = "/auth/users/reset_email_confirm/", tag = "djoser",
    request_body = schema::ResetEmailConfirm,
    responses((status = 204), (status = 400, body = schema::FieldErrors)))]
async fn reset_email_confirm(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    reset_login_confirm(state, payload).await
}
