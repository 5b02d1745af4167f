//! `doorman_outbox`: queued e-mail. Rows are claimed by setting
//! `locked_until` (a lease); only rows whose lease has lapsed can be claimed
//! again, so a worker that dies mid-batch delays its messages instead of
//! losing them. On PostgreSQL the claim skips rows another worker is
//! claiming at that instant (`FOR UPDATE SKIP LOCKED`); SQLite has one
//! writer at a time, so the plain UPDATE is already exclusive.

use super::{Pool, Store, StoreError, Timestamp, Tx, on_pool, on_tx};

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub message_id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, message_id, kind, recipient, subject, body_text, body_html, status, \
                       attempts, next_attempt_at, last_error, created_at, sent_at";

const INSERT: &str = "INSERT INTO doorman_outbox (message_id, kind, recipient, subject, body_text, \
                      body_html, status, attempts, next_attempt_at, created_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) RETURNING id";

impl Tx {
    /// Queues a message as part of this transaction: it is sent only if
    /// the transaction commits.
    pub async fn enqueue_mail(&mut self, mail: &NewMail) -> Result<i64, StoreError> {
        let now = Timestamp::now();
        let (id,): (i64,) = on_tx!(self, conn => sqlx::query_as(INSERT)
            .bind(&mail.message_id)
            .bind(&mail.kind)
            .bind(&mail.recipient)
            .bind(&mail.subject)
            .bind(&mail.body_text)
            .bind(&mail.body_html)
            .bind(now)
            .fetch_one(conn)
            .await)?;
        Ok(id)
    }
}

impl Store {
    /// Queues one message on its own.
    pub async fn enqueue_mail(&self, mail: &NewMail) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let id = tx.enqueue_mail(mail).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Takes up to `limit` due, unleased messages and leases them until
    /// `lease_until`.
    pub async fn claim_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        const DUE: &str = "SELECT id FROM doorman_outbox WHERE status = 'pending' \
                           AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2) \
                           ORDER BY next_attempt_at, id LIMIT $3";
        let sql = match self.pool {
            Pool::Postgres(_) => format!(
                "UPDATE doorman_outbox SET locked_until = $1 WHERE id IN ({DUE} FOR UPDATE SKIP LOCKED) \
                 RETURNING {COLUMNS}"
            ),
            Pool::Sqlite(_) => format!(
                "UPDATE doorman_outbox SET locked_until = $1 WHERE id IN ({DUE}) RETURNING {COLUMNS}"
            ),
        };
        let mut rows: Vec<OutboxRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.sort_by_key(|r| (r.next_attempt_at, r.id));
        Ok(rows)
    }

    /// Gives leased messages back at once (shutdown).
    pub async fn release_mail(&self, ids: &[i64]) -> Result<(), StoreError> {
        for id in ids {
            on_pool!(self, pool => sqlx::query(
                "UPDATE doorman_outbox SET locked_until = NULL WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    pub async fn mark_mail_sent(
        &self,
        id: i64,
        attempts: i32,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            // The bodies carry live reset and activation links: once
            // delivered they are not kept.
            "UPDATE doorman_outbox SET status = 'sent', attempts = $2, sent_at = $3, \
             locked_until = NULL, last_error = NULL, body_text = '', body_html = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(attempts)
        .bind(at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn mark_mail_retry(
        &self,
        id: i64,
        attempts: i32,
        next: Timestamp,
        error: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_outbox SET attempts = $2, next_attempt_at = $3, last_error = $4, \
             locked_until = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(attempts)
        .bind(next)
        .bind(error)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn mark_mail_failed(
        &self,
        id: i64,
        attempts: i32,
        error: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE doorman_outbox SET status = 'failed', attempts = $2, last_error = $3, \
             locked_until = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(attempts)
        .bind(error)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Messages not yet sent (queued and failed), oldest first, or only the
    /// failed ones.
    pub async fn list_mail(
        &self,
        only_failed: bool,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let filter = if only_failed {
            "status = 'failed'"
        } else {
            "status <> 'sent'"
        };
        let sql =
            format!("SELECT {COLUMNS} FROM doorman_outbox WHERE {filter} ORDER BY id LIMIT $1");
        Ok(
            on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Puts failed messages (one, or all with `None`) back in the queue
    /// with a fresh set of attempts. Returns how many.
    pub async fn retry_failed_mail(&self, id: Option<i64>) -> Result<u64, StoreError> {
        let now = Timestamp::now();
        let n = match id {
            Some(id) => on_pool!(self, pool => sqlx::query(
                "UPDATE doorman_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, \
                 locked_until = NULL WHERE status = 'failed' AND id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
            None => on_pool!(self, pool => sqlx::query(
                "UPDATE doorman_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, \
                 locked_until = NULL WHERE status = 'failed'",
            )
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
        };
        Ok(n)
    }

    /// (queued, failed) message counts.
    pub async fn mail_counts(&self) -> Result<(i64, i64), StoreError> {
        let row: (i64, i64) = on_pool!(self, pool => sqlx::query_as(
            "SELECT \
               COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) \
             FROM doorman_outbox",
        )
        .fetch_one(pool)
        .await)?;
        Ok(row)
    }
}
