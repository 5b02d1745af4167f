//! `doorman mail …`: look at and steer the outbox. `list` shows what is
//! queued or failed, `retry` puts failed messages back in the queue (the
//! running server's worker sends them), `send-test` sends one message
//! through the configured transport right away and reports the outcome.

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::{config::Settings, mail::MessageKind, mail::transport::Envelope};

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List messages not yet sent (queued and failed), oldest first.
    List {
        /// Only the failed ones.
        #[arg(long)]
        failed: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Queue failed messages again with a fresh set of attempts.
    Retry {
        /// The message id (from `mail list`).
        #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
        id: Option<i64>,
        /// Every failed message.
        #[arg(long)]
        all_failed: bool,
    },
    /// Send a test message to ADDRESS now, through the configured transport.
    SendTest { address: String },
}

pub async fn run(settings: Settings, command: MailCommand) -> anyhow::Result<()> {
    let state = crate::build_state(settings, crate::BuildOptions::default()).await?;
    match command {
        MailCommand::List { failed, limit } => {
            let rows = state.store.list_mail(failed, limit).await?;
            let (queued, failed_count) = state.store.mail_counts().await?;
            println!("{queued} queued, {failed_count} failed");
            if !rows.is_empty() {
                println!(
                    "{:>6}  {:<8}  {:>8}  {:<30}  {:<32}  {:<19}  last error",
                    "id", "status", "attempts", "kind", "to", "next attempt"
                );
            }
            for row in rows {
                let next = crate::store::timestamp_text(row.next_attempt_at);
                let status = if row.status == "pending" {
                    "queued"
                } else {
                    &row.status
                };
                println!(
                    "{:>6}  {:<8}  {:>8}  {:<30}  {:<32}  {:<19}  {}",
                    row.id,
                    status,
                    row.attempts,
                    row.kind,
                    row.recipient,
                    next,
                    row.last_error.unwrap_or_default().replace('\n', " ")
                );
            }
            Ok(())
        }
        MailCommand::Retry { id, all_failed } => {
            let n = state
                .store
                .retry_failed_mail(if all_failed { None } else { id })
                .await?;
            if n == 0 && !all_failed {
                bail!("no failed message with id {}", id.unwrap_or_default());
            }
            println!("{n} message(s) queued again.");
            Ok(())
        }
        MailCommand::SendTest { address } => {
            let mail = state
                .mailer
                .compose(MessageKind::Test, &address, None, None)
                .context("rendering the test message")?;
            let envelope = Envelope {
                message_id: mail.message_id,
                to: mail.recipient,
                subject: mail.subject,
                text: mail.body_text,
                html: mail.body_html,
            };
            state.transport.send(&envelope).await.with_context(|| {
                format!("sending to {address} via {}", state.settings.email.url)
            })?;
            println!("Test message {} sent to {address}.", envelope.message_id);
            Ok(())
        }
    }
}
