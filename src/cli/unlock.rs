//! `doorman unlock USER`: shows the user's lockouts (where their
//! failed-login budget ran out) and clears them, so they can sign in at
//! once from every address; `--list` only shows them.

use anyhow::bail;

use crate::{config::Settings, domain::Error, store::timestamp_text};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The username.
    pub username: String,
    /// Only list the lockouts in force; clear nothing.
    #[arg(long)]
    pub list: bool,
}

pub async fn run(settings: Settings, args: Args) -> anyhow::Result<()> {
    let state = crate::build_state(settings, crate::BuildOptions::default()).await?;
    let user = match state.users.find_by_username(&args.username).await {
        Err(Error::NotFound) => bail!("user `{}` does not exist", args.username),
        other => other?,
    };
    let lockouts = state.users.lockouts(None, user.id).await?;
    if lockouts.is_empty() {
        println!("'{}' has no lockout in force.", user.username);
    }
    for l in &lockouts {
        println!(
            "locked at {} until {} ({} attempt(s) refused)",
            l.address,
            timestamp_text(l.locked_until),
            l.refused
        );
    }
    if args.list {
        return Ok(());
    }
    let cleared = state.users.unlock(None, user.id).await?;
    println!(
        "Cleared {cleared} lockout(s) of '{}'; their failed-login count starts again everywhere.",
        user.username
    );
    Ok(())
}
