//! Django-compatible password hashing: synchronous, pure functions with no
//! I/O. This module owns the encoded-hash formats Django stores in
//! `auth_user.password` and the policy around them. New hashes are always
//! Argon2id in Django's own layout (`argon2$argon2id$v=19$m=…,t=…,p=…$salt$hash`,
//! 22-character alphanumeric salt, 32-byte hash) so that a Django process
//! sharing the database can verify them. Verification accepts every format a
//! Django database may hold — PBKDF2 (SHA-256/SHA-1), Argon2 (id/i/d, with or
//! without `v=`), bcrypt and bcrypt-SHA256, scrypt, salted MD5 and the
//! pre-5.1 SHA-1/unsalted legacy layouts — and reports whether the hash
//! should be replaced by a current Argon2id one. Every work factor read from
//! a stored hash is checked against fixed bounds *before* any hashing, so a
//! crafted or imported hash cannot make one login burn minutes of CPU or
//! gigabytes of memory; anything out of bounds or malformed is `Invalid`,
//! never a panic. Digest comparisons go through `subtle` so they take the
//! same time whatever the first differing byte is.
//!
//! These functions are slow on purpose and block the thread; async code must
//! go through `security::passwords::PasswordService`.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Django's salts are 22 characters from `[A-Za-z0-9]`: ceil(128 / log2 62).
/// We produce the same so Django's own `must_update` is happy with our hashes.
const SALT_CHARS: usize = 22;

/// Hash length argon2-cffi (and therefore Django) has produced since 2016.
const ARGON2_HASH_LEN: usize = 32;

/// Length of the random tail Django appends to `!` in unusable passwords.
const UNUSABLE_SUFFIX_LEN: usize = 40;

// Work-factor ceilings for hashes read from storage. They sit well above
// anything Django has ever defaulted to (PBKDF2 1.2M in 6.0, bcrypt 12,
// argon2 100 MiB/t=2/p=8, scrypt 2^14·8·5), so no genuine hash is refused,
// while a hostile one is held to at most 512 MiB of memory and a bounded
// run time: about a second for PBKDF2, a few seconds for bcrypt, longer for
// the argon2/scrypt extremes (t or p of 64 at the memory cap). The
// PasswordService semaphore limits how many such runs happen at once.
const PBKDF2_MAX_ITERATIONS: u32 = 10_000_000;
const BCRYPT_MIN_COST: u32 = 4;
const BCRYPT_MAX_COST: u32 = 16;
const ARGON2_MAX_MEMORY_KIB: u32 = 524_288;
const ARGON2_MAX_TIME: u32 = 64;
const ARGON2_MAX_LANES: u32 = 64;
/// The argon2 crate refuses fewer than 8 KiB per lane; so does the reference.
const ARGON2_MIN_KIB_PER_LANE: u32 = 8;
/// A stored argon2 hash longer than this is not something any library made.
const ARGON2_MAX_HASH_LEN: usize = 1024;
const ARGON2_MIN_HASH_LEN: usize = 4;
const ARGON2_MIN_SALT_LEN: usize = 8;
const SCRYPT_MAX_LOG_N: u32 = 20;
const SCRYPT_MAX_MEMORY: u64 = 512 * 1024 * 1024;
const SCRYPT_MAX_R: u32 = 64;
const SCRYPT_MAX_P: u32 = 64;
/// Django asks hashlib.scrypt for 64 bytes.
const SCRYPT_DK_LEN: usize = 64;

/// Argon2 PHC strings use unpadded standard base64, but Python decoders pad
/// and tolerate loose trailing bits; accept both so no stored hash is
/// rejected for cosmetic reasons.
const PHC_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Work factors for new Argon2id hashes. Embedded in the configuration tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Params {
    /// Memory in KiB (Argon2's `m`).
    pub memory_kib: u32,
    /// Passes over memory (Argon2's `t`).
    pub iterations: u32,
    /// Lanes (Argon2's `p`).
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP's recommended Argon2id setting: 19 MiB, two passes, one lane.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Params {
    /// The cheapest parameters Argon2 allows. Only for tests, where thousands
    /// of hashes must be computed quickly; never use these in production.
    pub fn danger_fast_for_tests() -> Self {
        Self {
            memory_kib: ARGON2_MIN_KIB_PER_LANE,
            iterations: 1,
            parallelism: 1,
        }
    }

    /// Checks that these parameters are legal for Argon2 and inside the bounds
    /// the verifier enforces (a hash we make must be one we accept).
    /// Configuration loading should call this and refuse to start on `Err`.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=ARGON2_MAX_LANES).contains(&self.parallelism) {
            return Err(format!(
                "parallelism must be between 1 and {ARGON2_MAX_LANES}, got {}",
                self.parallelism
            ));
        }
        if !(1..=ARGON2_MAX_TIME).contains(&self.iterations) {
            return Err(format!(
                "iterations must be between 1 and {ARGON2_MAX_TIME}, got {}",
                self.iterations
            ));
        }
        let min_memory = ARGON2_MIN_KIB_PER_LANE * self.parallelism;
        if !(min_memory..=ARGON2_MAX_MEMORY_KIB).contains(&self.memory_kib) {
            return Err(format!(
                "memory_kib must be between {min_memory} (8 per lane) and \
                 {ARGON2_MAX_MEMORY_KIB}, got {}",
                self.memory_kib
            ));
        }
        Ok(())
    }

    /// The parameters actually used: `self` forced into the legal range.
    /// `check` should have rejected bad values already; clamping is only the
    /// fallback that keeps `make_password` infallible and its output
    /// verifiable even if a caller skipped that.
    fn effective(&self) -> Self {
        let parallelism = self.parallelism.clamp(1, ARGON2_MAX_LANES);
        Self {
            memory_kib: self
                .memory_kib
                .clamp(ARGON2_MIN_KIB_PER_LANE * parallelism, ARGON2_MAX_MEMORY_KIB),
            iterations: self.iterations.clamp(1, ARGON2_MAX_TIME),
            parallelism,
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right. `needs_rehash` asks the caller to store a fresh
    /// hash made with the current parameters (Django does the same on login).
    Match { needs_rehash: bool },
    /// The password is wrong.
    NoMatch,
    /// The account has no usable password (`!…` or empty); nothing matches.
    Unusable,
    /// The stored hash is malformed, of an unsupported algorithm or exceeds
    /// the cost bounds. The text says which, for logs; never show it to users.
    Invalid(&'static str),
}

/// Hashes `password` as Argon2id with a fresh random salt, in Django's
/// encoded form.
pub fn make_password(password: &str, params: &Argon2Params) -> String {
    let params = params.effective();
    let salt = random_alphanumeric(SALT_CHARS);
    let mut hash = [0u8; ARGON2_HASH_LEN];
    let computed = argon2_hash(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        &params,
        password.as_bytes(),
        salt.as_bytes(),
        &mut hash,
    );
    match computed {
        Ok(()) => format!(
            "argon2$argon2id$v=19$m={},t={},p={}${}${}",
            params.memory_kib,
            params.iterations,
            params.parallelism,
            PHC_B64.encode(salt.as_bytes()),
            PHC_B64.encode(hash),
        ),
        Err(error) => {
            // Unreachable with clamped parameters and a 22-byte salt. Should
            // it ever happen, failing closed (a hash nothing matches) beats
            // panicking in the middle of a request.
            tracing::error!(%error, "argon2 refused to hash; storing an unusable password");
            make_unusable_password()
        }
    }
}

/// Django's marker for "no password": `!` and 40 random alphanumerics (the
/// random tail keeps such values distinct and unguessable).
pub fn make_unusable_password() -> String {
    let mut out = String::with_capacity(1 + UNUSABLE_SUFFIX_LEN);
    out.push('!');
    out.push_str(&random_alphanumeric(UNUSABLE_SUFFIX_LEN));
    out
}

/// Django's `is_password_usable`: false only for values starting with `!`.
/// An empty string counts as usable, exactly as in Django (rows created
/// without a password hold `""`, and Django lets their owners reset it);
/// `verify_password` still never matches it.
pub fn is_usable(encoded: &str) -> bool {
    !encoded.starts_with('!')
}

/// Checks `password` against a stored Django hash.
pub fn verify_password(password: &str, encoded: &str, current: &Argon2Params) -> Verification {
    if encoded.is_empty() || encoded.starts_with('!') {
        return Verification::Unusable;
    }
    // Django's oldest format: a bare hex MD5 with no algorithm prefix.
    if encoded.len() == 32 && !encoded.contains('$') {
        return legacy_outcome(verify_salted_hex::<md5::Md5>(password, "", encoded));
    }
    let Some((algorithm, rest)) = encoded.split_once('$') else {
        return Verification::Invalid("unrecognised hash format");
    };
    match algorithm {
        "argon2" => verify_argon2(password, rest, current),
        "pbkdf2_sha256" => legacy_outcome(verify_pbkdf2(
            password,
            rest,
            pbkdf2::pbkdf2_hmac::<Sha256>,
            32,
        )),
        "pbkdf2_sha1" => legacy_outcome(verify_pbkdf2(
            password,
            rest,
            pbkdf2::pbkdf2_hmac::<Sha1>,
            20,
        )),
        "bcrypt_sha256" => {
            // Django feeds bcrypt the lower-case hex SHA-256 of the password
            // so that long passwords are not cut at 72 bytes.
            let prehash = hex::encode(Sha256::digest(password.as_bytes()));
            legacy_outcome(verify_bcrypt(prehash.as_bytes(), rest))
        }
        "bcrypt" => legacy_outcome(verify_bcrypt(password.as_bytes(), rest)),
        "scrypt" => legacy_outcome(verify_scrypt(password, rest)),
        "md5" => legacy_outcome(verify_salted_split::<md5::Md5>(password, rest)),
        "sha1" => legacy_outcome(verify_salted_split::<Sha1>(password, rest)),
        _ => Verification::Invalid("unsupported hash algorithm"),
    }
}

/// What decides a stored hash's cost to check: its algorithm and work
/// parameters without salt and digest (`pbkdf2_sha256$1000000`,
/// `argon2$argon2id$v=19$m=102400,t=2,p=8`, `bcrypt$$2b$12`,
/// `scrypt$16384$8$1`); `None` for unusable hashes and the unsalted or
/// single-round formats, which cost next to nothing.
pub fn cost_parameters(encoded: &str) -> Option<String> {
    let fields: Vec<&str> = encoded.split('$').collect();
    let keep = |n: usize| (fields.len() > n).then(|| fields[..n].join("$"));
    match fields[0] {
        "pbkdf2_sha256" | "pbkdf2_sha1" => keep(2),
        "argon2" => keep(4),
        "bcrypt" | "bcrypt_sha256" => keep(4),
        "scrypt" if fields.len() == 6 => {
            Some(format!("scrypt${}${}${}", fields[2], fields[3], fields[4]))
        }
        _ => None,
    }
}

/// Spends the same effort as verifying a current-parameters Argon2id hash,
/// then throws the result away. Used when there is no real hash to check
/// (unknown user, unusable password) so response time does not reveal it.
pub fn dummy_verify(password: &str, current: &Argon2Params) {
    // A correctly shaped hash with a fixed salt and an all-zero digest: it
    // goes through the very same parsing, decoding and Argon2 work as a real
    // one, and no password can match it in practice.
    let params = current.effective();
    let encoded = format!(
        "argon2$argon2id$v=19$m={},t={},p={}${}${}",
        params.memory_kib,
        params.iterations,
        params.parallelism,
        PHC_B64.encode(b"doormandummysalt000000"),
        PHC_B64.encode([0u8; ARGON2_HASH_LEN]),
    );
    std::hint::black_box(verify_password(password, &encoded, current));
}

/// Which algorithm new and upgraded hashes use (`security.password_hasher`).
/// Argon2id is the stronger; PBKDF2-SHA256 is what a Django deployment
/// without `argon2-cffi` can check, for while Django still serves the same
/// database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HasherChoice {
    #[default]
    Argon2,
    Pbkdf2Sha256,
}

/// Django 5.2's `PBKDF2PasswordHasher.iterations`.
pub const DJANGO_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// How passwords are hashed: the algorithm new hashes use and its cost.
#[derive(Debug, Clone)]
pub struct HashPolicy {
    pub hasher: HasherChoice,
    pub argon2: Argon2Params,
    pub pbkdf2_iterations: u32,
}

impl HashPolicy {
    /// Argon2id with `params` (the default policy).
    pub fn argon2(params: Argon2Params) -> HashPolicy {
        HashPolicy {
            hasher: HasherChoice::Argon2,
            argon2: params,
            pbkdf2_iterations: DJANGO_PBKDF2_ITERATIONS,
        }
    }

    /// A fresh hash of `password` with the chosen algorithm.
    pub fn make(&self, password: &str) -> String {
        match self.hasher {
            HasherChoice::Argon2 => make_password(password, &self.argon2),
            HasherChoice::Pbkdf2Sha256 => make_pbkdf2(
                password,
                &random_alphanumeric(SALT_CHARS),
                self.iterations(),
            ),
        }
    }

    /// Checks `password` against `encoded`; a match asks for a rehash
    /// unless the hash is of the chosen algorithm at the current cost (as
    /// Django's `must_update`: a PBKDF2 hash of another iteration count is
    /// upgraded, either way).
    pub fn verify(&self, password: &str, encoded: &str) -> Verification {
        let outcome = verify_password(password, encoded, &self.argon2);
        match (self.hasher, outcome) {
            (HasherChoice::Pbkdf2Sha256, Verification::Match { .. }) => Verification::Match {
                needs_rehash: !self.is_current_pbkdf2(encoded),
            },
            (HasherChoice::Pbkdf2Sha256, other) => other,
            (HasherChoice::Argon2, other) => other,
        }
    }

    /// The work of a real check, for a user who does not exist.
    pub fn dummy_verify(&self, password: &str) {
        match self.hasher {
            HasherChoice::Argon2 => dummy_verify(password, &self.argon2),
            HasherChoice::Pbkdf2Sha256 => {
                let encoded = format!(
                    "pbkdf2_sha256${}$doormandummysalt000000${}",
                    self.iterations(),
                    STANDARD.encode([0u8; 32])
                );
                std::hint::black_box(verify_password(password, &encoded, &self.argon2));
            }
        }
    }

    fn iterations(&self) -> u32 {
        self.pbkdf2_iterations.clamp(1, PBKDF2_MAX_ITERATIONS)
    }

    fn is_current_pbkdf2(&self, encoded: &str) -> bool {
        let mut parts = encoded.splitn(4, '$');
        parts.next() == Some("pbkdf2_sha256")
            && parts.next().and_then(parse_decimal) == Some(self.iterations())
            && parts.next().is_some_and(|salt| salt.len() >= SALT_CHARS)
    }
}

/// `pbkdf2_sha256$<iterations>$<salt>$<base64 digest>`, as Django's
/// `PBKDF2PasswordHasher.encode` writes it.
fn make_pbkdf2(password: &str, salt: &str, iterations: u32) -> String {
    let mut derived = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    format!(
        "pbkdf2_sha256${iterations}${salt}${}",
        STANDARD.encode(derived)
    )
}

/// Maps the result of a non-Argon2 verifier: any match needs a rehash,
/// because only Argon2id is current.
fn legacy_outcome(result: Result<bool, &'static str>) -> Verification {
    match result {
        Ok(true) => Verification::Match { needs_rehash: true },
        Ok(false) => Verification::NoMatch,
        Err(reason) => Verification::Invalid(reason),
    }
}

fn random_alphanumeric(len: usize) -> String {
    // ThreadRng is a CSPRNG seeded from the OS, suitable for salts.
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Parses a non-negative decimal number made only of ASCII digits. Stricter
/// than Python's `int()` (no sign, spaces or underscores), which Django never
/// writes anyway.
fn parse_decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    // `subtle` returns early only on a length mismatch, and lengths of our
    // digests are public anyway.
    a.ct_eq(b).into()
}

/// `pbkdf2_<digest>$<iterations>$<salt>$<b64>`; `rest` is after the prefix.
fn verify_pbkdf2(
    password: &str,
    rest: &str,
    derive: fn(&[u8], &[u8], u32, &mut [u8]),
    dk_len: usize,
) -> Result<bool, &'static str> {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(stored)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed pbkdf2 hash");
    };
    let iterations = parse_decimal(iterations).ok_or("malformed pbkdf2 iterations")?;
    if !(1..=PBKDF2_MAX_ITERATIONS).contains(&iterations) {
        return Err("pbkdf2 iterations out of bounds");
    }
    let mut derived = [0u8; 32];
    let derived = derived.get_mut(..dk_len).ok_or("pbkdf2 digest too long")?;
    derive(password.as_bytes(), salt.as_bytes(), iterations, derived);
    // Django compares the base64 text, so a non-canonical stored encoding
    // would not match there either.
    Ok(ct_eq(
        STANDARD.encode(derived).as_bytes(),
        stored.as_bytes(),
    ))
}

/// `$2b$<cost>$<salt+hash>` (the part after `bcrypt$` or `bcrypt_sha256$`).
fn verify_bcrypt(secret: &[u8], rest: &str) -> Result<bool, &'static str> {
    // Django writes an empty field between the prefix and bcrypt's own `$2b$`.
    let parts: bcrypt::HashParts = rest.parse().map_err(|_| "malformed bcrypt hash")?;
    if !(BCRYPT_MIN_COST..=BCRYPT_MAX_COST).contains(&parts.get_cost()) {
        return Err("bcrypt cost out of bounds");
    }
    // The crate truncates at 72 bytes like classic bcrypt and compares the
    // digest in constant time.
    bcrypt::verify(secret, rest).map_err(|_| "malformed bcrypt hash")
}

/// `scrypt$<N>$<salt>$<r>$<p>$<b64>`; `rest` is after `scrypt$`.
fn verify_scrypt(password: &str, rest: &str) -> Result<bool, &'static str> {
    let fields: Vec<&str> = rest.split('$').collect();
    let [n, salt, r, p, stored] = fields.as_slice() else {
        return Err("malformed scrypt hash");
    };
    let (Some(n), Some(r), Some(p)) = (parse_decimal(n), parse_decimal(r), parse_decimal(p)) else {
        return Err("malformed scrypt parameters");
    };
    if n < 2 || !n.is_power_of_two() || n.trailing_zeros() > SCRYPT_MAX_LOG_N {
        return Err("scrypt N out of bounds");
    }
    if !(1..=SCRYPT_MAX_R).contains(&r) || !(1..=SCRYPT_MAX_P).contains(&p) {
        return Err("scrypt r or p out of bounds");
    }
    if 128 * u64::from(n) * u64::from(r) > SCRYPT_MAX_MEMORY {
        return Err("scrypt memory out of bounds");
    }
    let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| "scrypt N out of bounds")?;
    let params = scrypt::Params::new(log_n, r, p).map_err(|_| "invalid scrypt parameters")?;
    let mut derived = [0u8; SCRYPT_DK_LEN];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut derived)
        .map_err(|_| "invalid scrypt output length")?;
    Ok(ct_eq(
        STANDARD.encode(derived).as_bytes(),
        stored.as_bytes(),
    ))
}

// `sha2::Digest` is the RustCrypto `digest` trait, re-exported; `md5::Md5`
// and `sha1::Sha1` implement the very same trait version.

/// `<salt>$<hex>` as in `md5$…` and `sha1$…` (salt may be empty).
fn verify_salted_split<D: sha2::Digest>(password: &str, rest: &str) -> Result<bool, &'static str> {
    let (salt, stored) = rest.split_once('$').ok_or("malformed salted digest")?;
    verify_salted_hex::<D>(password, salt, stored)
}

/// Lower-case hex digest of `salt + password`, compared as text as Django does.
fn verify_salted_hex<D: sha2::Digest>(
    password: &str,
    salt: &str,
    stored: &str,
) -> Result<bool, &'static str> {
    let mut hasher = D::new();
    hasher.update(salt.as_bytes());
    hasher.update(password.as_bytes());
    let computed = hex::encode(hasher.finalize());
    Ok(ct_eq(computed.as_bytes(), stored.as_bytes()))
}

/// What the `argon2$…` header says, once parsed and bounds-checked.
struct Argon2Header<'a> {
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    params: Argon2Params,
    salt: &'a str,
    hash: &'a str,
}

/// `argon2id$v=19$m=…,t=…,p=…$salt$hash` (or without the `v=` field, which
/// means version 0x10 in the oldest Django hashes).
fn parse_argon2(rest: &str) -> Result<Argon2Header<'_>, &'static str> {
    let fields: Vec<&str> = rest.split('$').collect();
    let (variety, version, costs, salt, hash) = match fields.as_slice() {
        [variety, version, costs, salt, hash] => {
            let version = match *version {
                "v=19" => argon2::Version::V0x13,
                "v=16" => argon2::Version::V0x10,
                _ => return Err("unsupported argon2 version"),
            };
            (*variety, version, *costs, *salt, *hash)
        }
        [variety, costs, salt, hash] => (*variety, argon2::Version::V0x10, *costs, *salt, *hash),
        _ => return Err("malformed argon2 hash"),
    };
    let algorithm = match variety {
        "argon2id" => argon2::Algorithm::Argon2id,
        "argon2i" => argon2::Algorithm::Argon2i,
        "argon2d" => argon2::Algorithm::Argon2d,
        _ => return Err("unsupported argon2 variety"),
    };
    // The reference encoder always writes the three costs in this order.
    let mut costs = costs.split(',');
    let (Some(m), Some(t), Some(p), None) =
        (costs.next(), costs.next(), costs.next(), costs.next())
    else {
        return Err("malformed argon2 parameters");
    };
    let cost = |field: &str, key: &str| field.strip_prefix(key).and_then(parse_decimal);
    let (Some(memory_kib), Some(iterations), Some(parallelism)) =
        (cost(m, "m="), cost(t, "t="), cost(p, "p="))
    else {
        return Err("malformed argon2 parameters");
    };
    let params = Argon2Params {
        memory_kib,
        iterations,
        parallelism,
    };
    params
        .check()
        .map_err(|_| "argon2 parameters out of bounds")?;
    Ok(Argon2Header {
        algorithm,
        version,
        params,
        salt,
        hash,
    })
}

fn verify_argon2(password: &str, rest: &str, current: &Argon2Params) -> Verification {
    let header = match parse_argon2(rest) {
        Ok(header) => header,
        Err(reason) => return Verification::Invalid(reason),
    };
    let (Ok(salt), Ok(expected)) = (PHC_B64.decode(header.salt), PHC_B64.decode(header.hash))
    else {
        return Verification::Invalid("malformed argon2 base64");
    };
    if salt.len() < ARGON2_MIN_SALT_LEN {
        return Verification::Invalid("argon2 salt too short");
    }
    if !(ARGON2_MIN_HASH_LEN..=ARGON2_MAX_HASH_LEN).contains(&expected.len()) {
        return Verification::Invalid("argon2 hash length out of bounds");
    }
    let mut computed = vec![0u8; expected.len()];
    if argon2_hash(
        header.algorithm,
        header.version,
        &header.params,
        password.as_bytes(),
        &salt,
        &mut computed,
    )
    .is_err()
    {
        return Verification::Invalid("argon2 rejected the parameters");
    }
    if !ct_eq(&computed, &expected) {
        return Verification::NoMatch;
    }
    // Current means: what make_password would write today. The salt check
    // mirrors Django's 128-bit salt-entropy rule.
    let is_current = header.algorithm == argon2::Algorithm::Argon2id
        && header.version == argon2::Version::V0x13
        && header.params == current.effective()
        && expected.len() == ARGON2_HASH_LEN
        && salt.len() >= SALT_CHARS;
    Verification::Match {
        needs_rehash: !is_current,
    }
}

fn argon2_hash(
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    params: &Argon2Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let params = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )?;
    let needed = params.block_count();
    let argon2 = argon2::Argon2::new(algorithm, version, params);
    if needed > REUSED_BLOCKS_MAX {
        return argon2.hash_password_into(password, salt, out);
    }
    // Each hashing thread keeps its Argon2 memory from one hash to the next.
    // Allocating and freeing 19 MiB per hash fragmented glibc's heap: the
    // benchmark saw RSS climb past 300 MiB under a login burst although at
    // most two hashes ran at once (massif: peak heap 42 MiB). Argon2 writes
    // every block before reading it, so the old contents do not matter.
    ARGON2_MEMORY.with_borrow_mut(|blocks| {
        if blocks.len() < needed {
            if blocks.capacity() < needed {
                // Reserve more than glibc's largest mmap threshold (32 MiB)
                // so that the buffer is always mapped on its own: freeing
                // it then unmaps it (`release_thread_memory`). Smaller, it
                // would come from the thread's heap after the first release
                // and stay resident there. Only the `needed` blocks written
                // below become resident.
                *blocks = Vec::with_capacity(needed.max(OWN_MAPPING_BLOCKS));
            }
            blocks.resize(needed, argon2::Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..needed])
    })
}

/// Argon2 memory kept per thread is capped at 64 MiB (65,536 blocks of
/// 1 KiB); a stored hash asking for more gets a one-off allocation.
const REUSED_BLOCKS_MAX: usize = 64 * 1024;

/// 33 MiB of 1 KiB blocks: above glibc's `DEFAULT_MMAP_THRESHOLD_MAX`.
const OWN_MAPPING_BLOCKS: usize = 33 * 1024;

/// Frees the calling thread's kept Argon2 memory (see `argon2_hash`); the
/// next hash on this thread allocates it again.
pub fn release_thread_memory() {
    ARGON2_MEMORY.with_borrow_mut(|blocks| *blocks = Vec::new());
}

/// How many Argon2 blocks the calling thread keeps (for tests).
#[cfg(test)]
pub fn kept_blocks() -> usize {
    ARGON2_MEMORY.with_borrow(Vec::capacity)
}

thread_local! {
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
#[path = "hashers_tests.rs"]
mod tests;
