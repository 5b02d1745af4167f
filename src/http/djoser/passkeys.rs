//! Passkeys under `/auth/`: registering one as a second factor
//! (`mfa/webauthn/…`), the options to finish a waiting login with one
//! (`mfa/login/webauthn/options/`; the finish is `mfa/login/` with a
//! `credential`), and, with `webauthn.passwordless`, signing in with a
//! passkey alone (`passkeys/login/…`). WebAuthn options and credentials
//! travel as the browser's `PublicKeyCredential` JSON (`toJSON()`,
//! `parseCreationOptionsFromJSON()`); the rules are `domain::mfa`'s.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ALLOW_ACTION, no_content, password::own_token, schema, with_fallback};
use crate::{
    domain::mfa::{Issue, NAME_MAX, PasskeyInfo, PublicKeyCredential, RegisterPublicKeyCredential},
    http::{
        AppState,
        accounts::rfc3339,
        auth::Authenticated,
        error::ApiError,
        input::{Fields, Payload},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(with_fallback(
            routes!(register_options),
            "Webauthn Register Options",
            ALLOW_ACTION,
            true,
        ))
        .routes(with_fallback(
            routes!(register),
            "Webauthn Register",
            ALLOW_ACTION,
            true,
        ))
        .routes(with_fallback(
            routes!(rename, remove),
            "Webauthn",
            "PATCH, DELETE, OPTIONS",
            true,
        ))
        .routes(with_fallback(
            routes!(second_factor_options),
            "Mfa Login Webauthn Options",
            ALLOW_ACTION,
            false,
        ))
        .routes(with_fallback(
            routes!(passwordless_options),
            "Passkey Login Options",
            ALLOW_ACTION,
            false,
        ))
        .routes(with_fallback(
            routes!(passwordless_login),
            "Passkey Login",
            ALLOW_ACTION,
            false,
        ))
}

/// WebAuthn options for the browser: `{"publicKey": {…}}`, as
/// `PublicKeyCredential.parseCreationOptionsFromJSON()` and
/// `parseRequestOptionsFromJSON()` read the inner object.
#[derive(Serialize, ToSchema)]
pub struct WebauthnOptions {
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: Value,
}

/// A passkey as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct PasskeyBody {
    pub id: i32,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<PasskeyInfo> for PasskeyBody {
    fn from(p: PasskeyInfo) -> Self {
        PasskeyBody {
            id: p.id,
            name: p.name,
            created_at: rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RegisteredBody {
    pub id: i32,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// When the passkey is the account's first factor: its recovery codes,
    /// shown this once.
    pub recovery_codes: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterRequest {
    /// A name to tell it apart (at most 64 characters; "Passkey" if none).
    pub name: Option<String>,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, as JSON.
    #[schema(value_type = Object)]
    pub credential: Value,
}

#[derive(Serialize, ToSchema)]
pub struct RenameRequest {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct MfaTokenRequest {
    pub mfa_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordlessOptionsRequest {
    /// What the login hands out: `jwt` (a pair, the default) or `token`.
    pub token_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordlessOptionsBody {
    /// Send it back with the credential.
    pub passkey_token: String,
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: Value,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordlessLoginRequest {
    pub passkey_token: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, as JSON.
    #[schema(value_type = Object)]
    pub credential: Value,
}

/// The `credential` field as a WebAuthn type; a field error if it is not one.
pub fn read_credential<T: DeserializeOwned>(f: &mut Fields<'_>, payload: &Payload) -> Option<T> {
    let Some(value) = payload.data.get("credential") else {
        f.error("credential", "This field is required.");
        return None;
    };
    match serde_json::from_value(value.clone()) {
        Ok(credential) => Some(credential),
        Err(_) => {
            f.error("credential", "Not a WebAuthn credential.");
            None
        }
    }
}

/// A passkey name: at most `NAME_MAX` characters, not blank.
fn read_name(f: &mut Fields<'_>, required: bool) -> String {
    let name = match required {
        true => f.required_string("name"),
        false => f.optional_string("name"),
    };
    let name = name.map(|n| n.trim().to_string());
    match name {
        Some(n) if n.chars().count() > NAME_MAX => {
            f.error(
                "name",
                format!("Ensure this field has no more than {NAME_MAX} characters."),
            );
            String::new()
        }
        Some(n) if n.is_empty() => {
            f.error("name", "This field may not be blank.");
            String::new()
        }
        Some(n) => n,
        None => "Passkey".into(),
    }
}

/// A passkey's id from the path; anything else is no passkey.
fn passkey_id(raw: &str) -> Result<i32, ApiError> {
    raw.trim().parse().map_err(|_| ApiError::not_found())
}

fn options<T: Serialize>(options: &T) -> Result<Response, ApiError> {
    let value = serde_json::to_value(options).map_err(|e| ApiError::internal(&e))?;
    Ok(Json(value).into_response())
}

/// Options to register a passkey: for `navigator.credentials.create()`.
/// Needs a recent sign-in, or `current_password` (and a `code` once MFA is on).
#[utoipa::path(post, path = "/auth/mfa/webauthn/register/options/", tag = "doorman",
    request_body = super::mfa::Reauthentication,
    responses((status = 200, body = WebauthnOptions), (status = 400, body = schema::FieldErrors),
        (status = 401, body = schema::Detail),
        (status = 403, description = "No recent sign-in and no `current_password` (or `code`): `code` `reauthentication_required`", body = schema::Detail),
        (status = 409, description = "The account holds ten passkeys", body = schema::Detail)))]
async fn register_options(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let (password, code) = super::mfa::reauthentication(&payload)?;
    let challenge = state
        .mfa
        .begin_passkey(&caller, password.as_ref(), code.as_deref())
        .await?;
    options(&challenge)
}

/// Register the passkey the browser made from the options. The account's
/// first factor turns MFA on: recovery codes come back (once), and every
/// other login of the caller ends.
#[utoipa::path(post, path = "/auth/mfa/webauthn/register/", tag = "doorman",
    request_body = RegisterRequest,
    responses((status = 201, body = RegisteredBody), (status = 400, description = "A bad `name`, or a `credential` that is not one or does not answer the options", body = schema::FieldErrors),
        (status = 401, body = schema::Detail),
        (status = 404, description = "No registration is waiting (none begun, expired, or finished)", body = schema::Detail)))]
async fn register(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let name = read_name(&mut f, false);
    let credential = read_credential::<RegisterPublicKeyCredential>(&mut f, &payload);
    f.finish()?;
    let Some(credential) = credential else {
        return Err(ApiError::bad_request("Not a WebAuthn credential."));
    };
    let done = state
        .mfa
        .finish_passkey(&caller.user, &name, &credential, own_token(&caller))
        .await?;
    let p = PasskeyBody::from(done.passkey);
    Ok((
        StatusCode::CREATED,
        Json(RegisteredBody {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            recovery_codes: done.recovery_codes,
        }),
    )
        .into_response())
}

/// Rename one of the caller's passkeys.
#[utoipa::path(patch, path = "/auth/mfa/webauthn/{id}/", tag = "doorman",
    params(("id" = i32, Path)), request_body = RenameRequest,
    responses((status = 200, body = PasskeyBody), (status = 400, body = schema::FieldErrors),
        (status = 401, body = schema::Detail), (status = 404, body = schema::Detail)))]
async fn rename(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let id = passkey_id(&id)?;
    let mut f = Fields::new(&payload);
    let name = read_name(&mut f, true);
    f.finish()?;
    let passkey = state.mfa.rename_passkey(&caller.user, id, &name).await?;
    Ok(Json(PasskeyBody::from(passkey)).into_response())
}

/// Remove one of the caller's passkeys (and, with no factor left, the
/// recovery codes). Needs a recent two-factor sign-in, or
/// `current_password` and a `code`.
#[utoipa::path(delete, path = "/auth/mfa/webauthn/{id}/", tag = "doorman",
    params(("id" = i32, Path)), request_body = super::mfa::Reauthentication,
    responses((status = 204), (status = 400, body = schema::FieldErrors),
        (status = 401, body = schema::Detail),
        (status = 403, description = "`code` `reauthentication_required`", body = schema::Detail),
        (status = 404, body = schema::Detail)))]
async fn remove(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let id = passkey_id(&id)?;
    let (password, code) = super::mfa::reauthentication(&payload)?;
    state
        .mfa
        .remove_passkey(&caller, id, password.as_ref(), code.as_deref())
        .await?;
    Ok(no_content())
}

/// Options to finish a waiting login with a passkey: for
/// `navigator.credentials.get()`; then `mfa/login/` with `{mfa_token,
/// credential}`.
#[utoipa::path(post, path = "/auth/mfa/login/webauthn/options/", tag = "doorman",
    request_body = MfaTokenRequest,
    responses((status = 200, body = WebauthnOptions), (status = 400, body = schema::FieldErrors),
        (status = 401, description = "`code` `mfa_token_invalid`", body = schema::Detail),
        (status = 409, description = "The account has no passkey", body = schema::Detail)))]
async fn second_factor_options(
    State(state): State<AppState>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let token = f.required_string("mfa_token");
    f.finish()?;
    let challenge = state
        .mfa
        .second_factor_options(&token.unwrap_or_default())
        .await?;
    options(&challenge)
}

/// Options to sign in with a passkey alone (with `webauthn.passwordless`;
/// 404 otherwise).
#[utoipa::path(post, path = "/auth/passkeys/login/options/", tag = "doorman",
    request_body = PasswordlessOptionsRequest,
    responses((status = 200, body = PasswordlessOptionsBody), (status = 400, body = schema::FieldErrors),
        (status = 404, description = "Passkey sign-in is off", body = schema::Detail)))]
async fn passwordless_options(
    State(state): State<AppState>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let kind = f
        .optional_string("token_type")
        .unwrap_or_else(|| "jwt".into());
    let issue = match kind.as_str() {
        "jwt" => Some(Issue::Jwt),
        "token" => Some(Issue::Token),
        _ => None,
    };
    if issue.is_none() {
        f.error("token_type", format!("\"{kind}\" is not a valid choice."));
    }
    f.finish()?;
    let (token, challenge) = state
        .mfa
        .passwordless_options(issue.unwrap_or(Issue::Jwt))
        .await?;
    let mut body = serde_json::to_value(&challenge).map_err(|e| ApiError::internal(&e))?;
    if let Value::Object(map) = &mut body {
        map.insert("passkey_token".into(), json!(token));
    }
    Ok(Json(body).into_response())
}

/// Sign in with a passkey alone: answers as `jwt/create/` or
/// `token/login/` (the `token_type` of the options).
#[utoipa::path(post, path = "/auth/passkeys/login/", tag = "doorman",
    request_body = PasswordlessLoginRequest,
    responses((status = 200, description = "`jwt/create/`'s pair or `token/login/`'s token", body = super::mfa::MfaLoginBody),
        (status = 400, description = "A bad or used `passkey_token`, or a `credential` that is not accepted", body = schema::FieldErrors),
        (status = 404, description = "Passkey sign-in is off", body = schema::Detail)))]
async fn passwordless_login(
    State(state): State<AppState>,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let token = f.required_string("passkey_token");
    let credential = read_credential::<PublicKeyCredential>(&mut f, &payload);
    f.finish()?;
    let Some(credential) = credential else {
        return Err(ApiError::bad_request("Not a WebAuthn credential."));
    };
    let (user, issue, sign_in) = state
        .mfa
        .passwordless_login(&token.unwrap_or_default(), &credential)
        .await?;
    match issue {
        Issue::Token => super::token::issue(&state, &user, &sign_in).await,
        _ => super::jwt::issue(&state, &user, &sign_in).await,
    }
}
