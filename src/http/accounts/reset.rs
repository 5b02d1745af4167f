//! Password reset for the Accounts API. `forgot-password/` answers the
//! same for known and unknown addresses and sends the link by mail (the
//! original app returned uid and token to anyone, which handed accounts
//! over); uid and token appear in the answer only with
//! `accounts.reset_token_in_response` (development), or for a superuser
//! caller when the account is neither a superuser nor staff (so an answer
//! never hands over a privileged account).

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
    domain::password::Password,
    http::{
        AppState,
        auth::MaybeCaller,
        djoser::schema,
        error::ApiError,
        input::{Fields, Payload},
    },
    security::django_tokens::decode_uid,
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
    /// Only with `accounts.reset_token_in_response`, or for a superuser
    /// caller and an account that is neither superuser nor staff.
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
    let link = state.flows.forgot_password(&email).await?;
    // Never hand a privileged account's link to anyone: besides the
    // development setting, only a superuser sees uid and token, and only
    // for an account that is neither a superuser nor staff.
    let show = match (&link, &caller) {
        _ if state.settings.accounts.reset_token_in_response => true,
        (Some((uid, _)), Some(c)) if c.user.is_active && c.user.is_superuser => {
            match decode_uid(uid) {
                Some(target) => state
                    .store
                    .find_user_by_id(target)
                    .await?
                    .is_some_and(|t| !t.is_superuser && !t.is_staff),
                None => false,
            }
        }
        _ => false,
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
        .flows
        .reset_password_confirm(
            &uid.unwrap_or_default(),
            &token.unwrap_or_default(),
            &Password::new(new.unwrap_or_default()),
            None,
        )
        .await?;
    Ok(Json(json!({"detail": "Password has been reset."})).into_response())
}
