//! `users/change_email/` and `users/change_email_confirm/` (doorman): an
//! address change that applies only once the new address follows the link
//! mailed to it. The rules are `domain::flows::email_change`'s and, for
//! asking who the caller is again, `domain::mfa`'s.

use axum::{extract::State, response::Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ALLOW_ACTION, no_content, password::own_token, schema, with_fallback};
use crate::{
    domain::password::Password,
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
            routes!(change_email),
            "Change Email",
            ALLOW_ACTION,
            true,
        ))
        .routes(with_fallback(
            routes!(change_email_confirm),
            "Change Email Confirm",
            ALLOW_ACTION,
            true,
        ))
}

#[derive(Serialize, ToSchema)]
pub struct ChangeEmail {
    pub new_email: String,
    /// Not needed within `mfa.reauthentication_timeout` of a two-factor sign-in
    /// or of `reauthenticate/`.
    pub current_password: Option<String>,
    /// A TOTP or recovery code, with the password, once MFA is on.
    pub code: Option<String>,
}

/// Ask to change the caller's address: a link valid for a day goes to
/// `new_email`, a notice to the current address. Answers 204 whether or
/// not the new address belongs to another account (which then gets
/// nothing).
#[utoipa::path(post, path = "/auth/users/change_email/", tag = "doorman",
    request_body = ChangeEmail,
    responses((status = 204), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail),
        (status = 403, description = "No recent sign-in and no `current_password` (or, once MFA is on, no `code`): `code` `reauthentication_required`", body = schema::Detail),
        (status = 429, body = schema::Detail)))]
async fn change_email(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let new = super::activation::required_email(&mut f, "new_email");
    let password = f.optional_string("current_password").map(Password::new);
    let code = f.optional_string("code");
    f.finish()?;
    let Some(new) = new else {
        return Err(ApiError::bad_request("Invalid e-mail."));
    };
    state
        .mfa
        .reauthenticate(&caller, password.as_ref(), code.as_deref())
        .await?;
    state.flows.request_email_change(&caller.user, &new).await?;
    Ok(no_content())
}

/// Apply an address change with the `uid` and `token` from the link in the
/// new address's mail: good once, within a day. Every other login of the
/// user ends (a caller's own opaque token stays), and reset links mailed
/// before stop working.
#[utoipa::path(post, path = "/auth/users/change_email_confirm/", tag = "doorman",
    request_body = schema::UidToken,
    responses((status = 204), (status = 400, description = "A bad `uid` or `token`, or the address was taken meanwhile (`email`)", body = schema::FieldErrors)))]
async fn change_email_confirm(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let uid = f.required_string("uid");
    let token = f.required_string("token");
    f.finish()?;
    let keep = caller.as_ref().and_then(own_token);
    state
        .flows
        .confirm_email_change(&uid.unwrap_or_default(), &token.unwrap_or_default(), keep)
        .await?;
    Ok(no_content())
}
