//! simplejwt's views: `jwt/create/`, `jwt/refresh/`, `jwt/verify/`, and
//! doorman's `jwt/blacklist/`. Like simplejwt's, they ignore any
//! `Authorization` header.

use crate::http::client::ClientAddr;
use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ALLOW_ACTION, no_content, schema, with_fallback};
use crate::{
    domain::{Error, mfa::Issue, password::Password, sessions::SignIn, users::User},
    http::{
        AppState,
        auth::unauthorized,
        error::ApiError,
        input::{Fields, Payload},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(with_fallback(
            routes!(jwt_create),
            "Token Obtain Pair",
            ALLOW_ACTION,
            false,
        ))
        .routes(with_fallback(
            routes!(jwt_refresh),
            "Token Refresh",
            ALLOW_ACTION,
            false,
        ))
        .routes(with_fallback(
            routes!(jwt_verify),
            "Token Verify",
            ALLOW_ACTION,
            false,
        ))
        .routes(with_fallback(
            routes!(jwt_blacklist),
            "Token Blacklist",
            ALLOW_ACTION,
            false,
        ))
}

fn one_field(payload: &Payload, name: &str) -> Result<String, ApiError> {
    let mut f = Fields::new(payload);
    let value = f.required_string(name);
    f.finish()?;
    Ok(value.unwrap_or_default())
}

/// Log in: a refresh and an access JWT.
#[utoipa::path(post, path = "/auth/jwt/create/", tag = "djoser",
    request_body = schema::Credentials,
    responses((status = 200, description = "The pair", body = schema::TokenPairBody), (status = 400, body = schema::FieldErrors),
        (status = 401, description = "Wrong credentials (`detail`), or the password was right and a second factor is needed (`code` `mfa_required`: finish at `mfa/login/`)", body = schema::LoginRefused)))]
async fn jwt_create(
    State(state): State<AppState>,
    client: ClientAddr,
    payload: Payload,
) -> Result<Response, ApiError> {
    let field = state.settings.users.login_field;
    let mut f = Fields::new(&payload);
    let login = f.required_string(field.name());
    let password = f.required_string("password");
    f.finish()?;
    let code = super::mfa::inline_code(&payload);
    let user = match state
        .users
        .login(
            &[field],
            &login.unwrap_or_default(),
            &Password::new(password.unwrap_or_default()),
            &client.budget_key(),
        )
        .await
    {
        Ok(user) => user,
        Err(Error::InvalidCredentials | Error::Inactive) => {
            return Err(unauthorized(
                json!({"detail": "No active account found with the given credentials"}),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let sign_in = state
        .mfa
        .after_password(&user, Issue::Jwt, code.as_deref())
        .await?;
    issue(&state, &user, &sign_in).await
}

/// `jwt/create/`'s success: a new pair (also the end of a login that
/// waited for its second factor there).
pub(super) async fn issue(
    state: &AppState,
    user: &User,
    sign_in: &SignIn,
) -> Result<Response, ApiError> {
    let pair = state.sessions.issue_pair(user, sign_in).await?;
    Ok(Json(json!({"refresh": pair.refresh, "access": pair.access})).into_response())
}

/// A new access token for a refresh token (and a new refresh token when
/// `jwt.rotate_refresh_tokens`).
#[utoipa::path(post, path = "/auth/jwt/refresh/", tag = "djoser",
    request_body = schema::RefreshRequest,
    responses((status = 200, description = "A new access token", body = schema::AccessBody), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail)))]
async fn jwt_refresh(
    State(state): State<AppState>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let refresh = one_field(&payload, "refresh")?;
    let (access, rotated) = state.sessions.refresh(&refresh).await?;
    let mut body = json!({ "access": access });
    if let (Some(r), Value::Object(map)) = (rotated, &mut body) {
        map.insert("refresh".into(), Value::String(r));
    }
    Ok(Json(body).into_response())
}

/// Check a token's signature and expiry (either type); `200 {}` if good.
#[utoipa::path(post, path = "/auth/jwt/verify/", tag = "djoser",
    request_body = schema::VerifyRequest,
    responses((status = 200, description = "`{}`"), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail)))]
async fn jwt_verify(State(state): State<AppState>, payload: Payload) -> Result<Response, ApiError> {
    let token = one_field(&payload, "token")?;
    state.sessions.verify(&token).await?;
    Ok(Json(json!({})).into_response())
}

/// Log a refresh token out (doorman): it stops working at once.
#[utoipa::path(post, path = "/auth/jwt/blacklist/", tag = "doorman",
    request_body = schema::RefreshRequest,
    responses((status = 204), (status = 400, body = schema::FieldErrors), (status = 401, body = schema::Detail)))]
async fn jwt_blacklist(
    State(state): State<AppState>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let refresh = one_field(&payload, "refresh")?;
    state.sessions.blacklist(&refresh).await?;
    Ok(no_content())
}
