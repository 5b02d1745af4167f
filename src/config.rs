//! One typed settings tree, read once at start-up and passed down.
//!
//! Precedence, lowest first: the built-in defaults written in this file, a
//! TOML file (`doorman.toml` in the working directory if present, or the file
//! given with `--config`), then environment variables named
//! `DOORMAN_<SECTION>__<KEY>`. Every section rejects keys it does not know and
//! every value is checked here, so a typo or a bad value stops start-up with a
//! message naming the key and where it came from, instead of being ignored.
//! Nothing else in doorman reads the environment for settings.

use std::{net::SocketAddr, path::PathBuf, str::FromStr};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::security::{
    hashers::{Argon2Params, DJANGO_PBKDF2_ITERATIONS, HashPolicy, HasherChoice},
    validators::PasswordValidator,
};

mod email_url;
mod net;
mod rate;

pub use email_url::{EmailUrl, parse_email_url};
pub use net::Cidr;
pub use rate::{Limit, Rate, RateLimitSettings};

/// The file read when `--config` is not given (optional).
pub const DEFAULT_CONFIG_FILE: &str = "doorman.toml";
/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "DOORMAN_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Keys unknown or values of the wrong type, each named with its source.
    #[error("invalid configuration: {}", .0.join("; "))]
    Load(Vec<String>),
    #[error("invalid configuration: `{key}` (from {source_name}): {message}")]
    Invalid {
        key: &'static str,
        source_name: String,
        message: String,
    },
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub security: SecuritySettings,
    pub email: EmailSettings,
    pub djoser: DjoserSettings,
    pub jwt: JwtSettings,
    pub users: UserSettings,
    pub accounts: AccountsSettings,
    pub media: MediaSettings,
    pub rate_limit: RateLimitSettings,
    pub audit: AuditSettings,
    pub mfa: MfaSettings,
    pub webauthn: WebauthnSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address and port to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The public base URL of this service, e.g. `https://auth.example.com`.
    pub public_url: Option<String>,
    /// The host names a request's `Host` header may give when absolute URLs
    /// (pictures, page links) are built from it, that is while `public_url`
    /// is not set. Django's ALLOWED_HOSTS: compared ignoring case and port;
    /// `.example.com` matches example.com and every subdomain, `*` matches
    /// any host. Another host gets 400 from the endpoints that build URLs.
    pub allowed_hosts: Vec<String>,
    /// Development mode: allows running without `security.secret_key`
    /// (a random key is generated at every start).
    pub dev: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// A request taking longer than this is answered with 408, in seconds.
    pub request_timeout_secs: u64,
    /// How long shutdown waits for in-flight requests, in seconds.
    pub shutdown_grace_secs: u64,
    /// The proxies (CIDR blocks, e.g. `10.0.0.0/8`, or single addresses)
    /// whose `X-Forwarded-For` / `Forwarded` headers are believed: a
    /// request from one of them is the right-most address in those headers
    /// that is not itself a trusted proxy. From any other peer the headers
    /// change nothing. Empty by default: the TCP peer is the client.
    pub trusted_proxies: Vec<Cidr>,
    /// The one header trusted proxies append the client to:
    /// `x-forwarded-for` (nginx, HAProxy, cloud load balancers) or
    /// `forwarded` (RFC 7239). The other is never read: a proxy passes it
    /// through as the client wrote it.
    pub forwarded_header: ForwardedHeaderSetting,
    /// Browser origins (`https://app.example.com`) allowed to call the
    /// APIs from script; empty (the default) sends no CORS headers at all.
    pub cors_allowed_origins: Vec<String>,
    /// Let those origins send cookies and HTTP authentication
    /// (`Access-Control-Allow-Credentials`); bearer tokens do not need it.
    pub cors_allow_credentials: bool,
    pub cors_allowed_methods: Vec<String>,
    pub cors_allowed_headers: Vec<String>,
    /// How long a browser may keep a preflight answer, in seconds.
    pub cors_max_age_secs: u64,
    /// The bearer token `/metrics` asks for; unset, `/metrics` answers 401
    /// to everyone.
    pub metrics_token: Option<String>,
    /// A request's head (request line and headers) must arrive within this
    /// many seconds, and an idle keep-alive connection is closed after it.
    pub header_read_timeout_secs: u64,
    /// Connections open at once; 0 picks the file-descriptor limit less a
    /// reserve (at most 10,000). Further clients wait in the listen queue.
    pub max_connections: usize,
    /// Connections open at once from one address (trusted proxies exempt).
    pub max_connections_per_address: usize,
    /// Largest request head (request line, URI and headers), in bytes;
    /// larger ones get 431.
    pub max_request_head_bytes: usize,
    /// Most headers one request may carry (431 beyond).
    pub max_request_headers: usize,
    /// Largest JSON or form body, in bytes (413 beyond); multipart uploads
    /// have `server.max_body_bytes`.
    pub max_json_bytes: usize,
}

/// `server.forwarded_header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeaderSetting {
    XForwardedFor,
    Forwarded,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            public_url: None,
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            dev: false,
            max_body_bytes: 6 * 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeaderSetting::XForwardedFor,
            cors_allowed_origins: Vec::new(),
            cors_allow_credentials: false,
            cors_allowed_methods: ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .to_vec(),
            cors_allowed_headers: ["authorization", "content-type", "x-request-id"]
                .map(String::from)
                .to_vec(),
            cors_max_age_secs: 600,
            metrics_token: None,
            header_read_timeout_secs: 10,
            max_connections: 0,
            max_connections_per_address: 256,
            max_request_head_bytes: 32 * 1024,
            max_request_headers: 100,
            max_json_bytes: 64 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` (created if missing), `sqlite::memory:`,
    /// or `postgres://user@host/dbname`.
    pub url: String,
    /// Connections in the pool.
    pub max_connections: u32,
    /// SQLite only: how long a writer waits for a lock, in milliseconds
    /// (SQLite retries until then); past it the request answers 503.
    pub busy_timeout_ms: u64,
    /// How long a request waits for a connection from the pool, including
    /// opening one, in milliseconds; past it (the database is unreachable
    /// or every connection is busy) the request answers 503.
    pub acquire_timeout_ms: u64,
    /// How long, in milliseconds, a user looked up for JWT authentication
    /// is kept in memory. Changes made through this process are seen at
    /// once; changes made elsewhere (another node, another process, Django)
    /// within this time. 0 turns the cache off.
    pub user_cache_ttl_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://doorman.db".into(),
            max_connections: 10,
            busy_timeout_ms: 5000,
            acquire_timeout_ms: 3000,
            user_cache_ttl_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// Signs JWTs and reset/activation tokens. Use the Django deployment's
    /// SECRET_KEY to keep its links and tokens valid.
    pub secret_key: Option<String>,
    /// A file holding the secret key (a container secret, say), read at
    /// start-up; surrounding whitespace is dropped. Not with `secret_key`.
    pub secret_key_file: Option<PathBuf>,
    /// Former secret keys still accepted when checking activation/reset
    /// links and JWTs (Django's SECRET_KEY_FALLBACKS), for key rotation;
    /// only `secret_key` signs.
    pub secret_key_fallbacks: Vec<String>,
    /// Lifetime of activation and password-reset links, in seconds
    /// (Django's PASSWORD_RESET_TIMEOUT, 3 days by default).
    pub token_timeout: u64,
    /// The algorithm of new and upgraded password hashes: `argon2`
    /// (Argon2id) or `pbkdf2_sha256` (Django's default, which a Django
    /// still serving the same database can check without `argon2-cffi`).
    pub password_hasher: HasherChoice,
    /// Argon2id parameters for new password hashes.
    pub argon2: Argon2Params,
    /// PBKDF2-SHA256 iterations of new hashes with `pbkdf2_sha256`
    /// (Django 5.2's count by default; a stored hash of another count is
    /// upgraded at login, as Django does).
    pub pbkdf2_iterations: u32,
    /// Password hashes computed at once; 0 means one per CPU core.
    pub hash_concurrency: usize,
    /// Tests only: hash with the weakest Argon2 parameters. Never in production.
    pub danger_fast_hashing_for_tests: bool,
    /// The key that seals TOTP secrets at rest; when not set, a key is
    /// derived from `secret_key` (so changing that key then makes every
    /// authenticator app's secret unreadable: set this before rotating).
    pub mfa_key: Option<String>,
    /// Also ask for a recent authentication (the password and, for a user
    /// with a second factor, a code, or a sign-in within
    /// `mfa.reauthentication_timeout`) before a password change and an
    /// account deletion, which otherwise need only the current password.
    pub reauthentication: bool,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            secret_key: None,
            secret_key_file: None,
            secret_key_fallbacks: Vec::new(),
            token_timeout: 259_200,
            password_hasher: HasherChoice::Argon2,
            argon2: Argon2Params::default(),
            pbkdf2_iterations: DJANGO_PBKDF2_ITERATIONS,
            hash_concurrency: 0,
            danger_fast_hashing_for_tests: false,
            mfa_key: None,
            reauthentication: false,
        }
    }
}

impl SecuritySettings {
    /// How passwords are hashed, as configured.
    pub fn effective_hashing(&self) -> HashPolicy {
        HashPolicy {
            hasher: self.password_hasher,
            argon2: self.effective_argon2(),
            pbkdf2_iterations: match self.danger_fast_hashing_for_tests {
                true => 1_000,
                false => self.pbkdf2_iterations,
            },
        }
    }

    /// The Argon2 parameters actually in force.
    pub fn effective_argon2(&self) -> Argon2Params {
        if self.danger_fast_hashing_for_tests {
            Argon2Params::danger_fast_for_tests()
        } else {
            self.argon2.clone()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSettings {
    /// `console:`, `smtp://[user:pass@]host:port` (STARTTLS when the server
    /// offers it), `smtps://[user:pass@]host:port` (TLS from the start) or
    /// `file:///directory` (one `.eml` file per message).
    pub url: String,
    /// A file holding `url` (it may carry the SMTP password); read at
    /// start-up, not with `url`.
    pub url_file: Option<PathBuf>,
    /// Sender address of every message.
    pub from: String,
    /// A directory whose files replace the built-in templates of the same
    /// name (e.g. `activation.html`); others keep the built-in text.
    pub templates_dir: Option<PathBuf>,
    /// Run the sending worker in this process. Every node may run one: a
    /// message is claimed by one worker at a time.
    pub worker: bool,
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    /// First retry delay in seconds; doubles per attempt (with jitter).
    pub retry_base_secs: u64,
    /// Longest retry delay in seconds.
    pub retry_max_secs: u64,
    /// How often the worker looks for due messages, in milliseconds (it is
    /// also woken at once when this process queues one).
    pub poll_interval_ms: u64,
    /// How long a claimed message stays reserved for its worker, in seconds;
    /// after that another worker may take it (e.g. the first one crashed).
    pub lease_secs: u64,
    /// SMTP connection and command timeout, in seconds.
    pub smtp_timeout_secs: u64,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            url: "console:".into(),
            url_file: None,
            from: "webmaster@localhost".into(),
            templates_dir: None,
            worker: true,
            max_attempts: 8,
            retry_base_secs: 30,
            retry_max_secs: 3600,
            poll_interval_ms: 1000,
            lease_secs: 300,
            smtp_timeout_secs: 30,
        }
    }
}

/// Djoser's settings (lower-cased names, Djoser's defaults). The link
/// patterns, which Djoser leaves without a default, default to the patterns
/// its documentation shows. `domain`, `protocol` and `site_name` (and the
/// `email_frontend_*` overrides) build the links in e-mails; they never come
/// from the request's `Host` header.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DjoserSettings {
    pub send_activation_email: bool,
    pub send_confirmation_email: bool,
    pub password_changed_email_confirmation: bool,
    pub username_changed_email_confirmation: bool,
    pub user_create_password_retype: bool,
    pub set_password_retype: bool,
    pub password_reset_confirm_retype: bool,
    pub set_username_retype: bool,
    pub username_reset_confirm_retype: bool,
    pub password_reset_show_email_not_found: bool,
    pub username_reset_show_email_not_found: bool,
    pub logout_on_password_change: bool,
    pub hide_users: bool,
    pub activation_url: String,
    pub password_reset_confirm_url: String,
    pub username_reset_confirm_url: String,
    pub domain: Option<String>,
    pub site_name: Option<String>,
    pub protocol: Option<String>,
    pub email_frontend_domain: Option<String>,
    pub email_frontend_protocol: Option<String>,
    pub email_frontend_site_name: Option<String>,
}

impl Default for DjoserSettings {
    fn default() -> Self {
        Self {
            send_activation_email: false,
            send_confirmation_email: false,
            password_changed_email_confirmation: false,
            username_changed_email_confirmation: false,
            user_create_password_retype: false,
            set_password_retype: false,
            password_reset_confirm_retype: false,
            set_username_retype: false,
            username_reset_confirm_retype: false,
            password_reset_show_email_not_found: false,
            username_reset_show_email_not_found: false,
            logout_on_password_change: false,
            hide_users: true,
            activation_url: "#/activate/{uid}/{token}".into(),
            password_reset_confirm_url: "#/password/reset/confirm/{uid}/{token}".into(),
            username_reset_confirm_url: "#/username/reset/confirm/{uid}/{token}".into(),
            domain: None,
            site_name: None,
            protocol: None,
            email_frontend_domain: None,
            email_frontend_protocol: None,
            email_frontend_site_name: None,
        }
    }
}

/// Where links in e-mails point: resolved once from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteContext {
    pub protocol: String,
    pub domain: String,
    pub site_name: String,
}

impl Settings {
    /// `protocol`, `domain` and `site_name` for e-mails, each from the first
    /// of: `djoser.email_frontend_*`, `djoser.*`, `server.public_url`, and
    /// finally `http` / `server.listen` / the domain.
    pub fn site_context(&self) -> SiteContext {
        let dj = &self.djoser;
        let public = self
            .server
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok());
        let public_domain = public.as_ref().and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        });
        let pick = |a: &Option<String>, b: &Option<String>| {
            a.clone()
                .filter(|v| !v.is_empty())
                .or_else(|| b.clone().filter(|v| !v.is_empty()))
        };
        let protocol = pick(&dj.email_frontend_protocol, &dj.protocol)
            .or_else(|| public.as_ref().map(|u| u.scheme().to_string()))
            .unwrap_or_else(|| "http".into());
        let domain = pick(&dj.email_frontend_domain, &dj.domain)
            .or(public_domain)
            .unwrap_or_else(|| self.server.listen.to_string());
        let site_name =
            pick(&dj.email_frontend_site_name, &dj.site_name).unwrap_or_else(|| domain.clone());
        SiteContext {
            protocol,
            domain,
            site_name,
        }
    }
}

/// simplejwt's settings (lower-cased names, simplejwt's defaults; lifetimes
/// in seconds). Tokens are HS256-signed with `security.secret_key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSettings {
    pub access_token_lifetime: u64,
    pub refresh_token_lifetime: u64,
    /// `jwt/refresh/` also returns a new refresh token.
    pub rotate_refresh_tokens: bool,
    /// With rotation, the refresh token handed in stops working.
    pub blacklist_after_rotation: bool,
    /// Accepted words before the token in `Authorization` (case-sensitive).
    pub auth_header_types: Vec<String>,
    /// `jwt/create/` records the login in `last_login`.
    pub update_last_login: bool,
    /// Seconds of clock skew tolerated when checking expiry.
    pub leeway: u64,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            access_token_lifetime: 300,
            refresh_token_lifetime: 86_400,
            rotate_refresh_tokens: false,
            blacklist_after_rotation: false,
            auth_header_types: vec!["Bearer".into()],
            update_last_login: false,
            leeway: 0,
        }
    }
}

/// Which user field identifies an account at login (Djoser's LOGIN_FIELD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginField {
    Username,
    Email,
}

impl LoginField {
    pub fn name(self) -> &'static str {
        match self {
            LoginField::Username => "username",
            LoginField::Email => "email",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserSettings {
    /// The field users log in with: `username` or `email`. With `email`,
    /// the username routes become `set_email/`, `reset_email/`,
    /// `reset_email_confirm/` and login takes `email`.
    pub login_field: LoginField,
    /// Fields registration asks for besides the login field and password,
    /// and that user bodies show (Django's REQUIRED_FIELDS): any of `email`,
    /// `first_name`, `last_name`.
    pub required_fields: Vec<String>,
    /// E-mail addresses are unique among users, compared case-insensitively
    /// (empty addresses excepted). Enforced by a unique index kept in step
    /// with this setting at start-up.
    pub unique_email: bool,
    /// Password validators, run in order; all failures are reported together.
    pub password_validators: Vec<PasswordValidator>,
    /// How users change their own address: `immediate` (Djoser's way:
    /// `PATCH users/me/` applies it at once) or `verified` (only through
    /// `users/change_email/`, applied once the new address follows its
    /// link).
    pub email_change: EmailChange,
    /// Link pattern in the mail asking the new address to confirm a
    /// change (`{uid}`, `{token}`), after the site's domain as Djoser
    /// builds its links.
    pub email_change_confirm_url: String,
}

impl Default for UserSettings {
    fn default() -> Self {
        Self {
            login_field: LoginField::Username,
            required_fields: vec!["email".into()],
            unique_email: true,
            password_validators: crate::security::validators::default_validators(),
            email_change: EmailChange::Immediate,
            email_change_confirm_url: "#/email/change/confirm/{uid}/{token}".into(),
        }
    }
}

/// `users.email_change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailChange {
    Immediate,
    Verified,
}

/// The Accounts API (`/api/auth/`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsSettings {
    /// Members of these groups (directly or through profile roles) are
    /// admins of the Accounts API.
    pub admin_roles: Vec<String>,
    /// Link pattern in forgot-password mails (`{uid}`, `{token}`).
    pub password_reset_url: String,
    /// Development only: forgot-password answers carry `uid` and `token`.
    pub reset_token_in_response: bool,
    /// Seconds during which a rotated-out refresh token is still accepted
    /// (parallel tabs refreshing at once); later reuse revokes its family.
    pub refresh_reuse_grace_secs: u64,
    /// Default and largest `page_size` of paginated lists.
    pub page_size: u32,
    pub max_page_size: u32,
    /// The Django app whose tables hold profiles, profile roles and
    /// provinces in a database shared with Django (`accounts` for the
    /// seed's: `accounts_userprofile`, `accounts_userprofile_roles`,
    /// `accounts_provinces`); unset, doorman's own tables hold them.
    pub django_app: Option<String>,
    /// Overrides of the tables `django_app` implies, and of the column of
    /// the roles table naming the profile (`userprofile_id`).
    pub django_profile_table: Option<String>,
    pub django_profile_roles_table: Option<String>,
    pub django_profile_roles_column: Option<String>,
    pub django_province_table: Option<String>,
}

impl Default for AccountsSettings {
    fn default() -> Self {
        Self {
            admin_roles: vec!["admin".into()],
            password_reset_url: "#/reset-password/{uid}/{token}".into(),
            reset_token_in_response: false,
            refresh_reuse_grace_secs: 10,
            page_size: 20,
            max_page_size: 100,
            django_app: None,
            django_profile_table: None,
            django_profile_roles_table: None,
            django_profile_roles_column: None,
            django_province_table: None,
        }
    }
}

/// Uploaded files (profile pictures).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    /// Directory the files are stored in (created if missing).
    pub root: PathBuf,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: usize,
    /// Largest accepted picture, in pixels (width × height).
    pub max_pixels: u64,
    /// Largest decoded picture, in bytes (pixels × bytes per pixel: 16-bit
    /// colour takes twice 8-bit's). At most two pictures are decoded at
    /// once, so this bounds the memory uploads can take.
    pub max_decode_bytes: u64,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            root: PathBuf::from("media"),
            max_upload_bytes: 5 * 1024 * 1024,
            max_pixels: 16_000_000,
            max_decode_bytes: 64 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `human` or `json` (one JSON object per line).
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `doorman=debug,sqlx=warn`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Days the audit trail keeps an event; older ones are dropped hourly.
    /// 0 keeps every event.
    pub retention_days: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaSettings {
    /// Seconds a two-factor sign-in or a `reauthenticate/` counts as recent for
    /// sensitive changes (adding or removing a factor, new recovery codes),
    /// which otherwise need the password (and a code) sent along.
    pub reauthentication_timeout: u64,
}

/// Passkeys (WebAuthn). Unset, the relying party is the host of
/// `server.public_url` (that URL the one origin), or else of the site's
/// `djoser.domain`, or else `localhost` on the listening port.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnSettings {
    /// The relying party id: a domain, equal to or a parent of each origin's.
    pub rp_id: Option<String>,
    /// The name authenticators show; the site name when unset.
    pub rp_name: Option<String>,
    /// The origins (`https://app.example.com`) whose pages may use passkeys.
    pub origins: Vec<String>,
    /// Also sign in with a passkey alone (`passkeys/login/`), no password.
    pub passwordless: bool,
}

/// The relying party as configured, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub name: String,
    pub origins: Vec<url::Url>,
}

impl Settings {
    /// `webauthn` with its defaults; an error names the bad setting.
    pub fn relying_party(&self) -> Result<RelyingParty, String> {
        let w = &self.webauthn;
        let parse = |o: &str| {
            url::Url::parse(o).map_err(|e| format!("webauthn.origins: `{o}` is not a URL: {e}"))
        };
        let mut origins = w
            .origins
            .iter()
            .map(|o| parse(o))
            .collect::<Result<Vec<_>, _>>()?;
        if origins.is_empty() {
            let site = self.site_context();
            let fallback = match &self.server.public_url {
                Some(public) if !public.is_empty() => public.clone(),
                _ if self.djoser.domain.as_deref().is_some_and(|d| !d.is_empty()) => {
                    format!("{}://{}", site.protocol, site.domain)
                }
                _ => format!("http://localhost:{}", self.server.listen.port()),
            };
            origins.push(parse(&fallback)?);
        }
        let id = match &w.rp_id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => origins[0]
                .host_str()
                .ok_or("webauthn.origins: the first origin has no host")?
                .to_string(),
        };
        let name = w
            .rp_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.site_context().site_name);
        Ok(RelyingParty { id, name, origins })
    }
}

impl Default for MfaSettings {
    fn default() -> Self {
        Self {
            reauthentication_timeout: 300,
        }
    }
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            retention_days: 365,
        }
    }
}

/// Where the settings were read from, for messages.
#[derive(Debug, Clone)]
pub struct Sources {
    pub file: Option<PathBuf>,
}

/// Django's rule for a key that is too weak (its check `security.W009`):
/// shorter than 50 characters, fewer than 5 distinct ones, or made by
/// `startproject` for development.
pub fn weak_secret_key(key: &str) -> bool {
    let distinct: std::collections::BTreeSet<char> = key.chars().collect();
    key.chars().count() < 50 || distinct.len() < 5 || key.starts_with("django-insecure-")
}

impl Settings {
    /// Replaces each `…_file` setting by the content of its file: secrets
    /// need not sit in the environment or the config file.
    fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        let read = |key: &'static str, path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_string())
                .map_err(|e| ConfigError::Invalid {
                    key,
                    source_name: "the settings".into(),
                    message: format!("cannot read {}: {e}", path.display()),
                })
        };
        let both = |key: &'static str| ConfigError::Invalid {
            key,
            source_name: "the settings".into(),
            message: "set either the value or its `_file`, not both".into(),
        };
        if let Some(path) = self.security.secret_key_file.clone() {
            if self.security.secret_key.is_some() {
                return Err(both("security.secret_key_file"));
            }
            self.security.secret_key = Some(read("security.secret_key_file", &path)?);
        }
        if let Some(path) = self.email.url_file.clone() {
            if self.email.url != EmailSettings::default().url {
                return Err(both("email.url_file"));
            }
            self.email.url = read("email.url_file", &path)?;
        }
        if let Some(path) = self.rate_limit.redis_url_file.clone() {
            if self.rate_limit.redis_url.is_some() {
                return Err(both("rate_limit.redis_url_file"));
            }
            self.rate_limit.redis_url = Some(read("rate_limit.redis_url_file", &path)?);
        }
        Ok(())
    }

    /// Reads defaults, then the TOML file, then `DOORMAN_*` variables, and
    /// checks every value.
    ///
    /// `config_file` is the `--config` argument: it must exist. Without it,
    /// `doorman.toml` is read when present.
    pub fn load(config_file: Option<&std::path::Path>) -> Result<(Settings, Sources), ConfigError> {
        let file = match config_file {
            Some(path) if !path.is_file() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &file {
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only `DOORMAN_<SECTION>__<KEY>` names are settings; other
        // DOORMAN_* variables (e.g. DOORMAN_SUPERUSER_PASSWORD) are not.
        let env = Env::prefixed(ENV_PREFIX).filter_map(|key| {
            let key = key.as_str();
            key.contains("__")
                .then(|| key.to_lowercase().replace("__", ".").into())
        });
        let figment = figment.merge(env);
        let mut settings: Settings = figment.extract().map_err(describe_load_errors)?;
        settings.read_secret_files()?;
        let sources = Sources { file };
        settings.validate(&sources)?;
        Ok((settings, sources))
    }

    /// Checks what serde's types cannot express.
    fn validate(&self, sources: &Sources) -> Result<(), ConfigError> {
        let origin = |key: &str| source_of(key, sources);
        let invalid = |key: &'static str, message: String| ConfigError::Invalid {
            key,
            source_name: origin(key),
            message,
        };
        let db = &self.database.url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                format!("`{}` is not a sqlite: or postgres:// URL", redact_url(db)),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid(
                "database.max_connections",
                "must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.server.public_url
            && !((url.starts_with("http://") || url.starts_with("https://"))
                && url::Url::parse(url).is_ok_and(|u| u.host_str().is_some()))
        {
            return Err(invalid(
                "server.public_url",
                format!("`{url}` must start with http:// or https://"),
            ));
        }
        // An entry is matched against the host name alone, so a scheme, a
        // path or a port in one would never match anything: say so now.
        for entry in &self.server.allowed_hosts {
            let port = entry.contains(':') && !entry.starts_with('[');
            if entry.is_empty()
                || port
                || entry.contains(['/', '@'])
                || entry.chars().any(char::is_whitespace)
            {
                return Err(invalid(
                    "server.allowed_hosts",
                    format!(
                        "`{entry}` must be a host name such as `example.com`, `.example.com` \
                         (with its subdomains) or `*`, without scheme, path or port"
                    ),
                ));
            }
        }
        for origin in &self.server.cors_allowed_origins {
            let parsed = url::Url::parse(origin).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.path() == "/"
                    && !origin.ends_with('/')
            });
            if parsed.is_none() {
                return Err(invalid(
                    "server.cors_allowed_origins",
                    format!(
                        "`{origin}` must be an origin such as `https://app.example.com` \
                         (scheme, host and port only, no trailing slash)"
                    ),
                ));
            }
        }
        for method in &self.server.cors_allowed_methods {
            if method.parse::<axum::http::Method>().is_err() {
                return Err(invalid(
                    "server.cors_allowed_methods",
                    format!("`{method}` is not an HTTP method"),
                ));
            }
        }
        for name in &self.server.cors_allowed_headers {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(invalid(
                    "server.cors_allowed_headers",
                    format!("`{name}` is not a header name"),
                ));
            }
        }
        if self.server.header_read_timeout_secs == 0
            || self.server.max_connections_per_address == 0
            || self.server.max_request_headers == 0
            || self.server.max_request_head_bytes < 1024
            || self.server.max_json_bytes < 1024
        {
            return Err(invalid(
                "server",
                "header_read_timeout_secs, max_connections_per_address and max_request_headers \
                 must be positive; max_request_head_bytes and max_json_bytes at least 1024"
                    .into(),
            ));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(invalid(
                "server.max_body_bytes",
                "must be at least 1024".into(),
            ));
        }
        if let Some(key) = &self.security.secret_key
            && key.trim().is_empty()
        {
            return Err(invalid("security.secret_key", "must not be empty".into()));
        }
        if self
            .security
            .secret_key_fallbacks
            .iter()
            .any(|k| k.trim().is_empty())
        {
            // An empty fallback would accept tokens anyone can sign.
            return Err(invalid(
                "security.secret_key_fallbacks",
                "must not contain an empty key".into(),
            ));
        }
        if self.mfa.reauthentication_timeout > 86_400 {
            return Err(invalid(
                "mfa.reauthentication_timeout",
                "must be at most 86400 (a day); 0 always asks again".into(),
            ));
        }
        if self.audit.retention_days > 36_500 {
            return Err(invalid(
                "audit.retention_days",
                "must be at most 36500 (100 years); 0 keeps every event".into(),
            ));
        }
        if self.security.token_timeout == 0 {
            return Err(invalid(
                "security.token_timeout",
                "must be at least 1 second".into(),
            ));
        }
        self.security
            .argon2
            .check()
            .map_err(|m| invalid("security.argon2", m))?;
        let accounts = &self.accounts;
        for (key, value) in [
            ("accounts.django_app", &accounts.django_app),
            (
                "accounts.django_profile_table",
                &accounts.django_profile_table,
            ),
            (
                "accounts.django_profile_roles_table",
                &accounts.django_profile_roles_table,
            ),
            (
                "accounts.django_profile_roles_column",
                &accounts.django_profile_roles_column,
            ),
            (
                "accounts.django_province_table",
                &accounts.django_province_table,
            ),
        ] {
            let Some(name) = value else { continue };
            if !is_plain_name(name) {
                return Err(invalid(
                    key,
                    "must be a plain lower-case table or column name (a-z, 0-9, `_`)".into(),
                ));
            }
        }
        if accounts.django_app.is_none()
            && (accounts.django_profile_table.is_some()
                || accounts.django_profile_roles_table.is_some()
                || accounts.django_profile_roles_column.is_some()
                || accounts.django_province_table.is_some())
        {
            return Err(invalid(
                "accounts.django_app",
                "must be set for the accounts.django_*_table overrides to apply".into(),
            ));
        }
        // Django has shipped 100,000 and up since 2.0; far more would make
        // every login a denial of service.
        if !(100_000..=10_000_000).contains(&self.security.pbkdf2_iterations) {
            return Err(invalid(
                "security.pbkdf2_iterations",
                "must be between 100000 and 10000000".into(),
            ));
        }
        let email = &self.email.url;
        if let Err(message) = parse_email_url(email) {
            return Err(invalid("email.url", message));
        }
        if lettre::Address::from_str(self.email.from.trim()).is_err()
            && self.email.from.parse::<lettre::message::Mailbox>().is_err()
        {
            return Err(invalid(
                "email.from",
                format!("`{}` is not an e-mail address", self.email.from),
            ));
        }
        if self.email.max_attempts == 0 {
            return Err(invalid("email.max_attempts", "must be at least 1".into()));
        }
        if self.email.poll_interval_ms == 0 || self.email.lease_secs == 0 {
            return Err(invalid(
                "email.poll_interval_ms",
                "poll interval and lease must be positive".into(),
            ));
        }
        if let Some(dir) = &self.email.templates_dir
            && !dir.is_dir()
        {
            return Err(invalid(
                "email.templates_dir",
                format!("{} is not a directory", dir.display()),
            ));
        }
        for (key, value) in [
            ("djoser.protocol", &self.djoser.protocol),
            (
                "djoser.email_frontend_protocol",
                &self.djoser.email_frontend_protocol,
            ),
        ] {
            if let Some(p) = value
                && p != "http"
                && p != "https"
            {
                return Err(invalid(key, format!("`{p}` must be http or https")));
            }
        }
        for (key, pattern) in [
            ("djoser.activation_url", &self.djoser.activation_url),
            (
                "djoser.password_reset_confirm_url",
                &self.djoser.password_reset_confirm_url,
            ),
            (
                "djoser.username_reset_confirm_url",
                &self.djoser.username_reset_confirm_url,
            ),
            (
                "users.email_change_confirm_url",
                &self.users.email_change_confirm_url,
            ),
        ] {
            if !(pattern.contains("{uid}") && pattern.contains("{token}")) {
                return Err(invalid(
                    key,
                    format!("`{pattern}` must contain {{uid}} and {{token}}"),
                ));
            }
        }
        if !(self.accounts.password_reset_url.contains("{uid}")
            && self.accounts.password_reset_url.contains("{token}"))
        {
            return Err(invalid(
                "accounts.password_reset_url",
                "must contain {uid} and {token}".into(),
            ));
        }
        if self.accounts.page_size == 0 || self.accounts.max_page_size < self.accounts.page_size {
            return Err(invalid(
                "accounts.page_size",
                "must be at least 1 and at most accounts.max_page_size".into(),
            ));
        }
        if self.media.max_upload_bytes == 0 || self.media.max_pixels == 0 {
            return Err(invalid("media.max_upload_bytes", "must be positive".into()));
        }
        for field in &self.users.required_fields {
            if !["email", "first_name", "last_name"].contains(&field.as_str()) {
                return Err(invalid(
                    "users.required_fields",
                    format!("`{field}` is not one of email, first_name, last_name"),
                ));
            }
        }
        if self.users.login_field == LoginField::Email && !self.users.unique_email {
            return Err(invalid(
                "users.unique_email",
                "must be true when users.login_field = \"email\"".into(),
            ));
        }
        if self.jwt.access_token_lifetime == 0 || self.jwt.refresh_token_lifetime == 0 {
            return Err(invalid(
                "jwt.access_token_lifetime",
                "token lifetimes must be at least 1 second".into(),
            ));
        }
        if self.jwt.auth_header_types.is_empty()
            || self
                .jwt
                .auth_header_types
                .iter()
                .any(|t| t.is_empty() || t.contains(' '))
        {
            return Err(invalid(
                "jwt.auth_header_types",
                "needs at least one word without spaces, e.g. [\"Bearer\"]".into(),
            ));
        }
        for validator in &self.users.password_validators {
            validator
                .check_config()
                .map_err(|m| invalid("users.password_validators", m))?;
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(invalid("log.level", e.to_string()));
        }
        Ok(())
    }
}

/// One line per problem: the key, where its value came from (the exact
/// environment variable or file) and what is wrong.
fn describe_load_errors(errors: figment::Error) -> ConfigError {
    let lines = errors
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let origin = match &e.metadata {
                Some(meta) if meta.name.contains("environment") => {
                    format!("environment variable {}", env_name(&key))
                }
                Some(meta) => match &meta.source {
                    Some(source) => source.to_string(),
                    None => meta.name.to_string(),
                },
                None => "settings".to_string(),
            };
            let what = e.kind.to_string();
            if key.is_empty() {
                format!("{origin}: {what}")
            } else {
                format!("`{key}` (from {origin}): {what}")
            }
        })
        .collect();
    ConfigError::Load(lines)
}

/// Names the source of a key for messages: the environment variable when it
/// is set, else the file, else the defaults.
fn source_of(key: &str, sources: &Sources) -> String {
    let var = env_name(key);
    if std::env::var_os(&var).is_some() {
        return format!("environment variable {var}");
    }
    match &sources.file {
        Some(path) => format!("{} or defaults", path.display()),
        None => "defaults".into(),
    }
}

/// Whether `name` is a plain lower-case table, column or app name as
/// Django makes them (a-z, 0-9, `_`, at most 60 characters). Lower case
/// only: a name the catalog would fold differently than a quoted query
/// could pass the start-up check and fail every request.
pub fn is_plain_name(name: &str) -> bool {
    name.len() <= 60
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Hides the password of a URL's user info (`postgres://u:secret@h` →
/// `postgres://u:***@h`), for messages and `doorman check`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The host follows the last `@`: a password may contain `@` itself.
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// `server.listen` → `DOORMAN_SERVER__LISTEN`.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase())
}
