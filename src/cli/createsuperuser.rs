//! `doorman createsuperuser`: like Django's. Interactive by default; with
//! `--no-input` the username and e-mail come from the flags and the password
//! from DOORMAN_SUPERUSER_PASSWORD (without it the user gets an unusable
//! password and must reset it, as Django does).

use anyhow::{Context, bail};

use super::{prompt_line, prompt_password};
use crate::{
    config::Settings,
    domain::{
        Error,
        password::Password,
        users::{EmailAddress, NewUser, Username},
    },
};

/// Environment variable holding the password for `--no-input`.
pub const PASSWORD_ENV: &str = "DOORMAN_SUPERUSER_PASSWORD";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not prompt; take the password from DOORMAN_SUPERUSER_PASSWORD.
    #[arg(long)]
    no_input: bool,
    #[arg(long)]
    username: Option<String>,
    #[arg(long)]
    email: Option<String>,
}

pub async fn run(settings: Settings, args: Args) -> anyhow::Result<()> {
    let state = crate::build_state(settings, crate::BuildOptions::default()).await?;
    let users = &state.users;
    let new = if args.no_input {
        let Some(username) = args.username else {
            bail!("--username is required with --no-input");
        };
        let username =
            Username::parse(&username).map_err(|m| anyhow::anyhow!("username: {}", m.join(" ")))?;
        let email = parse_email(args.email.as_deref().unwrap_or(""))?;
        let password = std::env::var(PASSWORD_ENV).ok().map(Password::new);
        if password.is_none() {
            eprintln!("{PASSWORD_ENV} is not set: the user gets an unusable password.");
        }
        superuser(username, email, password)
    } else {
        let username = loop {
            let raw = match &args.username {
                Some(u) => u.clone(),
                None => prompt_line("Username: ")?,
            };
            match Username::parse(&raw) {
                Ok(u) => break u,
                Err(m) if args.username.is_none() => eprintln!("Error: {}", m.join(" ")),
                Err(m) => bail!("username: {}", m.join(" ")),
            }
        };
        let email = loop {
            let raw = match &args.email {
                Some(e) => e.clone(),
                None => prompt_line("Email address: ")?,
            };
            match parse_email(&raw) {
                Ok(e) => break e,
                Err(e) if args.email.is_none() => eprintln!("Error: {e}"),
                Err(e) => return Err(e),
            }
        };
        loop {
            let first = prompt_password("Password: ")?;
            let again = prompt_password("Password (again): ")?;
            if first != again {
                eprintln!("Error: Your passwords didn't match.");
                continue;
            }
            let candidate = superuser(username.clone(), email.clone(), Some(Password::new(first)));
            match users.create(candidate).await {
                // Only the password is asked again; a taken username or
                // address ends the command (below).
                Err(Error::Validation(errors)) if errors.iter().all(|(f, _)| f == "password") => {
                    for (_, messages) in errors {
                        for m in messages {
                            eprintln!("Error: {m}");
                        }
                    }
                }
                result => {
                    let user = result.context("cannot create the superuser")?;
                    println!("Superuser {} created (id {}).", user.username, user.id);
                    return Ok(());
                }
            }
        }
    };
    let user = users
        .create(new)
        .await
        .context("cannot create the superuser")?;
    println!("Superuser {} created (id {}).", user.username, user.id);
    Ok(())
}

fn parse_email(raw: &str) -> anyhow::Result<Option<EmailAddress>> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    EmailAddress::parse(raw)
        .map(Some)
        .map_err(|m| anyhow::anyhow!("email: {}", m.join(" ")))
}

fn superuser(
    username: Username,
    email: Option<EmailAddress>,
    password: Option<Password>,
) -> NewUser {
    NewUser {
        username,
        email,
        first_name: String::new(),
        last_name: String::new(),
        password,
        is_active: true,
        is_staff: true,
        is_superuser: true,
    }
}
