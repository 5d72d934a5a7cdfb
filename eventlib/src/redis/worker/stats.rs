//! A worker's counters and [`WorkerStats`], the snapshot of them.
//!
//! Each counter is a statistic, read on its own: nothing else is published
//! through it and nothing waits on it, so `Relaxed` is enough for every one.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::redis::adders::adders;

#[derive(Default)]
pub(crate) struct WorkerCounters {
    received: AtomicU64,
    acked: AtomicU64,
    handled: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    poison: AtomicU64,
    reclaimed: AtomicU64,
    skipped: AtomicU64,
    reconnects: AtomicU64,
    trimmed: AtomicU64,
    left_for_others: AtomicU64,
    no_handler: AtomicU64,
    misdirected: AtomicU64,
    oversized: AtomicU64,
    deferred: AtomicU64,
    consumers_removed: AtomicU64,
    duplicates: AtomicU64,
    paused: AtomicU64,
    acks_unreplicated: AtomicU64,
    ack_failures: AtomicU64,
    markers_unwritten: AtomicU64,
}

adders!(WorkerCounters:
    add_received => received,
    add_acked => acked,
    add_handled => handled,
    add_retried => retried,
    add_dead_lettered => dead_lettered,
    add_poison => poison,
    add_reclaimed => reclaimed,
    add_skipped => skipped,
    add_trimmed => trimmed,
    add_left_for_others => left_for_others,
    add_no_handler => no_handler,
    add_misdirected => misdirected,
    add_oversized => oversized,
    add_deferred => deferred,
    add_consumers_removed => consumers_removed,
    add_duplicates => duplicates,
    add_paused => paused,
    add_acks_unreplicated => acks_unreplicated,
    add_ack_failures => ack_failures,
);

/// What a [`Worker`](crate::redis::Worker) has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Entries this worker took from the stream (new, its own pending ones
    /// at start, and reclaimed ones).
    pub received: u64,
    /// Entries acknowledged: every handler of the group succeeded or was
    /// dead-lettered.
    pub acked: u64,
    /// Handler runs that succeeded.
    pub handled: u64,
    /// Handler runs that were retries of a failed run.
    pub retried: u64,
    /// Dead letters written: handlers out of attempts, and poison entries.
    pub dead_lettered: u64,
    /// Of those, poison entries (malformed, unknown event, invalid data).
    pub poison: u64,
    /// Entries taken over from a worker that held them past the
    /// visibility timeout.
    pub reclaimed: u64,
    /// Replayed entries meant for another group, acknowledged unhandled.
    pub skipped: u64,
    /// Connections opened again after a failure.
    pub reconnects: u64,
    /// Entries taken and not yet acknowledged.
    pub in_flight: u64,
    /// Entries removed from the stream by this worker's trimming.
    pub trimmed: u64,
    /// Entries left pending, unacknowledged, for another worker of the
    /// group: this build has no handler for their event (or for the
    /// handlers a replay names) while other workers of the group published
    /// that they have.
    pub left_for_others: u64,
    /// Entries acknowledged unhandled on purpose: no live worker of the
    /// group has a handler for their event.
    pub no_handler: u64,
    /// Of the dead letters, replays naming a handler or a group that does
    /// not exist.
    pub misdirected: u64,
    /// Of the dead letters, entries over `max_entry_bytes` (not copied).
    pub oversized: u64,
    /// Retries put off until their backoff ends (no thread waits for them).
    pub deferred: u64,
    /// Entries waiting for their retry now.
    pub waiting: u64,
    /// Idle consumers with nothing pending removed from the group.
    pub consumers_removed: u64,
    /// Entries acknowledged without running a handler because the group
    /// had already finished their event id (with
    /// [`once_per_event_id`](crate::redis::WorkerBuilder::once_per_event_id)):
    /// the same event sent twice, by a relay or a producer that retried.
    pub duplicates: u64,
    /// Entries set aside, after what could run ran, because an operator
    /// paused one of their handlers (they wait, counted in `waiting`, and
    /// run when it resumes).
    pub paused: u64,
    /// With [`confirm`](crate::redis::WorkerBuilder::confirm):
    /// acknowledgements that fewer replicas than asked confirmed within
    /// the timeout. A failover before a replica copies them brings their
    /// entries back, to be handled again.
    pub acks_unreplicated: u64,
    /// Times Redis refused or failed the transaction that settles handled
    /// entries (their acknowledgements, saved progress, dead letters),
    /// each tried again: until one works, those entries stay pending and
    /// would be handled again by whoever takes them over. The first is
    /// told on standard error, even with no logger installed.
    pub ack_failures: u64,
    /// With [`once_per_event_id`](crate::redis::WorkerBuilder::once_per_event_id):
    /// entries acknowledged without their marker because Redis refused
    /// the marker for good (a Redis user without `+set`, `maxmemory`
    /// reached): a later copy of their events would run again. Told on
    /// standard error too.
    pub markers_unwritten: u64,
}

impl WorkerCounters {
    /// Adds `n` to the markers not written; whether they are the first.
    pub(crate) fn add_markers_unwritten(&self, n: u64) -> bool {
        self.markers_unwritten.fetch_add(n, Ordering::Relaxed) == 0
    }
}

impl WorkerStats {
    pub(crate) fn read(c: &WorkerCounters, in_flight: u64, waiting: u64) -> Self {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WorkerStats {
            received: r(&c.received),
            acked: r(&c.acked),
            handled: r(&c.handled),
            retried: r(&c.retried),
            dead_lettered: r(&c.dead_lettered),
            poison: r(&c.poison),
            reclaimed: r(&c.reclaimed),
            skipped: r(&c.skipped),
            reconnects: r(&c.reconnects),
            in_flight,
            trimmed: r(&c.trimmed),
            left_for_others: r(&c.left_for_others),
            no_handler: r(&c.no_handler),
            misdirected: r(&c.misdirected),
            oversized: r(&c.oversized),
            deferred: r(&c.deferred),
            waiting,
            consumers_removed: r(&c.consumers_removed),
            duplicates: r(&c.duplicates),
            paused: r(&c.paused),
            acks_unreplicated: r(&c.acks_unreplicated),
            ack_failures: r(&c.ack_failures),
            markers_unwritten: r(&c.markers_unwritten),
        }
    }
}

impl fmt::Display for WorkerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received={} acked={} handled={} retried={} dead_lettered={} (poison={}) \
             reclaimed={} skipped={} reconnects={} in_flight={} trimmed={} left_for_others={} \
             no_handler={} misdirected={} oversized={} deferred={} waiting={} \
             consumers_removed={} duplicates={} paused={} acks_unreplicated={} ack_failures={} \
             markers_unwritten={}",
            self.received,
            self.acked,
            self.handled,
            self.retried,
            self.dead_lettered,
            self.poison,
            self.reclaimed,
            self.skipped,
            self.reconnects,
            self.in_flight,
            self.trimmed,
            self.left_for_others,
            self.no_handler,
            self.misdirected,
            self.oversized,
            self.deferred,
            self.waiting,
            self.consumers_removed,
            self.duplicates,
            self.paused,
            self.acks_unreplicated,
            self.ack_failures,
            self.markers_unwritten
        )
    }
}
