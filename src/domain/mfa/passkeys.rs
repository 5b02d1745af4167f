//! Passkeys (WebAuthn through webauthn-rs): registering one as a second
//! factor, finishing a login that waits for a factor with one, and, when
//! `webauthn.passwordless` is on, signing in with a passkey alone. Every
//! ceremony's state lives in the database, so any node finishes what
//! another began, and each is finished once.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Uuid, Webauthn, WebauthnBuilder,
};

use super::{Issue, MULTI, Mfa, later, new_codes, unix_now_i64};
use crate::{
    config::Settings,
    domain::{
        Error,
        password::Password,
        sessions::{self, Caller, SignIn},
    },
    model::User,
    security::{mfa as crypto, opaque},
    store::{PasskeyRow, Timestamp, TokenRef},
};

/// How long a ceremony waits for the authenticator.
const CEREMONY_SECS: u64 = 300;
/// Passkeys one account may hold.
pub const MAX_PASSKEYS: usize = 10;
/// The longest passkey name.
pub const NAME_MAX: usize = 64;

const REGISTER: &str = "register";
const SECOND_FACTOR: &str = "login";
const PASSWORDLESS: &str = "passkey";

/// RFC 8176: a key held in hardware (or a platform's keychain) proved,
/// with the user verified on the device.
const HWK: &str = "hwk";
const USER: &str = "user";

/// A passkey as the owner sees it.
#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    pub id: i32,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl From<&PasskeyRow> for PasskeyInfo {
    fn from(row: &PasskeyRow) -> Self {
        PasskeyInfo {
            id: row.id,
            name: row.name.clone(),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// What registering a passkey gives back.
#[derive(Debug, Clone)]
pub struct Registered {
    pub passkey: PasskeyInfo,
    /// New recovery codes when the passkey is the account's first factor.
    pub recovery_codes: Option<Vec<String>>,
}

/// The relying party of `webauthn` settings (see
/// `Settings::relying_party`); an error names what is wrong, for start-up.
pub fn relying_party(settings: &Settings) -> Result<Webauthn, String> {
    let rp = settings.relying_party()?;
    let mut builder = WebauthnBuilder::new(&rp.id, &rp.origins[0]).map_err(|e| {
        format!(
            "webauthn.rp_id `{}` is not the host of {} or a parent of it: {e}",
            rp.id, rp.origins[0]
        )
    })?;
    for origin in &rp.origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    builder
        .rp_name(&rp.name)
        .build()
        .map_err(|e| format!("webauthn: {e}"))
}

/// The stored form of a credential id.
fn credential_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn refused(why: impl std::fmt::Display) -> Error {
    Error::field(
        "credential",
        format!("The passkey was not accepted: {why}."),
    )
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(Error::internal)
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(Error::internal)
}

impl Mfa {
    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: i32) -> Result<Vec<PasskeyInfo>, Error> {
        Ok(self
            .store()
            .passkeys(user_id)
            .await?
            .iter()
            .map(PasskeyInfo::from)
            .collect())
    }

    /// `mfa/webauthn/register/options/`: the options for the browser's
    /// `navigator.credentials.create()`, after a recent proof of who the
    /// caller is. At most `MAX_PASSKEYS`; the ones held already are
    /// excluded, so one authenticator is not registered twice.
    pub async fn begin_passkey(
        &self,
        caller: &Caller,
        password: Option<&Password>,
        code: Option<&str>,
    ) -> Result<CreationChallengeResponse, Error> {
        let user = &caller.user;
        if self.passwordless {
            // Here a passkey is a login of its own, which outlives every
            // token: adding one always wants the password (and a code).
            self.prove_again(user, password, code).await?;
        } else {
            self.reauthenticate(caller, password, code).await?;
        }
        let held = self.store().passkeys(user.id).await?;
        if held.len() >= MAX_PASSKEYS {
            return Err(Error::State(format!(
                "An account holds at most {MAX_PASSKEYS} passkeys; remove one first."
            )));
        }
        let exclude = held
            .iter()
            .map(|row| decode::<Passkey>(&row.passkey).map(|p| p.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let handle = self
            .store()
            .webauthn_handle(user.id, &Uuid::new_v4().to_string())
            .await?;
        let handle = Uuid::parse_str(&handle).map_err(Error::internal)?;
        let full_name = format!("{} {}", user.first_name, user.last_name);
        let display = match full_name.trim() {
            "" => user.username.as_str(),
            name => name,
        };
        let (options, state) = self
            .relying_party
            .start_passkey_registration(handle, &user.username, display, Some(exclude))
            .map_err(Error::internal)?;
        self.store()
            .insert_ceremony(
                &registration_key(user.id),
                REGISTER,
                Some(user.id),
                "",
                &encode::<PasskeyRegistration>(&state)?,
                later(CEREMONY_SECS),
            )
            .await?;
        Ok(options)
    }

    /// `mfa/webauthn/register/`: the browser's answer to the options. The
    /// first factor of an account turns MFA on as confirming an app does:
    /// recovery codes, and every other login of the user ends (`keep` is
    /// the caller's own opaque token).
    pub async fn finish_passkey(
        &self,
        user: &User,
        name: &str,
        credential: &RegisterPublicKeyCredential,
        keep: Option<&TokenRef>,
    ) -> Result<Registered, Error> {
        let waiting = self
            .store()
            .ceremony(&registration_key(user.id))
            .await?
            .filter(|c| c.purpose == REGISTER && c.user_id == Some(user.id) && !c.consumed);
        let Some(ceremony) = waiting.filter(|c| c.expires_at > Timestamp::now()) else {
            return Err(Error::NotFound);
        };
        if !self.store().consume_ceremony(ceremony.id).await? {
            return Err(Error::NotFound);
        }
        let state: PasskeyRegistration = decode(&ceremony.state)?;
        let passkey = self
            .relying_party
            .finish_passkey_registration(credential, &state)
            .map_err(refused)?;
        let first = !self.enabled(user.id).await?;
        let codes = match first {
            true => Some(new_codes().await?),
            false => None,
        };
        let mut tx = self.store().begin().await?;
        let id = tx
            .insert_passkey(
                user.id,
                &credential_text(passkey.cred_id().as_ref()),
                name,
                &encode(&passkey)?,
            )
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict { .. } => {
                    Error::field("credential", "This passkey is registered already.")
                }
                other => other.into(),
            })?;
        let mut revoked = None;
        if let Some((_, hashes)) = &codes {
            tx.replace_recovery_codes(user.id, hashes).await?;
            revoked = Some(sessions::revoke_all(&mut tx, user.id, keep).await?);
        }
        let what = match first {
            true => "passkey added; other sessions signed out",
            false => "passkey added",
        };
        self.record(&mut tx, user, what, "passkey_added").await?;
        tx.commit().await?;
        if let Some(revoked) = revoked {
            revoked.settle().await;
        }
        self.users.mailer().wake();
        let row = self
            .store()
            .passkeys(user.id)
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(Error::NotFound)?;
        Ok(Registered {
            passkey: PasskeyInfo::from(&row),
            recovery_codes: codes.map(|(shown, _)| shown),
        })
    }

    /// `PATCH mfa/webauthn/{id}/`: a new name for one of the user's passkeys.
    pub async fn rename_passkey(
        &self,
        user: &User,
        id: i32,
        name: &str,
    ) -> Result<PasskeyInfo, Error> {
        if !self.store().rename_passkey(user.id, id, name).await? {
            return Err(Error::NotFound);
        }
        self.passkeys(user.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or(Error::NotFound)
    }

    /// `DELETE mfa/webauthn/{id}/`, after a recent proof of who the caller
    /// is; with no factor left, the recovery codes and waiting logins go.
    pub async fn remove_passkey(
        &self,
        caller: &Caller,
        id: i32,
        password: Option<&Password>,
        code: Option<&str>,
    ) -> Result<(), Error> {
        let user = &caller.user;
        if !self
            .store()
            .passkeys(user.id)
            .await?
            .iter()
            .any(|p| p.id == id)
        {
            return Err(Error::NotFound);
        }
        self.reauthenticate(caller, password, code).await?;
        let mut tx = self.store().begin().await?;
        if !tx.delete_passkey(user.id, id).await? {
            return Err(Error::NotFound);
        }
        if !tx.has_factor(user.id).await? {
            tx.delete_recovery_codes(user.id).await?;
            tx.drop_challenges(user.id).await?;
        }
        self.record(&mut tx, user, "passkey removed", "passkey_removed")
            .await?;
        tx.commit().await?;
        self.users.mailer().wake();
        Ok(())
    }

    /// `mfa/login/webauthn/options/`: the options for the browser's
    /// `navigator.credentials.get()`, to finish the waiting login `token`
    /// with one of the user's passkeys.
    pub async fn second_factor_options(
        &self,
        token: &str,
    ) -> Result<RequestChallengeResponse, Error> {
        let (challenge, user) = self.live_challenge(token).await?;
        let held = self
            .store()
            .passkeys(user.id)
            .await?
            .iter()
            .map(|row| decode::<Passkey>(&row.passkey))
            .collect::<Result<Vec<_>, _>>()?;
        if held.is_empty() {
            return Err(Error::State("This account has no passkey.".into()));
        }
        let (options, state) = self
            .relying_party
            .start_passkey_authentication(&held)
            .map_err(Error::internal)?;
        self.store()
            .insert_ceremony(
                &second_factor_key(challenge.id),
                SECOND_FACTOR,
                Some(user.id),
                "",
                &encode::<PasskeyAuthentication>(&state)?,
                later(CEREMONY_SECS),
            )
            .await?;
        Ok(options)
    }

    /// Whether `credential` answers the options given for waiting login
    /// `challenge_id` of `user`: once, and only with one of their passkeys.
    pub(super) async fn passkey_is_right(
        &self,
        user: &User,
        challenge_id: i32,
        credential: &PublicKeyCredential,
    ) -> Result<bool, Error> {
        let ceremony = self
            .store()
            .ceremony(&second_factor_key(challenge_id))
            .await?
            .filter(|c| c.purpose == SECOND_FACTOR && c.user_id == Some(user.id) && !c.consumed);
        let Some(ceremony) = ceremony.filter(|c| c.expires_at > Timestamp::now()) else {
            return Ok(false);
        };
        let state: PasskeyAuthentication = decode(&ceremony.state)?;
        let Ok(result) = self
            .relying_party
            .finish_passkey_authentication(credential, &state)
        else {
            return Ok(false);
        };
        if !self.store().consume_ceremony(ceremony.id).await? {
            return Ok(false);
        }
        self.remember_use(
            &credential_text(result.cred_id().as_ref()),
            user.id,
            &result,
        )
        .await?;
        Ok(true)
    }

    /// After an accepted assertion: the passkey's counter, and when.
    async fn remember_use(
        &self,
        credential_id: &str,
        user_id: i32,
        result: &webauthn_rs::prelude::AuthenticationResult,
    ) -> Result<(), Error> {
        let Some(row) = self
            .store()
            .passkey_by_credential(credential_id)
            .await?
            .filter(|r| r.user_id == user_id)
        else {
            return Ok(());
        };
        let mut passkey: Passkey = decode(&row.passkey)?;
        let changed = passkey.update_credential(result) == Some(true);
        let stored = match changed {
            true => Some(encode(&passkey)?),
            false => None,
        };
        self.store()
            .touch_passkey(row.id, stored.as_deref())
            .await?;
        Ok(())
    }

    /// `passkeys/login/options/` (with `webauthn.passwordless`): options
    /// for any of the site's passkeys, and the token to finish with.
    pub async fn passwordless_options(
        &self,
        issue: Issue,
    ) -> Result<(String, RequestChallengeResponse), Error> {
        if !self.passwordless {
            return Err(Error::NotFound);
        }
        let (options, state) = self
            .relying_party
            .start_discoverable_authentication()
            .map_err(Error::internal)?;
        let token = crypto::new_login_token();
        self.store()
            .insert_ceremony(
                &opaque::digest(&token),
                PASSWORDLESS,
                None,
                issue.as_str(),
                &encode::<DiscoverableAuthentication>(&state)?,
                later(CEREMONY_SECS),
            )
            .await?;
        Ok((token, options))
    }

    /// `passkeys/login/`: the browser's assertion for the options of
    /// `token`. The token is good for one try. Returns the active user,
    /// where the login started and how it was proved (a verified passkey
    /// is two factors: something held, unlocked by the user).
    pub async fn passwordless_login(
        &self,
        token: &str,
        credential: &PublicKeyCredential,
    ) -> Result<(User, Issue, SignIn), Error> {
        if !self.passwordless {
            return Err(Error::NotFound);
        }
        let expired = || {
            Error::field(
                "passkey_token",
                "This passkey login has expired or was used.",
            )
        };
        let ceremony = self
            .store()
            .ceremony(&opaque::digest(token))
            .await?
            .filter(|c| c.purpose == PASSWORDLESS && !c.consumed)
            .ok_or_else(expired)?;
        let issue = Issue::parse(&ceremony.issue).ok_or_else(expired)?;
        if !self.store().consume_ceremony(ceremony.id).await? {
            return Err(expired());
        }
        let state: DiscoverableAuthentication = decode(&ceremony.state)?;
        let (handle, id) = self
            .relying_party
            .identify_discoverable_authentication(credential)
            .map_err(refused)?;
        let credential_id = credential_text(id);
        let owner = self.store().user_of_handle(&handle.to_string()).await?;
        let row = match owner {
            Some(owner) => self
                .store()
                .passkey_by_credential(&credential_id)
                .await?
                .filter(|r| r.user_id == owner),
            None => None,
        };
        let Some(row) = row else {
            return Err(refused("it is not registered here"));
        };
        let passkey: Passkey = decode(&row.passkey)?;
        let result = self
            .relying_party
            .finish_discoverable_authentication_v2(credential, state, &passkey)
            .map_err(refused)?;
        let user = match self.store().find_user_by_id(row.user_id).await? {
            Some(user) if user.is_active => user,
            _ => return Err(refused("its account is inactive")),
        };
        self.remember_use(&credential_id, user.id, &result).await?;
        Ok((
            user,
            issue,
            SignIn::new(unix_now_i64(), &[HWK, USER, MULTI]),
        ))
    }
}

/// The ceremony token of a user's registration: one at a time.
fn registration_key(user_id: i32) -> String {
    opaque::digest(&format!("webauthn registration of user {user_id}"))
}

/// The ceremony token of a waiting login's passkey options.
fn second_factor_key(challenge_id: i32) -> String {
    opaque::digest(&format!("webauthn second factor of login {challenge_id}"))
}

/// How a second-factor login with a passkey was proved.
pub(super) fn password_and_passkey() -> SignIn {
    SignIn::new(unix_now_i64(), &["pwd", HWK, USER, MULTI])
}
