//! Opaque bearer keys in the shape of Django REST framework's authtoken:
//! 40 lower-case hex characters carrying 160 bits from the operating
//! system's random source. This module owns the key format and the policy
//! that only a key's SHA-256 digest is ever stored, so a leaked table does not
//! hand out working credentials. A key is a high-entropy random value, not a
//! password, so one fast unsalted hash is enough to make the stored form
//! useless to an attacker while keeping lookups a single indexed equality.

use rand::TryRngCore as _;
use rand::rngs::OsRng;
use sha2::{Digest as _, Sha256};

/// Random bytes per key, as DRF's `Token.generate_key` draws them.
const KEY_BYTES: usize = 20;

/// Length of a key in hex characters.
pub const KEY_LEN: usize = KEY_BYTES * 2;

/// A new key: 20 bytes from the OS random source, lower-case hex.
pub fn generate_key() -> String {
    let mut bytes = [0u8; KEY_BYTES];
    if OsRng.try_fill_bytes(&mut bytes).is_err() {
        // The OS source failing is practically unheard of on supported
        // platforms; rather than hand out a weak key or panic mid-request,
        // use the thread-local CSPRNG, which the OS seeded at start-up.
        rand::Rng::fill(&mut rand::rng(), &mut bytes[..]);
    }
    hex::encode(bytes)
}

/// The stored form of a key: lower-case hex SHA-256 of its text.
pub fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `s` has the shape of a key we issue (40 lower-case hex
/// characters), so malformed header values can be refused without a lookup.
pub fn looks_like_key(s: &str) -> bool {
    s.len() == KEY_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_drf_shape_and_differ() {
        let a = generate_key();
        let b = generate_key();
        assert_eq!(a.len(), 40);
        assert!(looks_like_key(&a) && looks_like_key(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn digest_is_hex_sha256() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let key = generate_key();
        assert_eq!(digest(&key).len(), 64);
        assert_eq!(digest(&key), digest(&key));
        assert_ne!(digest(&key), key);
    }

    #[test]
    fn shape_check() {
        assert!(looks_like_key("0123456789abcdef0123456789abcdef01234567"));
        for bad in [
            "",
            "0123456789abcdef0123456789abcdef0123456",
            "0123456789abcdef0123456789abcdef012345678",
            "0123456789ABCDEF0123456789abcdef01234567",
            "0123456789abcdef0123456789abcdef0123456g",
            "0123456789abcdef0123456789abcdef0123456é",
            " 123456789abcdef0123456789abcdef01234567",
        ] {
            assert!(!looks_like_key(bad), "{bad:?}");
        }
    }
}
