//! The cryptography of second factors: TOTP (RFC 6238, through totp-rs),
//! TOTP secrets sealed at rest, recovery codes and their stored form, and
//! the one-use tokens that carry a half-finished login.
//!
//! Rules that need the database (a time step accepted once, a code used
//! once) live in the domain and the store; this module only computes.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{KeyInit as _, Mac as _};
use rand::TryRngCore as _;
use rand::rngs::OsRng;
use sha2::Sha256;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::hashers::{self, Argon2Params, Verification};

/// RFC 6238's recommendations, which every authenticator app follows.
const DIGITS: u8 = 6;
const STEP_SECS: u64 = 30;
/// One step either side: the network delay and a slow thumb.
const SKEW: u16 = 1;
/// RFC 4226 recommends 160 bits.
const SECRET_BYTES: usize = 20;

/// Recovery codes per set, and characters per code (Crockford's base32:
/// 10 × 5 = 50 bits, NIST's look-up secret floor is 20).
pub const RECOVERY_CODES: usize = 10;
const RECOVERY_CHARS: usize = 10;
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A code with under 112 bits is stored under a salted password hash; the
/// cost may be small (NIST SP 800-63B §3.1.2), and a login checks up to
/// ten of them.
const RECOVERY_HASH: Argon2Params = Argon2Params {
    memory_kib: 4096,
    iterations: 1,
    parallelism: 1,
};

/// The prefix of a sealed secret names the key that sealed it, so a later
/// key can be introduced beside this one.
const SEALED_V1: &str = "v1:";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if OsRng.try_fill_bytes(&mut bytes).is_err() {
        // As in opaque.rs: the thread-local CSPRNG the OS seeded.
        rand::Rng::fill(&mut rand::rng(), &mut bytes[..]);
    }
    bytes
}

/// Seals and opens TOTP secrets with AES-256-GCM under a key derived from
/// `security.mfa_key`, or the secret key when that is not set.
#[derive(Clone)]
pub struct SecretBox {
    key: [u8; 32],
}

impl SecretBox {
    pub fn new(key_material: &str) -> Self {
        // HMAC-SHA256 keyed by the material over a fixed label: a key of
        // this purpose only, independent of the secret key's other uses.
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key_material.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(b"doorman mfa secret v1");
        let key = mac.finalize().into_bytes().into();
        Self { key }
    }

    fn cipher(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key).expect("a 32-byte key"))
    }

    /// `v1:` + base64url(nonce ‖ ciphertext ‖ tag). `context` (the user's
    /// id) is bound in, so a sealed secret copied to another user's row
    /// does not open.
    pub fn seal(&self, plain: &[u8], context: &str) -> String {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut data = plain.to_vec();
        self.cipher()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .expect("AES-GCM seals any length a secret has");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        format!("{SEALED_V1}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// The plain secret, or `None` when the value was not sealed by this
    /// key for this context.
    pub fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        let data = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(SEALED_V1)?)
            .ok()?;
        if data.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut rest = rest.to_vec();
        let plain = self
            .cipher()
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut rest)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// A fresh TOTP secret (160 random bits).
pub fn new_totp_secret() -> Vec<u8> {
    random_bytes::<SECRET_BYTES>().to_vec()
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<Totp> {
    // The key URI separates issuer and account with `:`, so neither may
    // hold one; usernames cannot, a site name might.
    let issuer = issuer.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECS)
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer(Some(issuer))
        .with_account_name(account.replace(':', " "))
        .build()
        .ok()
}

/// The secret as authenticator apps take it typed in (base32, no padding).
pub fn totp_secret_text(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The `otpauth://totp/…` key URI a QR code carries.
pub fn totp_url(secret: &[u8], issuer: &str, account: &str) -> Option<String> {
    totp(secret, issuer, account)?.to_url().ok()
}

/// The time step `code` is right for at `unix_secs` (±1 step), if any.
/// The caller must accept each step at most once.
pub fn totp_step(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "doorman", "user")?.check(code, unix_secs)
}

/// The code for `unix_secs` (tests and the CLI's own checks).
pub fn totp_code(secret: &[u8], unix_secs: u64) -> Option<String> {
    Some(
        totp(secret, "doorman", "user")?
            .generate(unix_secs)
            .to_string(),
    )
}

/// A new set of recovery codes, shown as `XXXXX-XXXXX`.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes = random_bytes::<RECOVERY_CHARS>();
            let chars: String = bytes
                .iter()
                .map(|b| CROCKFORD[(*b & 31) as usize] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// A typed recovery code in its canonical form (upper case, no dashes or
/// spaces, Crockford's look-alikes folded), or `None` when it cannot be
/// one.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(RECOVERY_CHARS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == RECOVERY_CHARS).then_some(out)
}

/// The stored form of a recovery code (salted Argon2id). CPU work: call
/// off the async runtime.
pub fn hash_recovery_code(code: &str) -> String {
    let canonical = normalise_recovery_code(code).unwrap_or_default();
    hashers::make_password(&canonical, &RECOVERY_HASH)
}

/// Whether a normalised code matches a stored one. CPU work.
pub fn recovery_code_matches(canonical: &str, stored: &str) -> bool {
    matches!(
        hashers::verify_password(canonical, stored, &RECOVERY_HASH),
        Verification::Match { .. }
    )
}

/// A one-use token handed to a client between the password and the
/// second factor: 256 random bits, base64url (43 characters). Only its
/// digest is stored (`opaque::digest`).
pub fn new_login_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 rows (8 digits there; the last six
    /// of each are the 6-digit codes for the same key and time).
    #[test]
    fn rfc_6238_vectors() {
        let key = b"12345678901234567890";
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp_code(key, time).as_deref(), Some(&code[2..]), "{time}");
            assert_eq!(totp_step(key, &code[2..], time), Some(time / 30), "{time}");
        }
    }

    #[test]
    fn one_step_of_skew_and_no_more() {
        let key = new_totp_secret();
        let now = 1_800_000_000;
        let code = totp_code(&key, now).unwrap();
        assert_eq!(totp_step(&key, &code, now + 30), Some(now / 30));
        assert_eq!(totp_step(&key, &code, now - 30), Some(now / 30));
        assert_eq!(totp_step(&key, &code, now + 60), None);
        assert_eq!(totp_step(&key, &code, now - 60), None);
        for bad in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert_eq!(totp_step(&key, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_user() {
        let sealer = SecretBox::new("key one");
        let sealed = sealer.seal(b"secret", "7");
        assert!(sealed.starts_with("v1:"));
        assert_eq!(sealer.open(&sealed, "7").as_deref(), Some(&b"secret"[..]));
        assert_eq!(sealer.open(&sealed, "8"), None, "another user");
        assert_eq!(SecretBox::new("key two").open(&sealed, "7"), None);
        assert_eq!(sealer.open("v1:AAAA", "7"), None);
        assert_eq!(sealer.open("garbage", "7"), None);
        assert_ne!(sealer.seal(b"secret", "7"), sealed, "fresh nonce");
    }

    #[test]
    fn recovery_codes_are_typed_loosely_and_checked_exactly() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        let stored = hash_recovery_code(code);
        let typed = code.to_lowercase().replace('-', " ");
        let canonical = normalise_recovery_code(&typed).unwrap();
        assert!(recovery_code_matches(&canonical, &stored));
        assert!(!recovery_code_matches(
            &normalise_recovery_code(&codes[1]).unwrap(),
            &stored
        ));
        assert_eq!(
            normalise_recovery_code("oIl00-11111").as_deref(),
            Some("0110011111")
        );
        for bad in ["", "ABCDE", "ABCDE-FGHJKM", "ABCDE-FGHJU", "ÀBCDE-FGHJK"] {
            assert_eq!(normalise_recovery_code(bad), None, "{bad:?}");
        }
    }
}
