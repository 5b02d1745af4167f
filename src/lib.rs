//! doorman: a user-account service that speaks Djoser's wire protocol over
//! Django's auth schema. The binary in `main.rs` is a thin shell over this
//! library, so tests build the very same application in-process.
//!
//! Data flows one way: `http` → `domain` → `store`. `security` holds the
//! cryptography both `domain` and `http` use; `config` is read once here and
//! passed down.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod security;
pub mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rand::{Rng, distr::Alphanumeric};
use tokio::net::TcpListener;

use crate::{
    config::Settings,
    domain::users::Users,
    http::AppState,
    security::passwords::PasswordService,
    store::{Store, StoreError},
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "security.secret_key is not set: set DOORMAN_SECURITY__SECRET_KEY (or security.secret_key \
         in the config file), or run in development mode with --dev / server.dev = true"
    )]
    MissingSecretKey,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Templates(#[from] mail::TemplateError),
    #[error("{0}")]
    Mail(String),
    #[error("rate_limit.redis_url: {0}")]
    RateLimit(String),
    #[error("{0}")]
    Webauthn(String),
    #[error("cannot listen on {addr} (server.listen): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// How `App::build` prepares the database.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Apply pending migrations before serving (`serve --no-migrate` turns
    /// this off).
    pub migrate: bool,
}

/// The background mail worker of this process, per `email.worker`.
pub fn mail_worker(state: &AppState) -> mail::worker::Worker {
    mail::worker::Worker::new(
        state.store.clone(),
        state.transport.clone(),
        state.settings.email.clone(),
        state.metrics.clone(),
        state.mailer.wake_handle(),
    )
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions { migrate: true }
    }
}

/// Fills in `security.secret_key` in development mode, or refuses to go on
/// without one. The generated key changes at every start, so tokens signed
/// with it die with the process; hence the loud warning.
pub fn ensure_secret_key(settings: &mut Settings) -> Result<(), StartError> {
    if settings.security.secret_key.is_some() {
        if let Some(warning) = weak_key_warning(settings) {
            tracing::warn!("{warning}");
        }
        return Ok(());
    }
    if !settings.server.dev {
        return Err(StartError::MissingSecretKey);
    }
    let key: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(50)
        .map(char::from)
        .collect();
    settings.security.secret_key = Some(key);
    tracing::warn!(
        "DEVELOPMENT MODE: no security.secret_key configured, using a random key generated for \
         this run only; every token and link issued now dies when the process stops. Never run \
         like this in production."
    );
    Ok(())
}

/// What is wrong with the configured secret key by Django's rule, if
/// anything. A weak key still works (a Django deployment's key must keep
/// working), but is said at start-up and by `doorman check`.
pub fn weak_key_warning(settings: &Settings) -> Option<String> {
    let key = settings.security.secret_key.as_deref()?;
    let weak_fallbacks = settings
        .security
        .secret_key_fallbacks
        .iter()
        .filter(|k| config::weak_secret_key(k))
        .count();
    let mut warning = config::weak_secret_key(key).then(|| {
        "security.secret_key is weak: it should have at least 50 characters, at least 5 of \
         them different, and not be a `django-insecure-` development key; anyone who guesses \
         it can sign tokens and reset links"
            .to_string()
    });
    if weak_fallbacks > 0 {
        let more = format!(
            "{weak_fallbacks} of security.secret_key_fallbacks is weak by the same rule; a \
             fallback verifies tokens and links as the key does, so whoever guesses it can \
             sign them too"
        );
        warning = Some(match warning {
            Some(w) => format!("{w}; {more}"),
            None => more,
        });
    }
    warning
}

/// Connects to the database, migrates it (unless told not to) and builds
/// the services handlers share.
pub async fn build_state(
    settings: Settings,
    options: BuildOptions,
) -> Result<AppState, StartError> {
    let store = Store::connect(&settings.database)
        .await?
        .with_profile_tables(crate::store::ProfileTables::from_settings(
            &settings.accounts,
        ));
    if options.migrate {
        store.migrate().await?;
    }
    let tables = store.profile_tables().clone();
    if !tables.own() {
        for table in [&tables.profile, &tables.profile_roles, &tables.province] {
            if !store.has_table(table).await? {
                return Err(StoreError::Setup(format!(
                    "accounts.django_app: the table {table} does not exist (run Django's \
                     migrate first, or name the table with accounts.django_*_table)"
                ))
                .into());
            }
        }
    }
    store
        .ensure_email_uniqueness(settings.users.unique_email)
        .await?;
    let passwords = PasswordService::new(
        settings.security.effective_hashing(),
        settings.security.hash_concurrency,
    );
    if settings.accounts.reset_token_in_response {
        tracing::warn!(
            "accounts.reset_token_in_response is ON: forgot-password answers carry the reset uid \
             and token, so anyone who knows an address can take the account over. Development only."
        );
    }
    let templates = mail::Templates::load(settings.email.templates_dir.as_deref())?;
    let mailer = mail::Mailer::new(templates, settings.site_context());
    let transport =
        mail::transport::Transport::from_settings(&settings.email).map_err(StartError::Mail)?;
    // Tokens need a key even for CLI commands that never sign anything.
    let secret = settings.security.secret_key.clone().unwrap_or_default();
    let metrics = Arc::new(metrics::Metrics::default());
    let audit = domain::audit::Audit::new(metrics.clone());
    let sessions = domain::sessions::Sessions::new(
        store.clone(),
        &secret,
        &settings.security.secret_key_fallbacks,
        settings.jwt.clone(),
        settings.accounts.refresh_reuse_grace_secs,
        audit.clone(),
    );
    let limits = limits::Limits::new(&settings.rate_limit).map_err(StartError::RateLimit)?;
    let settings = Arc::new(settings);
    let users = Users::new(
        store.clone(),
        passwords,
        mailer.clone(),
        limits.clone(),
        audit,
        settings.clone(),
    );
    let flows = domain::flows::Flows::new(users.clone());
    let mfa = domain::mfa::Mfa::new(users.clone(), sessions.clone(), &settings)
        .map_err(StartError::Webauthn)?;
    Ok(AppState::new(http::Services {
        mfa,
        settings,
        store,
        users,
        sessions,
        flows,
        mailer,
        transport: Arc::new(transport),
        metrics,
        limits,
    }))
}

/// A built application bound to its listener, ready to run.
pub struct App {
    listener: TcpListener,
    port: u16,
    state: AppState,
}

impl App {
    /// Checks the secret key, prepares the database and binds
    /// `server.listen` (port 0 picks a free port; see `port`).
    pub async fn build(mut settings: Settings, options: BuildOptions) -> Result<App, StartError> {
        ensure_secret_key(&mut settings)?;
        if settings.email.url == "console:" && !settings.server.dev {
            tracing::warn!(
                "email.url is console: e-mails, with their activation and reset links, are \
                 printed to standard output; set email.url to an smtp:// or smtps:// server"
            );
        }
        let addr = settings.server.listen;
        let state = build_state(settings, options).await?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(addr.port());
        Ok(App {
            listener,
            port,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting connections and
    /// lets in-flight requests finish (up to `server.shutdown_grace_secs`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then drains as `run_until_stopped`.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let grace = Duration::from_secs(self.state.settings.server.shutdown_grace_secs);
        let store = self.state.store.clone();
        let (stop_worker, worker_stop_rx) = tokio::sync::watch::channel(false);
        // Housekeeping at start and then hourly, in the background:
        // denylisted refresh tokens past their expiry, lockouts that ended,
        // audit events past `audit.retention_days`,
        // and pictures orphaned
        // by a crash between file and row.
        let sweep_state = self.state.clone();
        let housekeeping = tokio::spawn(async move {
            loop {
                match sweep_state
                    .store
                    .purge_denylist(store::Timestamp::now())
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "purged expired denylist entries"),
                    Err(e) => tracing::warn!(error = %e, "could not purge the JWT denylist"),
                }
                if let Err(e) = sweep_state.store.purge_challenges().await {
                    tracing::warn!(error = %e, "could not purge expired two-factor logins");
                }
                if let Err(e) = sweep_state.store.purge_ceremonies().await {
                    tracing::warn!(error = %e, "could not purge expired passkey ceremonies");
                }
                if let Err(e) = sweep_state.store.purge_email_changes().await {
                    tracing::warn!(error = %e, "could not purge expired e-mail changes");
                }
                if let Err(e) = sweep_state.store.purge_lockouts().await {
                    tracing::warn!(error = %e, "could not purge ended lockouts");
                }
                let days = sweep_state.settings.audit.retention_days;
                if days > 0 {
                    let before =
                        time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days));
                    match sweep_state
                        .store
                        .purge_audit(store::Timestamp(before))
                        .await
                    {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(removed = n, "dropped audit events past retention"),
                        Err(e) => tracing::warn!(error = %e, "could not drop old audit events"),
                    }
                }
                let media = &sweep_state.settings.media;
                let hour = Duration::from_secs(3600);
                match domain::profiles::pictures::sweep_orphans(&sweep_state.store, media, hour)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed orphaned pictures"),
                    Err(e) => tracing::warn!(error = %e, "could not sweep orphaned pictures"),
                }
                tokio::time::sleep(hour).await;
            }
        });
        // What the stored hashes cost to check, learnt in the background
        // so the failed-login floor is right from the first attempt.
        let learning = self.state.users.clone();
        tokio::spawn(async move {
            if let Err(e) = learning.learn_hash_costs().await {
                tracing::warn!(error = %e, "could not sample the stored password hashes");
            }
        });
        // Rate-limit keys whose budgets are full again are dropped each
        // minute, so memory follows the keys in use.
        let limits = self.state.limits.clone();
        let limits_sweep = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                limits.sweep();
            }
        });
        let worker = self
            .state
            .settings
            .email
            .worker
            .then(|| tokio::spawn(mail_worker(&self.state).run(worker_stop_rx)));
        let connection_limits =
            http::serve::ConnectionLimits::from_settings(&self.state.settings.server);
        let router = http::app(self.state);
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let server = http::serve::serve(self.listener, router, connection_limits, async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(());
        });
        let deadline = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = server => {},
            () = deadline => tracing::warn!("shutdown grace period over; dropping open connections"),
        }
        // The worker finishes the message in hand and hands back the rest.
        let _ = stop_worker.send(true);
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        housekeeping.abort();
        limits_sweep.abort();
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
