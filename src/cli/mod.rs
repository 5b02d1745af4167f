//! The command line: one file per subcommand. Each returns `anyhow::Result`;
//! `main` prints the error chain to stderr and exits non-zero.

mod audit;
mod changepassword;
mod check;
mod createsuperuser;
mod import_django;
mod mail;
mod mfa;
mod provinces;
mod unlock;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    BuildOptions,
    config::{LogFormat, Settings},
};

#[derive(Debug, Parser)]
#[command(
    name = "doorman",
    version,
    about = "User accounts: a Djoser-compatible API over Django's auth tables"
)]
pub struct Cli {
    /// Read settings from this TOML file (default: ./doorman.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Development mode: run without security.secret_key (a random one is
    /// generated for this run). Same as server.dev = true.
    #[arg(long, global = true)]
    pub dev: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve {
        /// Do not apply pending migrations at start-up.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a superuser (prompts unless --no-input).
    Createsuperuser(createsuperuser::Args),
    /// Change a user's password (prompts twice); signs the user out everywhere.
    Changepassword {
        /// The username.
        username: String,
    },
    /// Read the audit trail of security events.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Show and clear a user's failed-login lockouts (every address, every
    /// node).
    Unlock(unlock::Args),
    /// Second factors: `mfa reset USER` removes a user's (lost) factors.
    #[command(subcommand)]
    Mfa(mfa::MfaCommand),
    /// Validate the configuration and the database, and report them.
    Check,
    /// Print the OpenAPI document (JSON).
    Openapi,
    /// Inspect and steer the e-mail outbox.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Copy a Django database (users, groups, permissions, DRF tokens, the
    /// blacklist, profiles) into doorman's; safe to run again.
    ImportDjango(import_django::Args),
    /// Manage provinces (import from CSV).
    #[command(subcommand)]
    Provinces(provinces::ProvincesCommand),
    /// Time password hashes with the configured Argon2id parameters and
    /// print JSON (for bench/: the hash-bound limit of logins per second).
    #[command(hide = true)]
    HashTiming {
        /// Hashes to time (after one warm-up hash).
        #[arg(long, default_value_t = 10)]
        count: u32,
    },
}

/// Loads the settings, applying `--dev`.
pub fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let (mut settings, _) = Settings::load(cli.config.as_deref())?;
    if cli.dev {
        settings.server.dev = true;
    }
    Ok(settings)
}

/// Installs the global log subscriber in the configured format.
pub fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: a log file or collector
    // gets plain text, and formatting each request's span without escape
    // codes is measurably cheaper (bench/README.md).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match settings.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = load_settings(&cli)?;
    if let Command::Openapi = cli.command {
        // A reader that stops early (`doorman openapi | head`) is not an
        // error; println! would panic on the closed pipe.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        return match writeln!(out, "{}", crate::http::openapi_json(&settings)) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        };
    }
    if let Command::HashTiming { count } = cli.command {
        println!("{}", hash_timing(&settings, count.max(1)));
        return Ok(());
    }
    if let Command::ImportDjango(_) = cli.command {
        // The copy's statements insert a thousand rows each: sqlx's
        // slow-statement warning would print every one of them in full.
        let mut quiet = settings.clone();
        quiet.log.level = format!("{},sqlx::query=error", settings.log.level);
        init_logging(&quiet);
    } else {
        init_logging(&settings);
    }
    match cli.command {
        Command::Serve { no_migrate } => {
            let app = crate::App::build(
                settings,
                BuildOptions {
                    migrate: !no_migrate,
                },
            )
            .await?;
            tracing::info!(port = app.port(), "doorman listening");
            app.run_until_stopped().await.context("server failed")
        }
        Command::Migrate => {
            let store = crate::store::Store::connect(&settings.database)
                .await?
                .with_profile_tables(crate::store::ProfileTables::from_settings(
                    &settings.accounts,
                ));
            store.migrate().await?;
            store
                .ensure_email_uniqueness(settings.users.unique_email)
                .await?;
            println!("Migrations applied.");
            Ok(())
        }
        Command::Createsuperuser(args) => createsuperuser::run(settings, args).await,
        Command::Changepassword { username } => changepassword::run(settings, &username).await,
        Command::Unlock(args) => unlock::run(settings, args).await,
        Command::Mfa(command) => mfa::run(settings, command).await,
        Command::Audit(command) => audit::run(settings, command).await,
        Command::Check => check::run(settings).await,
        Command::Mail(command) => mail::run(settings, command).await,
        Command::Provinces(command) => provinces::run(settings, command).await,
        Command::ImportDjango(args) => import_django::run(settings, args).await,
        Command::Openapi | Command::HashTiming { .. } => Ok(()),
    }
}

/// Times `count` Argon2id hashes, one after another on this thread, as a
/// login computes them (same parameters, same code path).
fn hash_timing(settings: &Settings, count: u32) -> serde_json::Value {
    use crate::security::hashers;
    let params = settings.security.effective_argon2();
    let _ = hashers::make_password("warm-up password", &params);
    let started = std::time::Instant::now();
    for i in 0..count {
        let _ = hashers::make_password(&format!("timing password {i}"), &params);
    }
    let per_hash = started.elapsed().as_secs_f64() * 1000.0 / f64::from(count);
    serde_json::json!({
        "ms_per_hash": per_hash,
        "count": count,
        "memory_kib": params.memory_kib,
        "iterations": params.iterations,
        "parallelism": params.parallelism,
    })
}

/// Reads a password from the terminal without echo; falls back to a line of
/// standard input when it is not a terminal (scripts, tests).
fn prompt_password(prompt: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        Ok(rpassword::prompt_password(prompt)?)
    } else {
        eprint!("{prompt}");
        prompt_line_raw()
    }
}

fn prompt_line(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    prompt_line_raw()
}

fn prompt_line_raw() -> anyhow::Result<String> {
    let mut line = String::new();
    let n = std::io::stdin().read_line(&mut line)?;
    anyhow::ensure!(n > 0, "standard input closed");
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
