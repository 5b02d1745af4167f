//! Signing in to the Accounts API: `register/`, `login/` (username or
//! e-mail), `token/refresh/` (always rotates; reuse of a rotated-out token
//! after a short grace window revokes that login), `logout/` (this login,
//! the others, or all), and `sessions/` (the caller's signed-in devices).

use crate::domain::audit::{Event, Kind};
use crate::http::client::ClientAddr;

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    config::LoginField,
    domain::{
        Error,
        mfa::Issue,
        password::Password,
        sessions::{Device, IssuedPair, LogoutScope, SignIn},
        users::User,
    },
    http::{
        AppState,
        auth::{Authenticated, unauthorized},
        djoser::users::register_user,
        error::ApiError,
        input::{Fields, Payload},
    },
    store::timestamp_text,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
}

/// A user as the Accounts API shows one at sign-in.
#[derive(Serialize, ToSchema)]
pub struct AccountUser {
    pub id: i32,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

impl From<&User> for AccountUser {
    fn from(u: &User) -> Self {
        AccountUser {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            is_active: u.is_active,
            is_staff: u.is_staff,
            is_superuser: u.is_superuser,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginRequest {
    /// A username or an e-mail address.
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub access: String,
    pub refresh: String,
    pub user: AccountUser,
}

#[derive(Serialize, ToSchema)]
pub struct PairResponse {
    pub access: String,
    pub refresh: String,
}

#[derive(Serialize, ToSchema)]
pub struct LogoutRequest {
    /// The refresh token of this login.
    pub refresh: Option<String>,
    /// `others` (every other login of the caller) or `global` (all of them,
    /// and every token issued so far).
    pub scope: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    pub id: i32,
    pub created_at: String,
    pub last_used_at: String,
    pub client_addr: String,
    pub user_agent: String,
}

fn device(headers: &HeaderMap, client: ClientAddr) -> Device {
    Device {
        client_addr: client.text(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    }
}

/// Create an account (Djoser's registration rules).
#[utoipa::path(post, path = "/api/auth/register/", tag = "accounts",
    request_body = crate::http::djoser::schema::RegisterRequest,
    responses((status = 201, body = AccountUser), (status = 400, body = crate::http::djoser::schema::FieldErrors)))]
async fn register(State(state): State<AppState>, payload: Payload) -> Result<Response, ApiError> {
    let user = register_user(&state, &payload).await?;
    Ok((StatusCode::CREATED, Json(AccountUser::from(&user))).into_response())
}

/// Sign in with a username or e-mail address and a password.
#[utoipa::path(post, path = "/api/auth/login/", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = crate::http::djoser::schema::FieldErrors),
        (status = 401, description = "Wrong credentials (`detail`), or the password was right and a second factor is needed (`code` `mfa_required`: finish at `/auth/mfa/login/`)", body = crate::http::djoser::schema::LoginRefused)))]
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientAddr,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let login = if f.has("email") && !f.has("username") {
        f.required_string("email")
    } else {
        f.required_string("username")
    };
    let password = f.required_string("password");
    f.finish()?;
    let code = crate::http::djoser::inline_code(&payload);
    let (login, password) = (
        login.unwrap_or_default(),
        Password::new(password.unwrap_or_default()),
    );
    let field = if login.contains('@') {
        LoginField::Email
    } else {
        LoginField::Username
    };
    // A username may contain `@` too.
    let fields: &[LoginField] = match field {
        LoginField::Email => &[LoginField::Email, LoginField::Username],
        LoginField::Username => &[LoginField::Username],
    };
    let result = state
        .users
        .login(fields, &login, &password, &client.budget_key())
        .await;
    let user = match result {
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
        .after_password(&user, Issue::Accounts, code.as_deref())
        .await?;
    issue(&state, &user, &sign_in, &headers, client).await
}

/// `login/`'s success: a new session (also the end of a login that waited
/// for its second factor there).
pub(crate) async fn issue(
    state: &AppState,
    user: &User,
    sign_in: &SignIn,
    headers: &HeaderMap,
    client: ClientAddr,
) -> Result<Response, ApiError> {
    let device = device(headers, client);
    let IssuedPair {
        access, refresh, ..
    } = state.sessions.login_session(user, &device, sign_in).await?;
    let body = LoginResponse {
        access,
        refresh,
        user: AccountUser::from(user),
    };
    Ok(Json(body).into_response())
}

/// A new access token and a new refresh token (the one sent stops working).
#[utoipa::path(post, path = "/api/auth/token/refresh/", tag = "accounts",
    request_body = crate::http::djoser::schema::RefreshRequest,
    responses((status = 200, body = PairResponse), (status = 400, body = crate::http::djoser::schema::FieldErrors),
        (status = 401, body = crate::http::djoser::schema::Detail)))]
async fn refresh(State(state): State<AppState>, payload: Payload) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let token = f.required_string("refresh");
    f.finish()?;
    let pair = state.sessions.rotate(&token.unwrap_or_default()).await?;
    Ok(Json(PairResponse {
        access: pair.access,
        refresh: pair.refresh,
    })
    .into_response())
}

/// Sign out this login (its `refresh` token), or with `scope` `others` every
/// other login of the caller, or `global` all of them.
#[utoipa::path(post, path = "/api/auth/logout/", tag = "accounts", request_body = LogoutRequest,
    responses((status = 204), (status = 400, body = crate::http::djoser::schema::FieldErrors),
        (status = 401, body = crate::http::djoser::schema::Detail)))]
async fn logout(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let refresh = f.optional_string("refresh").filter(|r| !r.is_empty());
    let name = f.optional_string("scope").unwrap_or_default();
    let scope = LogoutScope::parse(&name);
    if scope.is_none() {
        f.error("scope", format!("\"{name}\" is not a valid choice."));
    }
    f.finish()?;
    let scope = scope.unwrap_or(LogoutScope::This);
    state
        .sessions
        .logout(caller.user.id, refresh.as_deref(), scope)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The caller's signed-in devices.
#[utoipa::path(get, path = "/api/auth/sessions/", tag = "accounts",
    responses((status = 200, body = Vec<SessionBody>), (status = 401, body = crate::http::djoser::schema::Detail)))]
async fn list_sessions(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let rows = state.store.list_sessions(caller.user.id).await?;
    let body: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!(SessionBody {
                id: r.id,
                created_at: rfc3339(r.created_at),
                last_used_at: rfc3339(r.last_used_at),
                client_addr: r.client_addr,
                user_agent: r.user_agent,
            })
        })
        .collect();
    Ok(Json(body).into_response())
}

/// Sign one of the caller's devices out.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}/", tag = "accounts", params(("id" = i32, Path)),
    responses((status = 204), (status = 401, body = crate::http::djoser::schema::Detail), (status = 404, body = crate::http::djoser::schema::Detail)))]
async fn end_session(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i32 = id.parse().map_err(|_| ApiError::not_found())?;
    let n = state
        .store
        .revoke_sessions(caller.user.id, Some(id), None)
        .await?;
    if n == 0 {
        return Err(ApiError::not_found());
    }
    let event = Event::new(Kind::Logout, Some(caller.user.id), &caller.user.username)
        .by(Some(caller.user.id))
        .detail(format!("session {id} ended"));
    state.users.audit().alone(&state.store, event).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) fn rfc3339(t: crate::store::Timestamp) -> String {
    t.0.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| timestamp_text(t))
}
