//! `users/activation/` and `users/resend_activation/` (1.x: `users/activate/`,
//! `users/confirm/`, `activate/`, `users/resend/`).

use axum::{extract::State, response::Response, routing::post};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ALLOW_ACTION, fallback, no_content, schema, with_fallback};
use crate::{
    domain::users::EmailAddress,
    http::{
        AppState,
        auth::MaybeCaller,
        error::ApiError,
        input::{Fields, Payload},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    let activate = || fallback(post(activation), "Activation", ALLOW_ACTION, true);
    let resend = || {
        fallback(
            post(resend_activation),
            "Resend Activation",
            ALLOW_ACTION,
            true,
        )
    };
    OpenApiRouter::new()
        .routes(with_fallback(
            routes!(activation),
            "Activation",
            ALLOW_ACTION,
            true,
        ))
        .routes(with_fallback(
            routes!(resend_activation),
            "Resend Activation",
            ALLOW_ACTION,
            true,
        ))
        .route("/auth/users/activate/", activate())
        .route("/auth/users/confirm/", activate())
        .route("/auth/activate/", activate())
        .route("/auth/users/resend/", resend())
}

/// Reads the required `email` field of the reset/resend bodies.
pub(crate) fn read_email(payload: &Payload) -> Result<EmailAddress, ApiError> {
    let mut f = Fields::new(payload);
    let email = required_email(&mut f, "email");
    f.finish()?;
    email.ok_or_else(|| ApiError::bad_request("Invalid e-mail."))
}

/// A required address field, its problems reported under `name`.
pub(crate) fn required_email(f: &mut Fields<'_>, name: &str) -> Option<EmailAddress> {
    match EmailAddress::parse(&f.required_email_text(name)?) {
        Ok(email) => Some(email),
        Err(messages) => {
            for m in messages {
                f.error(name, m);
            }
            None
        }
    }
}

/// Activate an account with the `uid` and `token` from its activation link.
///
/// 204 on success; 400 `{"uid": [...]}` or `{"token": [...]}`; 403 when
/// the account is already active.
#[utoipa::path(post, path = "/auth/users/activation/", tag = "djoser",
    request_body = schema::UidToken,
    responses((status = 204), (status = 400, body = schema::FieldErrors), (status = 403, description = "Stale token: already active", body = schema::Detail)))]
async fn activation(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let uid = f.required_string("uid");
    let token = f.required_string("token");
    f.finish()?;
    let (uid, token) = (uid.unwrap_or_default(), token.unwrap_or_default());
    state.flows.activate(&uid, &token).await?;
    Ok(no_content())
}

/// Send the activation mail again to an inactive account.
///
/// 204 whether or not the address is known (unless a
/// `*_show_email_not_found` setting is on); 400 with an empty body when
/// activation mails are off.
#[utoipa::path(post, path = "/auth/users/resend_activation/", tag = "djoser",
    request_body = schema::EmailRequest,
    responses((status = 204), (status = 400, body = schema::FieldErrors)))]
async fn resend_activation(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    payload: Payload,
) -> Result<Response, ApiError> {
    let email = read_email(&payload)?;
    state.flows.resend_activation(&email).await?;
    Ok(no_content())
}
