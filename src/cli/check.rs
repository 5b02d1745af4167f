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
        report_django(&store, &settings).await?;
    } else {
        println!("  migrations pending: {pending:?} (run `doorman migrate`)");
    }
    let missing_key = settings.security.secret_key.is_none() && !settings.server.dev;
    anyhow::ensure!(!missing_key, "security.secret_key is not set");
    Ok(())
}

/// What a database shared with Django holds: its apps, the tables doorman
/// works with, and the password hashes by kind with how many the next
/// login will upgrade.
async fn report_django(store: &crate::store::Store, settings: &Settings) -> anyhow::Result<()> {
    let apps = store.django_apps().await?;
    let foreign: Vec<_> = apps
        .iter()
        .filter(|a| !["auth", "contenttypes"].contains(&a.app.as_str()))
        .collect();
    match foreign.is_empty() {
        true => println!("Django: only the auth tables doorman made or adopted"),
        false => println!("Django: a database Django also manages"),
    }
    for app in &apps {
        let marker = match (app.app.as_str(), app.latest.get(..4)) {
            ("auth", Some("0012")) => " (Django 3.1 or later)",
            ("auth", Some("0011")) => " (Django 2.0 to 3.0)",
            ("auth", _) => " (Django older than 2.0)",
            _ => "",
        };
        println!(
            "  app {}: {} migrations applied, latest {}{marker}",
            app.app, app.applied, app.latest
        );
    }
    for (table, rows) in store.known_table_counts().await? {
        match rows {
            Some(n) => println!("  table {table}: {n} rows"),
            None => println!("  table {table}: not present"),
        }
    }
    let policy = settings.security.effective_hashing();
    let current = crate::security::hashers::cost_parameters(&policy.make("doorman check"));
    let mut kinds: std::collections::BTreeMap<String, u64> = Default::default();
    let mut upgrades = 0u64;
    let mut after = 0;
    loop {
        let page = store.password_page(after, 10_000).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, encoded) in &page {
            let cost = crate::security::hashers::cost_parameters(encoded);
            let kind = match (&cost, encoded.as_str()) {
                (Some(cost), _) => cost.clone(),
                (None, e) if e.is_empty() || e.starts_with('!') => "unusable".to_string(),
                (None, e) => match e.split_once('$') {
                    Some((algorithm, _)) => format!("{algorithm} (unsalted or single-round)"),
                    None => "legacy unsalted md5".to_string(),
                },
            };
            if kind != "unusable" && cost != current {
                upgrades += 1;
            }
            *kinds.entry(kind).or_default() += 1;
        }
    }
    println!("  password hashes by kind:");
    for (kind, n) in &kinds {
        println!("    {kind}: {n}");
    }
    println!(
        "  upgraded at their next login (to {}): {upgrades}",
        current.unwrap_or_default()
    );
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
