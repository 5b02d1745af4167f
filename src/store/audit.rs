//! `doorman_audit`: writing events (inside the change's transaction, or
//! alone for events that change nothing, such as a failed login), paging
//! through them, and dropping those past retention.

use super::{Store, StoreError, Timestamp, Tx, on_pool, on_tx};
use crate::model::{AuditEntry, AuditQuery, NewAuditEntry};

const INSERT: &str = "INSERT INTO doorman_audit \
     (at, kind, outcome, actor_id, target_id, target, address, user_agent, request_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

type Row = (
    i64,
    Timestamp,
    String,
    String,
    Option<i32>,
    Option<i32>,
    String,
    String,
    String,
    String,
    String,
);

/// The filters of `Store::audit`; the order is added per direction.
macro_rules! select_audit {
    () => {
        "SELECT id, at, kind, outcome, actor_id, target_id, target, address, user_agent, \
         request_id, detail FROM doorman_audit \
         WHERE ($1 IS NULL OR actor_id = $1 OR target_id = $1) \
         AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR id < $3) AND ($4 IS NULL OR id > $4)"
    };
}

macro_rules! bind_entry {
    ($query:expr, $e:expr) => {
        $query
            .bind(Timestamp::now())
            .bind($e.kind)
            .bind($e.outcome)
            .bind($e.actor_id)
            .bind($e.target_id)
            .bind(&$e.target)
            .bind(&$e.address)
            .bind(&$e.user_agent)
            .bind(&$e.request_id)
            .bind(&$e.detail)
    };
}

impl Tx {
    /// Records `entry` with the change this transaction makes: both land
    /// or neither does.
    pub async fn insert_audit(&mut self, entry: &NewAuditEntry) -> Result<(), StoreError> {
        on_tx!(self, conn => bind_entry!(sqlx::query(INSERT), entry)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Store {
    /// Records an event that goes with no other write.
    pub async fn insert_audit(&self, entry: &NewAuditEntry) -> Result<(), StoreError> {
        on_pool!(self, pool => bind_entry!(sqlx::query(INSERT), entry)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Events matching `query` (see `AuditQuery` for the order).
    pub async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = if query.after.is_some() {
            concat!(select_audit!(), " ORDER BY id ASC LIMIT $5")
        } else {
            concat!(select_audit!(), " ORDER BY id DESC LIMIT $5")
        };
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(query.user_id)
            .bind(query.kind.as_deref())
            .bind(query.before)
            .bind(query.after)
            .bind(i64::from(query.limit))
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.0,
                at: r.1.0,
                kind: r.2,
                outcome: r.3,
                actor_id: r.4,
                target_id: r.5,
                target: r.6,
                address: r.7,
                user_agent: r.8,
                request_id: r.9,
                detail: r.10,
            })
            .collect())
    }

    /// Drops events older than `before`; returns how many.
    pub async fn purge_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query("DELETE FROM doorman_audit WHERE at < $1")
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
        )
    }
}
