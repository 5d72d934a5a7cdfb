//! What a relay counted: its counters (the one owner of them), the
//! snapshot [`RelayStats`] that `Relay::stats` gives, and the same counts
//! on the `metrics` facade (feature `metrics`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::send::Sent;

/// What a relay did since it was made, and its backlog as last counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Events handed to the transport, confirmed, and their rows deleted.
    pub moved: u64,
    /// Committed rows waiting to be sent, as last counted (every second by
    /// a running relay, less often when a count takes over 50 ms, and by
    /// each [`Relay::backlog`](crate::Relay::backlog) call); `None` before
    /// the first count. Rows marked unsendable are not in it.
    pub backlog: Option<u64>,
    /// When `backlog` was counted.
    pub backlog_at: Option<SystemTime>,
    /// Rows that cannot be sent (an event this program does not link,
    /// data that does not fit the type, an unreadable envelope), marked in
    /// their `error` column and left in the table.
    pub unsendable: u64,
    /// Rows marked unsendable because the program of the relay that
    /// claimed them did not link their event (an older version, while a
    /// deploy rolls out), whose mark this relay cleared, as its program
    /// links the event: they are sent as any other row.
    pub relinked: u64,
    /// Rows sent to a program that has no transport installed and links
    /// no handler of their event, so that nothing was done with them (a
    /// relay in a process of its own that was not given the transport it
    /// was meant to send to): deleted, as their events were handed over.
    pub handled_nowhere: u64,
    /// Database failures the relay retried after (database down,
    /// connection lost, a transaction that did not commit).
    pub database_errors: u64,
    /// Times the dispatcher refused an event (shut down, queue full): the
    /// row stayed and was sent again later.
    pub refused: u64,
    /// Batches the transport did not confirm in full (it gave an event
    /// up, such as a Redis that refuses for good), or did not confirm
    /// before a stopping relay gave up waiting: their rows stayed and
    /// were sent again later, under the same ids.
    pub unconfirmed: u64,
    /// Times these stats could not be written to Redis
    /// ([`Relay::publish_stats`](crate::Relay::publish_stats)); no event
    /// depends on it.
    pub publish_errors: u64,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// SQLite: the relay that holds the outbox while this one stands by
    /// (its name, then its process); `None` while this one sends.
    pub standing_by_for: Option<String>,
}

impl RelayStats {
    /// Every failure counted: database errors, refusals, unconfirmed
    /// batches and unsendable rows (publishing errors aside).
    pub fn failed(&self) -> u64 {
        self.database_errors + self.refused + self.unconfirmed + self.unsendable
    }
}

impl fmt::Display for RelayStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "moved {}, backlog ", self.moved)?;
        match self.backlog {
            Some(backlog) => write!(f, "{backlog}")?,
            None => f.write_str("not counted yet")?,
        }
        write!(
            f,
            ", unsendable {}, database errors {}, refused {}, unconfirmed batches {}",
            self.unsendable, self.database_errors, self.refused, self.unconfirmed
        )?;
        if self.publish_errors > 0 {
            write!(f, ", stats not published {}x", self.publish_errors)?;
        }
        if let Some(holder) = &self.standing_by_for {
            write!(f, "; standing by for {holder}")?;
        }
        if let Some(err) = &self.last_error {
            write!(f, "; last error: {err}")?;
        }
        Ok(())
    }
}

/// A relay's counters, shared by its clones and its tasks.
#[derive(Default)]
pub(crate) struct Counters {
    moved: AtomicU64,
    /// The last count and when it was taken.
    backlog: Mutex<Option<(u64, SystemTime)>>,
    unsendable: AtomicU64,
    relinked: AtomicU64,
    handled_nowhere: AtomicU64,
    database_errors: AtomicU64,
    refused: AtomicU64,
    unconfirmed: AtomicU64,
    publish_errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The relay this one stands by for, and whether it ever stood by.
    standby: Mutex<(Option<String>, bool)>,
}

/// The kinds of failure a relay counts.
#[derive(Clone, Copy)]
pub(crate) enum Failure {
    Database,
    Refused,
    Unconfirmed,
    Publish,
}

/// Adds `n` to the relay counter `name` of the `metrics` facade.
fn meter(name: &'static str, n: u64) {
    #[cfg(feature = "metrics")]
    metrics::counter!(name).increment(n);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, n);
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Counters {
    /// What one batch came to: rows delivered (deleted), rows that went
    /// nowhere, and rows marked unsendable, with the reason. The first
    /// unsendable row goes to stderr (seen even without a logger), every
    /// one to `log`.
    pub(crate) fn batch(&self, sent: &Sent) {
        self.handled_nowhere(&sent.nowhere);
        let (moved, unsendable) = (sent.delivered.len(), &sent.poison[..]);
        // Relaxed: each counter is read on its own; none orders other memory.
        self.moved.fetch_add(moved as u64, Ordering::Relaxed);
        meter("eventlib_outbox_moved_total", moved as u64);
        let Some((seq, reason)) = unsendable.first() else {
            return;
        };
        let before = self
            .unsendable
            .fetch_add(unsendable.len() as u64, Ordering::Relaxed);
        meter("eventlib_outbox_unsendable_total", unsendable.len() as u64);
        if before == 0 {
            eprintln!(
                "eventlib-sql relay: outbox row {seq} cannot be sent, so it is marked in its \
                 `error` column and skipped: {reason} (see Relay::stats)"
            );
        }
        for (seq, reason) in unsendable {
            log::warn!(target: "eventlib_sql", "relay: outbox row {seq} marked unsendable: {reason}");
        }
    }

    /// Rows of events that went nowhere, by event: the first batch of them
    /// goes to stderr (seen even without a logger), every one to `log`.
    fn handled_nowhere(&self, events: &[(String, usize)]) {
        for (name, rows) in events {
            let before = self
                .handled_nowhere
                .fetch_add(*rows as u64, Ordering::Relaxed);
            meter("eventlib_outbox_handled_nowhere_total", *rows as u64);
            let what = format!(
                "{rows} row(s) of event `{name}` went nowhere: no transport is installed in this \
                 program and it links no handler of the event; a relay that sends to Redis needs \
                 the Redis transport installed (Dispatcher::builder().transport(..)) before it runs"
            );
            if before == 0 {
                eprintln!("eventlib-sql relay: {what} (see Relay::stats)");
            }
            log::warn!(target: "eventlib_sql", "relay: {what}");
        }
    }

    /// Rows whose not-linked mark the relay cleared.
    pub(crate) fn relinked(&self, rows: u64) {
        self.relinked.fetch_add(rows, Ordering::Relaxed);
        meter("eventlib_outbox_relinked_total", rows);
        log::info!(
            target: "eventlib_sql",
            "relay: {rows} outbox row(s) marked by a program that did not link their event are \
             sent again"
        );
    }

    /// Whether another relay holds the outbox (`Some(holder)`) or this
    /// one sends. The first time it stands by goes to stderr (seen even
    /// without a logger); every change to `log`.
    pub(crate) fn standing_by(&self, holder: Option<&str>) {
        let mut standby = self.standby.lock().unwrap_or_else(|e| e.into_inner());
        if standby.0.as_deref() == holder {
            return;
        }
        match holder {
            Some(holder) => {
                let what = format!(
                    "another relay ({holder}) sends this SQLite outbox; this one stands by and \
                     takes over once that one stops or its lease runs out"
                );
                if !standby.1 {
                    eprintln!("eventlib-sql relay: {what} (see Relay::stats)");
                }
                log::info!(target: "eventlib_sql", "relay: {what}");
                *standby = (Some(holder.to_owned()), true);
            }
            None => {
                log::info!(target: "eventlib_sql", "relay: this relay now sends the SQLite outbox");
                standby.0 = None;
            }
        }
    }

    /// A backlog just counted; also the gauge `eventlib_outbox_backlog`.
    pub(crate) fn backlog(&self, backlog: u64) {
        *self.backlog.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((backlog, SystemTime::now()));
        #[cfg(feature = "metrics")]
        metrics::gauge!("eventlib_outbox_backlog").set(backlog as f64);
    }

    /// Counts a failure of `kind`; the first of each kind goes to stderr
    /// (seen even without a logger), every one to `log`.
    pub(crate) fn failed(&self, kind: Failure, what: String) {
        let (counter, name) = match kind {
            Failure::Database => (
                &self.database_errors,
                "eventlib_outbox_database_errors_total",
            ),
            Failure::Refused => (&self.refused, "eventlib_outbox_refused_total"),
            Failure::Unconfirmed => (&self.unconfirmed, "eventlib_outbox_unconfirmed_total"),
            Failure::Publish => (&self.publish_errors, "eventlib_outbox_publish_errors_total"),
        };
        meter(name, 1);
        let first = counter.fetch_add(1, Ordering::Relaxed) == 0;
        if first {
            eprintln!("eventlib-sql relay: {what} (retrying; see Relay::stats)");
        }
        log::warn!(target: "eventlib_sql", "relay: {what}");
        if !matches!(kind, Failure::Publish) {
            *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(what);
        }
    }

    pub(crate) fn snapshot(&self) -> RelayStats {
        let backlog = *self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        RelayStats {
            moved: self.moved.load(Ordering::Relaxed),
            backlog: backlog.map(|(n, _)| n),
            backlog_at: backlog.map(|(_, at)| at),
            unsendable: self.unsendable.load(Ordering::Relaxed),
            database_errors: self.database_errors.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            unconfirmed: self.unconfirmed.load(Ordering::Relaxed),
            relinked: self.relinked.load(Ordering::Relaxed),
            handled_nowhere: self.handled_nowhere.load(Ordering::Relaxed),
            publish_errors: self.publish_errors.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            standing_by_for: self
                .standby
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .0
                .clone(),
        }
    }
}
