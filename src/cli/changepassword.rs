//! `doorman changepassword USER`: prompts twice and runs the validators,
//! like Django's command; unlike it, `Users::set_password` then revokes
//! every token, JWT and session of the user.

use anyhow::{Context, bail};

use super::prompt_password;
use crate::{
    config::Settings,
    domain::{Error, password::Password},
};

pub async fn run(settings: Settings, username: &str) -> anyhow::Result<()> {
    let state = crate::build_state(settings, crate::BuildOptions::default()).await?;
    let user = match state.users.find_by_username(username).await {
        Err(Error::NotFound) => bail!("user `{username}` does not exist"),
        other => other?,
    };
    println!("Changing password for user '{}'", user.username);
    for _ in 0..3 {
        let first = prompt_password("Password: ")?;
        let again = prompt_password("Password (again): ")?;
        if first != again {
            eprintln!("Error: Passwords do not match. Please try again.");
            continue;
        }
        match state.users.set_password(&user, &Password::new(first)).await {
            Err(Error::Validation(errors)) => {
                for m in errors.into_iter().flat_map(|(_, m)| m) {
                    eprintln!("Error: {m}");
                }
            }
            result => {
                result.context("cannot change the password")?;
                println!("Password changed successfully for user '{}'", user.username);
                return Ok(());
            }
        }
    }
    bail!("too many attempts; password not changed")
}
