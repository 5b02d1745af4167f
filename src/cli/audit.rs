//! `doorman audit tail`: the latest security events, oldest first, one per
//! line; `--follow` keeps printing new ones as they are written (by any
//! node sharing the database).

use std::time::Duration;

use anyhow::bail;

use crate::{
    config::Settings,
    domain::{Error, audit},
    model::{AuditEntry, AuditQuery},
    store::timestamp_text,
};

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Print the latest events, then (with --follow) new ones as they come.
    Tail(TailArgs),
}

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// Only events by or about this username.
    #[arg(long)]
    pub user: Option<String>,
    /// Only events of this kind (login_failed, password_changed, …).
    #[arg(long)]
    pub kind: Option<String>,
    /// How many of the latest events to print first.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub lines: u32,
    /// Keep printing new events (checks every second) until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,
}

pub async fn run(settings: Settings, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Tail(args) = command;
    let state = crate::build_state(settings, crate::BuildOptions::default()).await?;
    let user_id = match &args.user {
        None => None,
        Some(name) => match state.users.find_by_username(name).await {
            Ok(user) => Some(user.id),
            Err(Error::NotFound) => bail!("user `{name}` does not exist"),
            Err(e) => return Err(e.into()),
        },
    };
    let query = |before: Option<i64>, after: Option<i64>, limit: u32| AuditQuery {
        user_id,
        kind: args.kind.clone(),
        before,
        after,
        limit,
    };
    let mut latest = audit::trail(&state.store, query(None, None, args.lines)).await?;
    latest.reverse();
    let mut last = latest.last().map(|e| e.id);
    for entry in &latest {
        println!("{}", line(entry));
    }
    if !args.follow {
        return Ok(());
    }
    // Until the first event, follow from the newest id of all kinds.
    if last.is_none() {
        let any = AuditQuery {
            limit: 1,
            ..Default::default()
        };
        last = Some(state.store.audit(&any).await?.first().map_or(0, |e| e.id));
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let fresh = audit::trail(&state.store, query(None, last, audit::MAX_PAGE)).await?;
        for entry in &fresh {
            println!("{}", line(entry));
        }
        if let Some(e) = fresh.last() {
            last = Some(e.id);
        }
    }
}

/// `time kind outcome target=… actor=… from=… ua="…" req=… detail`.
fn line(e: &AuditEntry) -> String {
    let id = |v: Option<i32>| v.map_or("-".to_string(), |v| v.to_string());
    let target = match (&e.target_id, e.target.is_empty()) {
        (Some(id), true) => format!("#{id}"),
        (Some(id), false) => format!("{}#{id}", e.target),
        (None, _) => e.target.clone(),
    };
    format!(
        "{} {} {} target={} actor={} from={} ua={:?} req={} {}",
        timestamp_text(crate::store::Timestamp(e.at)),
        e.kind,
        e.outcome,
        if target.is_empty() { "-" } else { &target },
        id(e.actor_id),
        if e.address.is_empty() {
            "-"
        } else {
            &e.address
        },
        e.user_agent,
        if e.request_id.is_empty() {
            "-"
        } else {
            &e.request_id
        },
        e.detail
    )
    .trim_end()
    .to_string()
}
