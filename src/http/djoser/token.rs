//! Opaque-token login and logout: `token/login/`, `token/logout/` (1.x:
//! `token/create/`, `login/`, `token/destroy/`, `logout/`) and doorman's
//! `token/logout_all/`. Each login makes a new token, so several devices
//! can be signed in at once (Djoser shares one token per user).

use crate::http::client::ClientAddr;
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ALLOW_ACTION, fallback, no_content, schema, with_fallback};
use crate::{
    domain::{
        Error,
        mfa::Issue,
        password::Password,
        sessions::{SignIn, Via},
        users::User,
    },
    http::{
        AppState,
        auth::{Authenticated, MaybeCaller},
        error::ApiError,
        input::{Fields, Payload},
    },
    store::Timestamp,
};

pub fn routes() -> OpenApiRouter<AppState> {
    let login = || fallback(post(token_login), "Token Create", ALLOW_ACTION, false);
    let logout = || fallback(post(token_logout), "Token Destroy", ALLOW_ACTION, true);
    OpenApiRouter::new()
        .routes(with_fallback(
            routes!(token_login),
            "Token Create",
            ALLOW_ACTION,
            false,
        ))
        .routes(with_fallback(
            routes!(token_logout),
            "Token Destroy",
            ALLOW_ACTION,
            true,
        ))
        .routes(with_fallback(
            routes!(token_logout_all),
            "Token Destroy All",
            ALLOW_ACTION,
            true,
        ))
        .route("/auth/token/create/", login())
        .route("/auth/login/", login())
        .route("/auth/token/destroy/", logout())
        .route("/auth/logout/", logout())
}

const INVALID_CREDENTIALS: &str = "Unable to log in with provided credentials.";

/// Log in with the login field and password; returns a new opaque token.
///
/// Use it as `Authorization: Token <auth_token>`. Updates `last_login`.
#[utoipa::path(post, path = "/auth/token/login/", tag = "djoser",
    request_body = schema::Credentials,
    responses((status = 200, description = "A new token", body = schema::AuthToken), (status = 400, description = "Bad credentials", body = schema::FieldErrors),
        (status = 401, description = "The password was right and a second factor is needed (`code` `mfa_required`): finish at `mfa/login/`", body = schema::LoginRefused)))]
async fn token_login(
    State(state): State<AppState>,
    _caller: MaybeCaller,
    client: ClientAddr,
    payload: Payload,
) -> Result<Response, ApiError> {
    let field = state.settings.users.login_field;
    let mut f = Fields::new(&payload);
    // Both fields are optional, but `""` and `null` are field errors.
    // Djoser's serializer declares `password` first.
    let password = f.optional_string("password");
    let login = f.optional_string(field.name());
    for (name, value) in [("password", &password), (field.name(), &login)] {
        if value.as_deref() == Some("") {
            f.error(name, "This field may not be blank.");
        }
    }
    f.finish()?;
    let code = super::mfa::inline_code(&payload);
    let (Some(login), Some(password)) = (login, password) else {
        return Err(ApiError::non_field(vec![INVALID_CREDENTIALS.into()]));
    };
    let user = match state
        .users
        .login(
            &[field],
            &login,
            &Password::new(password),
            &client.budget_key(),
        )
        .await
    {
        Ok(user) => user,
        Err(Error::InvalidCredentials | Error::Inactive) => {
            return Err(ApiError::non_field(vec![INVALID_CREDENTIALS.into()]));
        }
        Err(e) => return Err(e.into()),
    };
    let sign_in = state
        .mfa
        .after_password(&user, Issue::Token, code.as_deref())
        .await?;
    issue(&state, &user, &sign_in).await
}

/// `token/login/`'s success: a new token, and `last_login` (also the end
/// of a login that waited for its second factor there).
pub(super) async fn issue(
    state: &AppState,
    user: &User,
    sign_in: &SignIn,
) -> Result<Response, ApiError> {
    state
        .store
        .set_last_login(user.id, Timestamp::now())
        .await?;
    let key = state.sessions.create_token(user, "", sign_in).await?;
    Ok((StatusCode::OK, Json(json!({ "auth_token": key }))).into_response())
}

/// Log out: the presented opaque token stops working. Called with a JWT,
/// every opaque token of the caller goes (as Djoser does).
#[utoipa::path(post, path = "/auth/token/logout/", tag = "djoser",
    responses((status = 204), (status = 401, body = schema::Detail)))]
async fn token_logout(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    match &caller.via {
        Via::Token(token) => state.sessions.logout_token(&caller.user, token).await?,
        Via::Jwt(_) => state.flows.delete_all_tokens(caller.user.id).await?,
    }
    Ok(no_content())
}

/// Log out everywhere (doorman): every opaque token and every JWT of the
/// caller stop working.
#[utoipa::path(post, path = "/auth/token/logout_all/", tag = "doorman",
    responses((status = 204), (status = 401, body = schema::Detail)))]
async fn token_logout_all(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    state.flows.logout_all(caller.user.id).await?;
    Ok(no_content())
}
