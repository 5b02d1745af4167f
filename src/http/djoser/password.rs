//! `users/set_password/`, `users/reset_password/`,
//! `users/reset_password_confirm/` (1.x: `password/`, `password/reset/`,
//! `password/reset/confirm/`).

use axum::{extract::State, response::Response, routing::post};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    ALLOW_ACTION, activation::read_email, fallback, no_content, read_current_password, schema,
    with_fallback,
};
use crate::{
    domain::{
        password::Password,
        sessions::{Caller, Via},
    },
    http::{
        AppState,
        auth::{Authenticated, MaybeCaller},
        error::ApiError,
        input::{Fields, Payload},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(with_fallback(
            routes!(set_password),
            "Set Password",
            ALLOW_ACTION,
            true,
        ))
        .routes(with_fallback(
            routes!(reset_password),
            "Reset Password",
            ALLOW_ACTION,
            true,
        ))
        .routes(with_fallback(
            routes!(reset_password_confirm),
            "Reset Password Confirm",
            ALLOW_ACTION,
            true,
        ))
        .route(
            "/auth/password/",
            fallback(post(set_password), "Set Password", ALLOW_ACTION, true),
        )
        .route(
            "/auth/password/reset/",
            fallback(post(reset_password), "Reset Password", ALLOW_ACTION, true),
        )
        .route(
            "/auth/password/reset/confirm/",
            fallback(
                post(reset_password_confirm),
                "Reset Password Confirm",
                ALLOW_ACTION,
                true,
            ),
        )
}

/// The caller's opaque token, kept when their other sessions are revoked.
pub(super) fn own_token(caller: &Caller) -> Option<&crate::store::TokenRef> {
    match &caller.via {
        Via::Token(token) => Some(token),
        Via::Jwt(_) => None,
    }
}

/// Change the caller's password.
///
/// Body `{"new_password", "current_password"}` (+ `re_new_password` with
/// `set_password_retype`). The caller's other tokens and every JWT issued
/// before the change stop working (doorman; Djoser keeps them).
#[utoipa::path(post, path = "/auth/users/set_password/", tag = "djoser",
    request_body = schema::SetPassword,
    responses((status = 204), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail),
        (status = 403, description = "With `security.reauthentication`: a caller with a second factor sent no `code` and signed in with both factors too long ago (`code` `reauthentication_required`)", body = schema::Detail)))]
async fn set_password(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let new = f.required_string("new_password");
    let retype = state.settings.djoser.set_password_retype;
    let again = if retype {
        f.required_string("re_new_password")
    } else {
        None
    };
    read_current_password(&state, &caller.user, &mut f).await?;
    f.finish()?;
    state
        .mfa
        .guard_credentials_change(&caller, super::mfa::inline_code(&payload).as_deref())
        .await?;
    let new = Password::new(new.unwrap_or_default());
    let again = again.map(Password::new);
    state
        .flows
        .set_password(&caller.user, &new, again.as_ref(), own_token(&caller))
        .await?;
    Ok(no_content())
}

/// Mail a password-reset link to the account with this address.
///
/// Always 204 for a well-formed address (unless a `*_show_email_not_found`
/// setting is on), so the answer does not tell whether it is registered.
#[utoipa::path(post, path = "/auth/users/reset_password/", tag = "djoser",
    request_body = schema::EmailRequest,
    responses((status = 204), (status = 400, body = schema::FieldErrors)))]
async fn reset_password(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    let email = read_email(&payload)?;
    state.flows.request_reset(&email, false).await?;
    Ok(no_content())
}

/// Set a new password with the `uid` and `token` from a reset link.
///
/// The link works once; every session of the user is revoked.
#[utoipa::path(post, path = "/auth/users/reset_password_confirm/", tag = "djoser",
    request_body = schema::ResetPasswordConfirm,
    responses((status = 204), (status = 400, body = schema::FieldErrors)))]
async fn reset_password_confirm(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let uid = f.required_string("uid");
    let token = f.required_string("token");
    let new = f.required_string("new_password");
    let again = if state.settings.djoser.password_reset_confirm_retype {
        f.required_string("re_new_password")
    } else {
        None
    };
    f.finish()?;
    let new = Password::new(new.unwrap_or_default());
    let again = again.map(Password::new);
    state
        .flows
        .reset_password_confirm(
            &uid.unwrap_or_default(),
            &token.unwrap_or_default(),
            &new,
            again.as_ref(),
        )
        .await?;
    Ok(no_content())
}
