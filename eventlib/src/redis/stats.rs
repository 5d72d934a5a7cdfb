//! Counters of the Redis producer and workers.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct ProducerCounters {
    pub(crate) sent: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) failed_batches: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) depth: AtomicU64,
    pub(crate) capacity: AtomicU64,
}

/// What the Redis transport has done since it started; see
/// [`producer_stats`](crate::redis::producer_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerStats {
    /// Events Redis confirmed (`XADD` replied).
    pub delivered: u64,
    /// Pipelined batches Redis confirmed.
    pub batches: u64,
    /// Batches that failed (Redis unreachable, or an error reply) and were
    /// sent again.
    pub failed_batches: u64,
    /// Connections opened again after a failure.
    pub reconnects: u64,
    /// Events waiting in the outbox (the dispatcher's queue), as last seen
    /// by the sender thread.
    pub outbox_depth: u64,
    /// How many events the outbox holds at most.
    pub outbox_capacity: u64,
}

impl ProducerStats {
    pub(crate) fn read(c: &ProducerCounters) -> Self {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProducerStats {
            delivered: r(&c.sent),
            batches: r(&c.batches),
            failed_batches: r(&c.failed_batches),
            reconnects: r(&c.reconnects),
            outbox_depth: r(&c.depth),
            outbox_capacity: r(&c.capacity),
        }
    }
}

impl fmt::Display for ProducerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delivered={} batches={} failed_batches={} reconnects={} outbox={}/{}",
            self.delivered,
            self.batches,
            self.failed_batches,
            self.reconnects,
            self.outbox_depth,
            self.outbox_capacity
        )
    }
}

#[derive(Default)]
pub(crate) struct WorkerCounters {
    pub(crate) received: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) handled: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) poison: AtomicU64,
    pub(crate) reclaimed: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) trimmed: AtomicU64,
}

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
}

impl WorkerStats {
    pub(crate) fn read(c: &WorkerCounters, in_flight: u64) -> Self {
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
        }
    }
}

impl fmt::Display for WorkerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received={} acked={} handled={} retried={} dead_lettered={} (poison={}) \
             reclaimed={} skipped={} reconnects={} in_flight={} trimmed={}",
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
            self.trimmed
        )
    }
}
