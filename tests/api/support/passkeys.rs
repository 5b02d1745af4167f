//! A passkey on a device, for the WebAuthn tests: 1Password's `passkey`
//! crate (a WebAuthn client over a software CTAP2 authenticator holding one
//! credential), driven with the options doorman answers and answering with
//! the JSON a browser's `PublicKeyCredential.toJSON()` gives.

use passkey::{
    authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod},
    client::{Client, DefaultClientData},
    crypto::rust_crypto::RustCryptoBackend,
    types::{
        Passkey,
        ctap2::{Aaguid, Ctap2Error},
        webauthn::{CredentialCreationOptions, CredentialRequestOptions},
    },
};
use serde_json::Value;
use url::Url;

/// The origin of the pages the tests' apps serve passkeys to.
pub const ORIGIN: &str = "https://doorman.example.test";

/// A user who is there and verified on the device (a fingerprint, a PIN).
struct Verified;

#[async_trait::async_trait]
impl UserValidationMethod for Verified {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        _presence: bool,
        _verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence: true,
            verification: true,
        })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

/// A device holding at most one passkey.
#[derive(Default, Clone)]
pub struct Device {
    store: Option<Passkey>,
}

impl Device {
    /// `navigator.credentials.create()` on a page of `origin` with the
    /// options doorman answered; the credential as JSON.
    pub async fn create(&mut self, origin: &str, options: &Value) -> Result<Value, String> {
        let options: CredentialCreationOptions =
            serde_json::from_value(options.clone()).map_err(|e| e.to_string())?;
        let origin = Url::parse(origin).map_err(|e| e.to_string())?;
        let mut client = self.client();
        let made = client.register(&origin, options, DefaultClientData).await;
        self.store = client.authenticator().store().clone();
        serde_json::to_value(made.map_err(|e| format!("{e:?}"))?).map_err(|e| e.to_string())
    }

    /// `navigator.credentials.get()` on a page of `origin`.
    pub async fn get(&mut self, origin: &str, options: &Value) -> Result<Value, String> {
        let options: CredentialRequestOptions =
            serde_json::from_value(options.clone()).map_err(|e| e.to_string())?;
        let origin = Url::parse(origin).map_err(|e| e.to_string())?;
        let mut client = self.client();
        let signed = client
            .authenticate(&origin, options, DefaultClientData)
            .await;
        self.store = client.authenticator().store().clone();
        serde_json::to_value(signed.map_err(|e| format!("{e:?}"))?).map_err(|e| e.to_string())
    }

    /// A browser over this device's authenticator (handing the credential
    /// back is the caller's).
    fn client(
        &self,
    ) -> Client<Option<Passkey>, Verified, RustCryptoBackend, public_suffix::PublicSuffixList, ()>
    {
        Client::new(Authenticator::new(
            Aaguid::new_empty(),
            self.store.clone(),
            Verified,
            RustCryptoBackend,
        ))
    }
}
