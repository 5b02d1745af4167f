//! `doorman mfa reset USER`: for a user who lost their authenticator app
//! and recovery codes, removes every second factor and signs them out
//! everywhere, as an administrator's `DELETE /api/auth/users/{id}/mfa/`
//! does; they then sign in with the password alone.

use anyhow::bail;

use crate::{config::Settings, domain::Error};

#[derive(Debug, clap::Subcommand)]
pub enum MfaCommand {
    /// Remove every second factor of a user and sign them out everywhere.
    Reset {
        /// The username.
        username: String,
    },
}

pub async fn run(settings: Settings, command: MfaCommand) -> anyhow::Result<()> {
    let MfaCommand::Reset { username } = command;
    let state = crate::build_state(settings, crate::BuildOptions::default()).await?;
    let user = match state.users.find_by_username(&username).await {
        Err(Error::NotFound) => bail!("user `{username}` does not exist"),
        other => other?,
    };
    let had = state.mfa.reset(None, user.id).await?;
    match had {
        true => println!(
            "Removed the second factors of '{}' and signed them out everywhere; they sign in \
             with their password alone until they set one up again.",
            user.username
        ),
        false => println!(
            "'{}' had no second factor; signed them out everywhere.",
            user.username
        ),
    }
    Ok(())
}
