//! doorman's second factors under `/auth/mfa/`: an authenticator app
//! (TOTP), recovery codes, and finishing a login that waits for a factor
//! (`mfa/login/`), which answers exactly as the login endpoint that started
//! it would have. The rules are `domain::mfa`'s; this file reads bodies and
//! shapes answers.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ALLOW_ACTION, ALLOW_LIST, no_content, schema, with_fallback};
use crate::{
    domain::{
        mfa::{Issue, Proof, PublicKeyCredential},
        password::Password,
        sessions::{SignIn, Via},
    },
    http::{
        AppState,
        accounts::{LoginResponse, issue_session, rfc3339},
        auth::Authenticated,
        client::ClientAddr,
        error::ApiError,
        input::{Fields, Payload},
    },
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(with_fallback(
            routes!(mfa_status),
            "Mfa",
            "GET, HEAD, OPTIONS",
            true,
        ))
        .routes(with_fallback(
            routes!(totp_setup),
            "Totp Setup",
            ALLOW_ACTION,
            true,
        ))
        .routes(with_fallback(
            routes!(totp_confirm),
            "Totp Confirm",
            ALLOW_ACTION,
            true,
        ))
        .routes(with_fallback(
            routes!(totp_remove),
            "Totp",
            "DELETE, OPTIONS",
            true,
        ))
        .routes(with_fallback(
            routes!(recovery_codes, regenerate_recovery_codes),
            "Recovery Codes",
            ALLOW_LIST,
            true,
        ))
        .routes(with_fallback(
            routes!(mfa_login),
            "Mfa Login",
            ALLOW_ACTION,
            false,
        ))
        .routes(with_fallback(
            routes!(reauthenticate),
            "Reauthenticate",
            ALLOW_ACTION,
            true,
        ))
}

/// A code sent along with a password (a one-request login): a string or a
/// number; anything else is as if none was sent, so a user without MFA
/// sees no change whatever the body holds besides the password.
pub fn inline_code(payload: &Payload) -> Option<String> {
    match payload.data.get("code")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What `GET mfa/` answers.
#[derive(Serialize, ToSchema)]
pub struct MfaStatusBody {
    /// Whether logins need a second factor.
    pub enabled: bool,
    pub totp: Option<TotpStatus>,
    pub recovery_codes: Option<RecoveryCodeCount>,
    /// The caller's passkeys.
    pub webauthn: Vec<super::passkeys::PasskeyBody>,
    /// How the credential of this request last proved who the caller is.
    pub session: SessionProof,
}

/// When and how a credential's holder last proved who they are: at sign-in
/// or at a later `reauthenticate/`.
#[derive(Serialize, ToSchema)]
pub struct SessionProof {
    /// When, or `null` when not known (a password login's JWT, a DRF
    /// token).
    pub auth_time: Option<String>,
    /// RFC 8176 method names: `pwd`, `otp`, `mfa`.
    pub amr: Vec<String>,
    /// `aal2` with two factors, else `aal1`.
    pub aal: &'static str,
}

impl SessionProof {
    fn of(proof: Option<SignIn>) -> SessionProof {
        match proof {
            Some(p) => SessionProof {
                auth_time: Some(rfc3339(unix_timestamp(p.auth_time))),
                aal: p.aal(),
                amr: p.amr,
            },
            None => SessionProof {
                auth_time: None,
                amr: Vec::new(),
                aal: "aal1",
            },
        }
    }
}

fn unix_timestamp(secs: i64) -> crate::store::Timestamp {
    crate::store::Timestamp(
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
    )
}

/// What `reauthenticate/` answers.
#[derive(Serialize, ToSchema)]
pub struct ReauthenticatedBody {
    /// How the caller proved themselves just now.
    pub session: SessionProof,
    /// For how many seconds this credential may now make sensitive
    /// changes without the password.
    pub expires_in: u64,
}

#[derive(Serialize, ToSchema)]
pub struct TotpStatus {
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodeCount {
    pub total: usize,
    pub unused: usize,
}

#[derive(Serialize, ToSchema)]
pub struct TotpSetupBody {
    /// The secret in base32, to type into an authenticator app.
    pub secret: String,
    /// The `otpauth://totp/…` key URI, to show as a QR code.
    pub otpauth_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesBody {
    /// Shown this once; each works once.
    pub recovery_codes: Vec<String>,
}

/// The password again, and for a user with MFA a code (neither is needed
/// within `mfa.reauthentication_timeout` of a two-factor sign-in or a
/// `reauthenticate/`).
#[derive(Serialize, ToSchema)]
pub struct Reauthentication {
    pub current_password: Option<String>,
    /// A TOTP or recovery code; needed once MFA is on.
    pub code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CodeRequest {
    /// The six digits the app shows now.
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct MfaLoginRequest {
    /// From the login's `mfa_required` answer.
    pub mfa_token: String,
    /// A TOTP code, or one of the recovery codes (or send `credential`).
    pub code: Option<String>,
    /// A passkey's `PublicKeyCredential` JSON, answering the options of
    /// `mfa/login/webauthn/options/` (or send `code`).
    #[schema(value_type = Option<Object>)]
    pub credential: Option<Value>,
}

/// The password (`current_password`) and code (`code`) of a sensitive
/// change, as sent; a value that is no string is a field error.
pub(super) fn reauthentication(
    payload: &Payload,
) -> Result<(Option<Password>, Option<String>), ApiError> {
    let mut f = Fields::new(payload);
    let password = f.optional_string("current_password").map(Password::new);
    let code = f.optional_string("code");
    f.finish()?;
    Ok((password, code))
}

/// What the caller has on, and the recovery codes left.
#[utoipa::path(get, path = "/auth/mfa/", tag = "doorman",
    responses((status = 200, body = MfaStatusBody), (status = 401, body = schema::Detail)))]
async fn mfa_status(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let status = state.mfa.status(&caller.user).await?;
    let proof = state.mfa.last_proof(&caller).await?;
    Ok(Json(MfaStatusBody {
        enabled: status.enabled,
        totp: status.totp.map(|(created, used)| TotpStatus {
            created_at: rfc3339(created),
            last_used_at: used.map(rfc3339),
        }),
        recovery_codes: status
            .recovery_codes
            .map(|(total, unused)| RecoveryCodeCount { total, unused }),
        webauthn: status.passkeys.into_iter().map(Into::into).collect(),
        session: SessionProof::of(proof),
    })
    .into_response())
}

/// Begin setting up an authenticator app: a new secret, good for ten
/// minutes until confirmed. Needs `current_password`.
#[utoipa::path(post, path = "/auth/mfa/totp/setup/", tag = "doorman",
    request_body = Reauthentication,
    responses((status = 200, body = TotpSetupBody), (status = 400, body = schema::FieldErrors),
        (status = 401, body = schema::Detail),
        (status = 403, description = "`current_password` was not sent (`code` `reauthentication_required`)", body = schema::Detail),
        (status = 409, description = "An app is set up already", body = schema::Detail)))]
async fn totp_setup(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let (password, code) = reauthentication(&payload)?;
    let setup = state
        .mfa
        .begin_totp(&caller, password.as_ref(), code.as_deref())
        .await?;
    Ok(Json(TotpSetupBody {
        secret: setup.secret,
        otpauth_url: setup.url,
    })
    .into_response())
}

/// Confirm the app with the code it shows: from now on logins need a
/// second factor, and every other login of the caller ends (a JWT
/// caller's own tokens too; an opaque token caller keeps that token).
/// Answers the recovery codes, once.
#[utoipa::path(post, path = "/auth/mfa/totp/confirm/", tag = "doorman",
    request_body = CodeRequest,
    responses((status = 201, body = RecoveryCodesBody), (status = 400, body = schema::FieldErrors),
        (status = 401, body = schema::Detail),
        (status = 404, description = "No setup is waiting (none begun, expired, or confirmed)", body = schema::Detail)))]
async fn totp_confirm(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let code = f.required_string("code");
    f.finish()?;
    let keep = match &caller.via {
        Via::Token(token) => Some(token),
        Via::Jwt(_) => None,
    };
    let codes = state
        .mfa
        .confirm_totp(&caller.user, &code.unwrap_or_default(), keep)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RecoveryCodesBody {
            recovery_codes: codes.unwrap_or_default(),
        }),
    )
        .into_response())
}

/// Remove the authenticator app (and, with no factor left, the recovery
/// codes). Needs `current_password` and a `code`.
#[utoipa::path(delete, path = "/auth/mfa/totp/", tag = "doorman",
    request_body = Reauthentication,
    responses((status = 204), (status = 400, body = schema::FieldErrors),
        (status = 401, body = schema::Detail),
        (status = 403, description = "`current_password` or `code` was not sent (`code` `reauthentication_required`)", body = schema::Detail),
        (status = 404, description = "No app is set up", body = schema::Detail)))]
async fn totp_remove(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let (password, code) = reauthentication(&payload)?;
    state
        .mfa
        .remove_totp(&caller, password.as_ref(), code.as_deref())
        .await?;
    Ok(no_content())
}

/// How many recovery codes the caller has, and how many are unused (the
/// codes themselves are stored hashed and never shown again).
#[utoipa::path(get, path = "/auth/mfa/recovery_codes/", tag = "doorman",
    responses((status = 200, body = RecoveryCodeCount), (status = 401, body = schema::Detail),
        (status = 404, description = "The caller has no recovery codes", body = schema::Detail)))]
async fn recovery_codes(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let status = state.mfa.status(&caller.user).await?;
    let (total, unused) = status.recovery_codes.ok_or_else(ApiError::not_found)?;
    Ok(Json(RecoveryCodeCount { total, unused }).into_response())
}

/// A new set of recovery codes; the old set stops working. Needs
/// `current_password` and a `code`.
#[utoipa::path(post, path = "/auth/mfa/recovery_codes/", tag = "doorman",
    request_body = Reauthentication,
    responses((status = 200, body = RecoveryCodesBody), (status = 400, body = schema::FieldErrors),
        (status = 401, body = schema::Detail),
        (status = 403, description = "`current_password` or `code` was not sent (`code` `reauthentication_required`)", body = schema::Detail),
        (status = 409, description = "The caller has no second factor", body = schema::Detail)))]
async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let (password, code) = reauthentication(&payload)?;
    let codes = state
        .mfa
        .regenerate_codes(&caller, password.as_ref(), code.as_deref())
        .await?;
    Ok(Json(RecoveryCodesBody {
        recovery_codes: codes,
    })
    .into_response())
}

/// Finish a login that needs a second factor, with a TOTP or recovery
/// code. Answers what the endpoint that started the login answers on
/// success: `jwt/create/`'s pair, `token/login/`'s token, or
/// `/api/auth/login/`'s session.
#[utoipa::path(post, path = "/auth/mfa/login/", tag = "doorman",
    request_body = MfaLoginRequest,
    responses((status = 200, description = "The body of the login endpoint that started it", body = MfaLoginBody),
        (status = 400, description = "A missing field, or a wrong code (five end the login)", body = schema::FieldErrors),
        (status = 401, description = "The `mfa_token` is unknown, used, expired or was tried too often (`code` `mfa_token_invalid`)", body = schema::Detail)))]
async fn mfa_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientAddr,
    payload: Payload,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&payload);
    let token = f.required_string("mfa_token");
    let by_passkey = payload.data.contains_key("credential") && !payload.data.contains_key("code");
    let (code, credential) = match by_passkey {
        true => (
            None,
            super::passkeys::read_credential::<PublicKeyCredential>(&mut f, &payload),
        ),
        false => (f.required_string("code"), None),
    };
    f.finish()?;
    let token = token.unwrap_or_default();
    let proof = match (&code, &credential) {
        (_, Some(credential)) => Proof::Passkey(credential),
        (Some(code), None) => Proof::Code(code),
        (None, None) => return Err(ApiError::bad_request("No code or credential.")),
    };
    let (user, issue, sign_in) = state.mfa.finish_login(&token, proof).await?;
    match issue {
        Issue::Jwt => super::jwt::issue(&state, &user, &sign_in).await,
        Issue::Token => super::token::issue(&state, &user, &sign_in).await,
        Issue::Accounts => issue_session(&state, &user, &sign_in, &headers, client).await,
    }
}

/// Prove again who you are, with `current_password` (and a `code` once a
/// second factor is on): for `mfa.reauthentication_timeout` seconds this
/// request's credential may then add or remove a factor, or make new
/// recovery codes, without sending them.
#[utoipa::path(post, path = "/auth/reauthenticate/", tag = "doorman",
    request_body = Reauthentication,
    responses((status = 200, body = ReauthenticatedBody), (status = 400, body = schema::FieldErrors),
        (status = 401, body = schema::Detail),
        (status = 403, description = "`current_password`, or the `code` a user with a second factor needs, was not sent (`code` `reauthentication_required`)", body = schema::Detail)))]
async fn reauthenticate(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    payload: Payload,
) -> Result<Response, ApiError> {
    let (password, code) = reauthentication(&payload)?;
    let (proof, expires_in) = state
        .mfa
        .reauthenticate_now(&caller, password.as_ref(), code.as_deref())
        .await?;
    Ok(Json(ReauthenticatedBody {
        session: SessionProof::of(Some(proof)),
        expires_in,
    })
    .into_response())
}

/// One of the login endpoints' success bodies (for the document; the
/// handlers build each).
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum MfaLoginBody {
    Jwt(schema::TokenPairBody),
    Token(schema::AuthToken),
    Accounts(LoginResponse),
}
