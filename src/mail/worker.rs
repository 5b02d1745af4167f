//! The sending worker. It claims due outbox rows (a lease keeps other
//! workers off them), sends each through the transport and records the
//! outcome: sent; or a retry after an exponential back-off with jitter; or,
//! after `email.max_attempts` or a permanent refusal, failed (kept and
//! listed by `doorman mail list --failed`). On shutdown it finishes the
//! message in hand, hands the rest of its batch back and stops.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use tokio::sync::{Notify, watch};

use super::transport::{Envelope, Transport};
use crate::{
    config::EmailSettings,
    metrics::Metrics,
    store::{OutboxRow, Store, StoreError, Timestamp},
};

/// Messages claimed per round.
const BATCH: i64 = 20;

pub struct Worker {
    store: Store,
    transport: Arc<Transport>,
    settings: EmailSettings,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

impl Worker {
    pub fn new(
        store: Store,
        transport: Arc<Transport>,
        settings: EmailSettings,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Worker {
        Worker {
            store,
            transport,
            settings,
            metrics,
            wake,
        }
    }

    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        loop {
            if *stop.borrow() {
                break;
            }
            match self.run_once(&stop).await {
                // A full batch: more may be due right away.
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail worker: database error"),
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = self.wake.notified() => {}
                _ = stop.changed() => {}
            }
        }
        tracing::debug!("mail worker stopped");
    }

    /// Claims one batch of due messages and sends them; returns how many
    /// were claimed.
    pub async fn run_once(&self, stop: &watch::Receiver<bool>) -> Result<usize, StoreError> {
        let now = Timestamp::now();
        let lease_until = Timestamp(now.0 + Duration::from_secs(self.settings.lease_secs));
        let batch = self.store.claim_mail(now, lease_until, BATCH).await?;
        let claimed = batch.len();
        for (i, row) in batch.iter().enumerate() {
            if *stop.borrow() {
                let rest: Vec<i64> = batch[i..].iter().map(|r| r.id).collect();
                self.store.release_mail(&rest).await?;
                break;
            }
            self.deliver(row).await?;
        }
        Ok(claimed)
    }

    async fn deliver(&self, row: &OutboxRow) -> Result<(), StoreError> {
        let envelope = Envelope {
            message_id: row.message_id.clone(),
            to: row.recipient.clone(),
            subject: row.subject.clone(),
            text: row.body_text.clone(),
            html: row.body_html.clone(),
        };
        let attempts = row.attempts + 1;
        match self.transport.send(&envelope).await {
            Ok(()) => {
                self.store
                    .mark_mail_sent(row.id, attempts, Timestamp::now())
                    .await?;
                self.metrics.mail_sent.inc();
                tracing::info!(id = row.id, kind = %row.kind, "mail sent");
            }
            Err(e) if e.is_permanent() || attempts >= self.settings.max_attempts as i32 => {
                self.store
                    .mark_mail_failed(row.id, attempts, &e.to_string())
                    .await?;
                self.metrics.mail_failed.inc();
                tracing::error!(id = row.id, kind = %row.kind, attempts, error = %e, "mail failed for good");
            }
            Err(e) => {
                let delay = self.backoff(attempts);
                let next = Timestamp(Timestamp::now().0 + delay);
                self.store
                    .mark_mail_retry(row.id, attempts, next, &e.to_string())
                    .await?;
                self.metrics.mail_retried.inc();
                tracing::warn!(id = row.id, kind = %row.kind, attempts, retry_in_secs = delay.as_secs(), error = %e, "mail not sent; will retry");
            }
        }
        Ok(())
    }

    /// `retry_base_secs · 2^(attempts-1)`, capped at `retry_max_secs`, then
    /// scaled by a random factor in [0.5, 1] so that messages that failed
    /// together do not all retry at the same instant.
    fn backoff(&self, attempts: i32) -> Duration {
        let exp = attempts.clamp(1, 30) as u32 - 1;
        let base = self
            .settings
            .retry_base_secs
            .saturating_mul(1u64 << exp)
            .min(self.settings.retry_max_secs)
            .max(1);
        let factor: f64 = rand::rng().random_range(0.5..=1.0);
        Duration::from_secs_f64(base as f64 * factor)
    }
}
