//! Prometheus-style counters, rendered in the text exposition format at
//! `GET /metrics`. Hand-written rather than the `metrics` crate: that crate
//! keeps one global recorder per process, while each `App` (and each test's
//! app) needs counters of its own; a few atomics do the job.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};

#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub mail_sent: Counter,
    pub mail_failed: Counter,
    pub mail_retried: Counter,
    /// Audit records written by this process, per event kind.
    audit: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

/// Gauges read from the database at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub mail_queued: i64,
    pub mail_failed_stored: i64,
}

impl Metrics {
    pub fn count_audit(&self, kind: &'static str) {
        let mut audit = self.audit.lock().unwrap_or_else(|e| e.into_inner());
        *audit.entry(kind).or_default() += 1;
    }

    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "doorman_mail_sent_total",
            "counter",
            "E-mails delivered to the transport by this process.",
            self.mail_sent.get().to_string(),
        );
        metric(
            "doorman_mail_failed_total",
            "counter",
            "E-mails given up on by this process (attempts exhausted or refused).",
            self.mail_failed.get().to_string(),
        );
        metric(
            "doorman_mail_retried_total",
            "counter",
            "Failed delivery attempts by this process that will be retried.",
            self.mail_retried.get().to_string(),
        );
        metric(
            "doorman_mail_queue_depth",
            "gauge",
            "E-mails waiting to be sent (all processes).",
            gauges.mail_queued.to_string(),
        );
        metric(
            "doorman_mail_failed_stored",
            "gauge",
            "E-mails marked failed and kept in the outbox.",
            gauges.mail_failed_stored.to_string(),
        );
        let audit = self.audit.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP doorman_audit_events_total Audit records written by this process, by kind.\n\
             # TYPE doorman_audit_events_total counter"
        );
        for (kind, n) in audit.iter() {
            let _ = writeln!(out, "doorman_audit_events_total{{kind=\"{kind}\"}} {n}");
        }
        out
    }
}
