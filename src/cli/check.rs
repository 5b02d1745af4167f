//! `doorman check`: loads and validates the configuration, connects to the
//! database and reports what it found, without changing anything.

use anyhow::Context;

use crate::config::Settings;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    println!("Configuration: OK");
    println!("  server.listen      = {}", settings.server.listen);
    println!("  database.url       = {}", redact(&settings.database.url));
    println!("  email.url          = {}", redact(&settings.email.url));
    let key = match (&settings.security.secret_key, settings.server.dev) {
        (Some(_), _) => "set",
        (None, true) => "not set (development mode: a random key is generated at start)",
        (None, false) => "NOT SET: `serve` will refuse to start",
    };
    println!("  security.secret_key: {key}");
    if settings.security.danger_fast_hashing_for_tests {
        println!("  WARNING: security.danger_fast_hashing_for_tests is on");
    }
    let store = crate::store::Store::connect(&settings.database)
        .await
        .context("database: cannot connect")?;
    store.ping().await.context("database: no answer")?;
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

/// Hides the password part of a URL (`postgres://u:secret@h` → `u:***@h`).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            super::redact("postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://doorman.db"), "sqlite://doorman.db");
    }
}
