//! Password reset for the Accounts API. `forgot-password/` answers the
//! same for known and unknown addresses and sends the link by mail (the
//! original app returned uid and token to anyone, which handed accounts
//! over); uid and token appear in the answer only for an admin caller or
//! with `accounts.reset_token_in_response` (development).

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    domain::{access::is_admin, password::Password},
    http::{
        AppState,
        auth::MaybeCaller,
        djoser::{flow_error, schema},
        error::ApiError,
        input::{Fields, Payload},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password_confirm))
}

const SENT: &str =
    "If an account with this e-mail address exists, a password reset link has been sent to it.";

#[derive(Serialize, ToSchema)]
pub struct ForgotResponse {
    pub detail: String,
    /// Only for admins, or with `accounts.reset_token_in_response`.
    pub uid: Option<String>,
    pub token: Option<String>,
}

/// Mail a password-reset link to the account with this address.
#[utoipa::path(post, path = "/api/auth/forgot-password/", tag = "accounts", request_body = schema::EmailRequest,
    responses((status = 200, body = ForgotResponse), (status = 400, body = schema::FieldErrors)))]
async fn forgot_password(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    let email = crate::http::djoser::activation::read_email(&payload)?;
    let link = state
        .accounts
        .forgot_password(&email)
        .await
        .map_err(flow_error)?;
    let show = state.settings.accounts.reset_token_in_response
        || match &caller {
            Some(c) => {
                is_admin(
                    &state.store,
                    &state.settings.accounts,
                    &c.user,
                    "auth.change_user",
                )
                .await?
            }
            None => false,
        };
    let mut body = Map::new();
    body.insert("detail".into(), json!(SENT));
    if show && let Some((uid, token)) = link {
        body.insert("uid".into(), json!(uid));
        body.insert("token".into(), json!(token));
    }
    Ok(Json(Value::Object(body)).into_response())
}

/// Set a new password with the `uid` and `token` from the mail; the link
/// works once and every session of the user is signed out.
#[utoipa::path(post, path = "/api/auth/reset-password-confirm/", tag = "accounts", request_body = schema::ResetPasswordConfirm,
    responses((status = 200, body = schema::Detail), (status = 400, body = schema::FieldErrors)))]
async fn reset_password_confirm(
    State(state): State<AppState>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let uid = f.required_string("uid");
    let token = f.required_string("token");
    let new = f.required_string("new_password");
    f.finish()?;
    state
        .accounts
        .reset_password_confirm(
            &uid.unwrap_or_default(),
            &token.unwrap_or_default(),
            &Password::new(new.unwrap_or_default()),
            None,
        )
        .await
        .map_err(flow_error)?;
    Ok(Json(json!({"detail": "Password has been reset."})).into_response())
}
