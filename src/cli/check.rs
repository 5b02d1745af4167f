//! `doorman check`: loads and validates the configuration, connects to the
//! database and reports what it found, without changing anything.

use anyhow::Context;

use crate::config::Settings;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    println!("Configuration: OK");
    println!("  server.listen      = {}", settings.server.listen);
    match &settings.server.public_url {
        Some(url) => println!("  server.public_url  = {url} (links never use the Host header)"),
        None => println!(
            "  server.allowed_hosts = {:?} (links use the Host header only if it is one of these)",
            settings.server.allowed_hosts
        ),
    }
    println!(
        "  database.url       = {}",
        crate::config::redact_url(&settings.database.url)
    );
    println!(
        "  email.url          = {}",
        crate::config::redact_url(&settings.email.url)
    );
    let key = match (&settings.security.secret_key, settings.server.dev) {
        (Some(_), _) => "set",
        (None, true) => "not set (development mode: a random key is generated at start)",
        (None, false) => "NOT SET: `serve` will refuse to start",
    };
    println!("  security.secret_key: {key}");
    if let Some(warning) = crate::weak_key_warning(&settings) {
        println!("  WARNING: {warning}");
    }
    if let Some(url) = &settings.rate_limit.redis_url {
        let limits = crate::limits::Limits::new(&settings.rate_limit)
            .map_err(|e| anyhow::anyhow!("rate_limit.redis_url: {e}"))?;
        match limits.check_shared().await {
            Some(Ok(())) => println!(
                "  rate_limit.redis_url = {} (answers: budgets are shared)",
                crate::config::redact_url(url)
            ),
            _ => println!(
                "  WARNING: rate_limit.redis_url = {} does not answer: each node keeps its own budgets",
                crate::config::redact_url(url)
            ),
        }
    }
    if settings.security.danger_fast_hashing_for_tests {
        println!("  WARNING: security.danger_fast_hashing_for_tests is on");
    }
    let store = crate::store::Store::connect(&settings.database)
        .await
        .context("database: cannot connect")?;
    store
        .ping(std::time::Duration::from_secs(5))
        .await
        .context("database: no answer")?;
    println!("Database: OK ({:?})", store.backend());
    let pending = store.pending_migrations().await?;
    if pending.is_empty() {
        println!("  migrations: up to date");
        println!("  users: {}", store.count_users().await?);
    } else {
        println!("  migrations pending: {pending:?} (run `doorman migrate`)");
    }
    let missing_key = settings.security.secret_key.is_none() && !settings.server.dev;
    anyhow::ensure!(!missing_key, "security.secret_key is not set");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            crate::config::redact_url("postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            crate::config::redact_url("postgres://u@h/db"),
            "postgres://u@h/db"
        );
        assert_eq!(
            crate::config::redact_url("sqlite://doorman.db"),
            "sqlite://doorman.db"
        );
        assert_eq!(
            crate::config::redact_url("smtp://me%40x.com:p@ss@mail.example.com:587"),
            "smtp://me%40x.com:***@mail.example.com:587"
        );
    }
}
