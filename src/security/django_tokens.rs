//! Django-compatible user ids in URLs (`uid`) and one-time account tokens
//! (activation, password reset, username reset). This module owns both wire
//! formats and the policy for reading them back: everything here reads
//! untrusted text from e-mailed links, so every parser answers `None`/`false`
//! for anything it does not like and never panics, and token comparisons run
//! in constant time.
//!
//! * A `uid` is the unpadded base64url encoding of the decimal primary key,
//!   as Djoser makes it. Decoding follows what Django + Djoser accept: lenient
//!   re-padding and decoding (Python's non-strict base64), strict UTF-8, then
//!   Python `int()` rules for the text. Negative numbers decode; callers simply
//!   will not find such a user.
//! * A token is Django's `PasswordResetTokenGenerator` output
//!   (`<base36 timestamp>-<32 hex>`), made and checked exactly as Django 4.0+
//!   does, so links issued by either side work on the other, including with
//!   `SECRET_KEY_FALLBACKS`. A token dies when the user's id, password hash,
//!   `last_login` or e-mail changes, when it is older than the timeout, or
//!   when no configured secret signed it.
//!
//! Time zones: Django counts the timestamp in its `TIME_ZONE`'s wall-clock
//! seconds since 2001-01-01 (it uses a naive `datetime.now()`); doorman
//! counts in UTC. With Django's `TIME_ZONE = "UTC"` the two agree exactly.
//! With any other zone the hash still matches (it covers the timestamp the
//! token itself carries), so tokens stay valid across the two systems; only
//! the expiry moment shifts by the zone's UTC offset.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use time::{OffsetDateTime, UtcOffset, macros::datetime};

/// Django's `PasswordResetTokenGenerator.key_salt`: mixed into the secret so
/// these HMACs never collide with other `salted_hmac` uses of `SECRET_KEY`.
const KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";

/// Token timestamps count seconds from this instant.
const TOKEN_EPOCH: OffsetDateTime = datetime!(2001-01-01 0:00 UTC);

/// Django refuses longer base36 timestamps before parsing them (enough for
/// any 64-bit value); we refuse them too, which also bounds our arithmetic.
const MAX_TIMESTAMP_DIGITS: usize = 13;

const BASE36_DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The `uid` Djoser puts in activation and reset links for this user id.
pub fn encode_uid(id: i32) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

/// Reads a `uid` back to a primary key, accepting what Django would accept
/// for an integer primary key. `None` means "invalid uid"; an id outside the
/// `i32` range is also `None`, since no `auth_user` row can have it.
pub fn decode_uid(uid: &str) -> Option<i32> {
    let bytes = lenient_urlsafe_b64decode(uid)?;
    let text = std::str::from_utf8(&bytes).ok()?;
    parse_python_int(text)
}

/// Django's `urlsafe_base64_decode`: pad with `len % 4` `=` signs (Django's
/// own, odd-looking rule: it over-pads lengths ≡ 3, which Python tolerates),
/// then Python's non-strict base64 decoder, which skips every byte outside
/// the alphabet (spaces, punctuation, non-ASCII) and accepts both the URL-safe
/// and the standard characters for 62 and 63. Leftover bits in the last
/// character are ignored, as Python does.
///
/// One corner is refused on purpose: base64 data after a pad sequence that
/// completed a quad. CPython ≤ 3.12 stops decoding at that pad, 3.13+ keeps
/// going, so Django's answer depends on the interpreter; no real uid looks
/// like that, and "invalid uid" is the safe answer.
fn lenient_urlsafe_b64decode(input: &str) -> Option<Vec<u8>> {
    let bytes = input.as_bytes();
    let padding = std::iter::repeat_n(&b'=', bytes.len() % 4);
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 3);
    // Position inside the current group of four characters, the bits carried
    // over from the previous character, and how many `=` follow the data.
    let mut quad_pos = 0u8;
    let mut carry = 0u8;
    let mut pads = 0u8;
    let mut closed = false;
    for &byte in bytes.iter().chain(padding) {
        if byte == b'=' {
            // A pad only counts once two data characters are in the quad.
            if quad_pos >= 2 {
                pads = pads.saturating_add(1);
                if quad_pos.saturating_add(pads) >= 4 {
                    closed = true;
                }
            }
            continue;
        }
        let Some(value) = sextet(byte) else {
            continue;
        };
        if closed {
            return None;
        }
        pads = 0;
        match quad_pos {
            0 => carry = value,
            1 => {
                out.push((carry << 2) | (value >> 4));
                carry = value & 0x0f;
            }
            2 => {
                out.push((carry << 4) | (value >> 2));
                carry = value & 0x03;
            }
            _ => {
                out.push((carry << 6) | value);
                carry = 0;
            }
        }
        quad_pos = (quad_pos + 1) % 4;
    }
    // An unfinished quad is an error unless a complete pad sequence closed it.
    (closed || quad_pos == 0).then_some(out)
}

/// The six-bit value of a base64 character in Python's URL-safe decoder,
/// which maps `-`/`_` onto `+`/`/` and then accepts all four.
fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'-' | b'+' => Some(62),
        b'_' | b'/' => Some(63),
        _ => None,
    }
}

/// Python's `int(text)` (base 10) limited to the `i32` range: surrounding
/// whitespace (Python strips exactly what Rust's `char::is_whitespace`
/// matches), an optional sign, ASCII digits with leading zeros allowed, and
/// single underscores between digits. Python also reads non-ASCII decimal
/// digits (`"١٢"` is 12); we do not, as no uid Django or doorman makes
/// contains them and refusing is the safe answer.
pub(crate) fn parse_python_int(text: &str) -> Option<i32> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    // Starting as if after an underscore rejects a leading one.
    let mut after_underscore = true;
    for byte in digits.bytes() {
        match byte {
            b'0'..=b'9' => {
                // Leading zeros never grow the value, so overflow here means
                // the number is far outside i32 anyway.
                value = value.checked_mul(10)?.checked_add(i64::from(byte - b'0'))?;
                after_underscore = false;
            }
            b'_' if !after_underscore => after_underscore = true,
            _ => return None,
        }
    }
    if after_underscore {
        return None;
    }
    i32::try_from(if negative { -value } else { value }).ok()
}

/// What a token is computed from: the user's state that must change to
/// invalidate outstanding links.
#[derive(Clone, Copy)]
pub struct TokenUser<'a> {
    pub id: i32,
    /// The full stored hash string (`auth_user.password`).
    pub password_hash: &'a str,
    pub last_login: Option<OffsetDateTime>,
    /// The e-mail field's value; empty when the user has none.
    pub email: &'a str,
}

// The password hash stays out of logs and panic messages.
impl fmt::Debug for TokenUser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenUser")
            .field("id", &self.id)
            .field("password_hash", &"[redacted]")
            .field("last_login", &self.last_login)
            .field("email", &self.email)
            .finish()
    }
}

/// Makes and checks Django `PasswordResetTokenGenerator` tokens. Holds only
/// the derived HMAC keys, never the secrets themselves.
#[derive(Clone)]
pub struct TokenGenerator {
    /// HMAC key derived from `SECRET_KEY`: signs, and is tried first.
    primary: [u8; 32],
    /// HMAC keys derived from each fallback secret, in order.
    fallbacks: Vec<[u8; 32]>,
    timeout_secs: u64,
}

impl fmt::Debug for TokenGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGenerator")
            .field("primary", &"[redacted]")
            .field(
                "fallbacks",
                &format_args!("[{} redacted]", self.fallbacks.len()),
            )
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl TokenGenerator {
    /// `secret_key` signs new tokens; it and then each of `fallbacks` (Django's
    /// `SECRET_KEY_FALLBACKS`) are accepted when checking. `timeout_secs` is
    /// Django's `PASSWORD_RESET_TIMEOUT`.
    pub fn new(secret_key: &str, fallbacks: Vec<String>, timeout_secs: u64) -> Self {
        Self {
            primary: derive_key(secret_key),
            fallbacks: fallbacks.iter().map(|secret| derive_key(secret)).collect(),
            timeout_secs,
        }
    }

    /// A fresh token for this user, stamped with `now`.
    pub fn make_token(&self, user: &TokenUser<'_>, now: OffsetDateTime) -> String {
        // Django cannot represent instants before its epoch at all (it raises);
        // pinning them to 0 keeps this total without affecting real clocks.
        let ts = u128::try_from(seconds_since_epoch(now)).unwrap_or(0);
        token_with_timestamp(&self.primary, user, ts)
    }

    /// Whether `token` was made for this user's current state by one of our
    /// secrets and is not older than the timeout at `now`. A timestamp in
    /// the future passes, as in Django.
    pub fn check_token(&self, user: &TokenUser<'_>, token: &str, now: OffsetDateTime) -> bool {
        let Some((ts_text, hash)) = token.split_once('-') else {
            return false;
        };
        if hash.contains('-') {
            return false;
        }
        let Some(ts) = parse_base36(ts_text) else {
            return false;
        };
        // Comparing the whole recomputed token (not just the hash) also rejects
        // every non-canonical spelling of the timestamp, as Django's check does.
        let signed = std::iter::once(&self.primary)
            .chain(&self.fallbacks)
            .any(|key| {
                let expected = token_with_timestamp(key, user, ts);
                bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
            });
        if !signed {
            return false;
        }
        let age = i128::from(seconds_since_epoch(now)) - i128::try_from(ts).unwrap_or(i128::MAX);
        age <= i128::from(self.timeout_secs)
    }
}

/// Django's `salted_hmac` key: SHA-256 over the salt followed by the secret.
fn derive_key(secret: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(KEY_SALT.as_bytes());
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

fn token_with_timestamp(key: &[u8; 32], user: &TokenUser<'_>, ts: u128) -> String {
    // HMAC zero-pads keys shorter than the hash's 64-byte block, so handing it
    // the padded block is the same MAC and avoids a fallible constructor.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = Hmac::<Sha256>::new(&block.into());
    // Django's `_make_hash_value`: the fields concatenated with no separator.
    mac.update(user.id.to_string().as_bytes());
    mac.update(user.password_hash.as_bytes());
    mac.update(last_login_text(user.last_login).as_bytes());
    mac.update(ts.to_string().as_bytes());
    mac.update(user.email.as_bytes());
    let digest = mac.finalize().into_bytes();

    let mut token = to_base36(ts);
    token.push('-');
    // Django keeps every second character of the hex digest to shorten the
    // URL; those are exactly the high nibbles of the digest bytes.
    token.extend(
        digest
            .iter()
            .map(|byte| char::from(HEX_DIGITS[usize::from(byte >> 4)])),
    );
    token
}

/// `last_login` as Django's `str()` renders it after dropping microseconds
/// and the zone: `YYYY-MM-DD HH:MM:SS`, in UTC (what a `USE_TZ = True`
/// Django reads from the database); empty for a user who never logged in.
fn last_login_text(last_login: Option<OffsetDateTime>) -> String {
    let Some(at) = last_login else {
        return String::new();
    };
    // Converting can only fail at the edges of the representable range.
    let at = at.checked_to_offset(UtcOffset::UTC).unwrap_or(at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Whole seconds since 2001-01-01 UTC, truncated toward zero like Python's
/// `int(timedelta.total_seconds())`.
fn seconds_since_epoch(now: OffsetDateTime) -> i64 {
    (now - TOKEN_EPOCH).whole_seconds()
}

fn to_base36(mut value: u128) -> String {
    let mut digits = Vec::new();
    loop {
        // The remainder is below 36, so the index is always in range.
        digits.push(BASE36_DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

/// The lower-case base36 Django writes, at most 13 digits. Django's parser
/// also takes upper case, signs, spaces and underscores, but such a token can
/// never equal the canonical one it recomputes, so refusing them here gives
/// the same verdict.
fn parse_base36(text: &str) -> Option<u128> {
    if text.is_empty() || text.len() > MAX_TIMESTAMP_DIGITS {
        return None;
    }
    text.bytes().try_fold(0u128, |acc, byte| {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'z' => byte - b'a' + 10,
            _ => return None,
        };
        // 13 base36 digits stay far below u128::MAX.
        Some(acc * 36 + u128::from(digit))
    })
}

#[cfg(test)]
#[path = "django_tokens_tests.rs"]
pub(super) mod tests;
