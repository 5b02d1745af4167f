//! Request and response shapes of `/auth/`, for the OpenAPI document.
//! Handlers read bodies field by field (to report every problem in Djoser's
//! shapes), so these types describe the wire; they are not parsed into.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// A user as Djoser shows one: `users.required_fields`, `id`, the login field.
#[derive(Serialize, ToSchema)]
pub struct UserBody {
    pub email: String,
    pub id: i32,
    pub username: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterRequest {
    pub username: String,
    pub password: String,
    /// Optional; unique ignoring case.
    pub email: Option<String>,
    /// Required with `djoser.user_create_password_retype`.
    pub re_password: Option<String>,
}

/// Editable fields (`users.required_fields` but the login field).
#[derive(Serialize, ToSchema)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CurrentPassword {
    pub current_password: String,
    /// With `security.reauthentication` on, a caller with a second factor
    /// and no recent two-factor sign-in sends a TOTP or recovery code too.
    pub code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UidToken {
    /// Unpadded base64url of the user id, from the link.
    pub uid: String,
    /// Django `PasswordResetTokenGenerator` token, from the link.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct EmailRequest {
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct SetPassword {
    pub new_password: String,
    pub current_password: String,
    /// Required with `djoser.set_password_retype`.
    pub re_new_password: Option<String>,
    /// With `security.reauthentication` on, a caller with a second factor
    /// and no recent two-factor sign-in sends a TOTP or recovery code too.
    pub code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ResetPasswordConfirm {
    pub uid: String,
    pub token: String,
    pub new_password: String,
    /// Required with `djoser.password_reset_confirm_retype`.
    pub re_new_password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SetUsername {
    pub current_password: String,
    pub new_username: String,
    /// Required with `djoser.set_username_retype`.
    pub re_new_username: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ResetUsernameConfirm {
    pub uid: String,
    pub token: String,
    pub new_username: String,
    /// Required with `djoser.username_reset_confirm_retype`.
    pub re_new_username: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SetEmail {
    pub current_password: String,
    pub new_email: String,
    pub re_new_email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ResetEmailConfirm {
    pub uid: String,
    pub token: String,
    pub new_email: String,
    pub re_new_email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Credentials {
    /// The login field (`username`, or `email` with `users.login_field = "email"`).
    pub username: String,
    pub password: String,
    /// For a user with MFA: a TOTP or recovery code, to log in in one
    /// request instead of finishing at `mfa/login/`. Ignored otherwise.
    pub code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuthToken {
    /// 40 lower-case hex characters; send as `Authorization: Token <key>`.
    pub auth_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenPairBody {
    pub refresh: String,
    pub access: String,
}

#[derive(Serialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccessBody {
    pub access: String,
    /// Present with `jwt.rotate_refresh_tokens`.
    pub refresh: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VerifyRequest {
    pub token: String,
}

/// `{"detail": "..."}`, with simplejwt's `code` on token errors.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    pub detail: String,
    pub code: Option<String>,
}

/// A login refused: `detail` (with simplejwt's `code` on token errors);
/// or, when the password was right and a second factor is needed, `code`
/// `mfa_required` with the token to finish the login at `mfa/login/`.
#[derive(Serialize, ToSchema)]
pub struct LoginRefused {
    pub detail: String,
    pub code: Option<String>,
    /// With `mfa_required`: send it to `mfa/login/` with a code.
    pub mfa_token: Option<String>,
    /// With `mfa_required`: `totp`, and `recovery_codes` while some are unused.
    pub methods: Option<Vec<String>>,
    /// With `mfa_required`: seconds the `mfa_token` lives.
    pub expires_in: Option<u64>,
}

/// Field errors: one list of messages per field (or `non_field_errors`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"username": ["This field is required."]}))]
pub struct FieldErrors(pub std::collections::BTreeMap<String, Vec<String>>);
