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
    let mut latest = match args.lines {
        0 => Vec::new(),
        n => audit::trail(&state.store, None, query(None, None, n)).await?,
    };
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
    // PostgreSQL hands out ids at insert and transactions commit in any
    // order, so an event may appear below the newest id already printed:
    // each check re-reads a window of recent ids (well below the page
    // size, so new events always fit) and prints those not yet printed.
    const WINDOW: i64 = 100;
    let mut last = last.unwrap_or(0);
    // Nothing from before the start is printed by the re-reading below.
    let start = last;
    let mut printed: std::collections::BTreeSet<i64> = latest.iter().map(|e| e.id).collect();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let from = last.saturating_sub(WINDOW);
        let fresh =
            audit::trail(&state.store, None, query(None, Some(from), audit::MAX_PAGE)).await?;
        for entry in &fresh {
            if entry.id > start && printed.insert(entry.id) {
                println!("{}", line(entry));
                last = last.max(entry.id);
            }
        }
        printed = printed.split_off(&last.saturating_sub(WINDOW));
    }
}

/// `time kind outcome target=… actor=… from=… ua=… req=… detail`. Every
/// field a client or a user could have chosen (a typed login, a username,
/// a role name, the user agent) is passed through `shown`, so no record can
/// move the operator's cursor, clear the screen or forge a line.
fn line(e: &AuditEntry) -> String {
    let id = |v: Option<i32>| v.map_or("-".to_string(), |v| v.to_string());
    let or_dash = |t: &str| {
        if t.is_empty() {
            "-".to_string()
        } else {
            shown(t)
        }
    };
    let target = match (&e.target_id, e.target.is_empty()) {
        (Some(id), true) => format!("#{id}"),
        (Some(id), false) => format!("{}#{id}", shown(&e.target)),
        (None, _) => or_dash(&e.target),
    };
    format!(
        "{} {} {} target={} actor={} from={} ua={} req={} {}",
        timestamp_text(crate::store::Timestamp(e.at)),
        shown(&e.kind),
        shown(&e.outcome),
        target,
        id(e.actor_id),
        or_dash(&e.address),
        or_dash(&e.user_agent),
        or_dash(&e.request_id),
        shown(&e.detail)
    )
    .trim_end()
    .to_string()
}

/// `text` with control characters (C0, DEL, C1), Unicode format
/// characters (bidirectional overrides, zero-width ones, BOM) and
/// backslashes written as `\u{…}` escapes: safe to print on a terminal.
fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let format = matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}');
        if c.is_control() || format || c == '\\' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn nothing_printed_can_steer_a_terminal() {
        assert_eq!(shown("bob"), "bob");
        assert_eq!(shown("x\nfake line"), "x\\u{a}fake line");
        assert_eq!(shown("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(shown("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(shown("a\\u{1b}"), "a\\u{5c}u{1b}");
        assert_eq!(shown("\u{85}"), "\\u{85}");
    }
}
