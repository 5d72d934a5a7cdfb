//! The producer's counters and [`ProducerStats`], the snapshot of them.
//!
//! Each counter is a statistic, read on its own: nothing else is published
//! through it and nothing waits on it, so `Relaxed` is enough for every one.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::redis::adders::adders;

#[derive(Default)]
pub(crate) struct ProducerCounters {
    sent: AtomicU64,
    batches: AtomicU64,
    failed_batches: AtomicU64,
    undelivered: AtomicU64,
    resent: AtomicU64,
    groups_undeclared: AtomicU64,
    short_waits: AtomicU64,
    unconfirmed_resent: AtomicU64,
    unreplicated_at_failover: AtomicU64,
    reconnects: AtomicU64,
    depth: AtomicU64,
    capacity: AtomicU64,
    spool_backlog: AtomicU64,
}

adders!(ProducerCounters:
    add_sent => sent,
    add_batch => batches,
    add_failed_batch => failed_batches,
    add_undelivered => undelivered,
    add_resent => resent,
    add_groups_undeclared => groups_undeclared,
    add_short_wait => short_waits,
    add_unconfirmed_resent => unconfirmed_resent,
    add_unreplicated_at_failover => unreplicated_at_failover,
);

impl ProducerCounters {
    /// How many events wait in the outbox, as last seen.
    pub(crate) fn set_depth(&self, events: u64) {
        self.depth.store(events, Ordering::Relaxed);
    }

    pub(crate) fn set_capacity(&self, events: u64) {
        self.capacity.store(events, Ordering::Relaxed);
    }

    /// How many bytes of the spool wait for Redis, as last seen.
    pub(crate) fn set_spool_backlog(&self, bytes: u64) {
        self.spool_backlog.store(bytes, Ordering::Relaxed);
    }
}

/// What the Redis transport has done since it started; see
/// [`producer_stats`](crate::redis::producer_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerStats {
    /// Events Redis confirmed (`XADD` replied).
    pub delivered: u64,
    /// Pipelined batches Redis answered event by event (each event then
    /// confirmed or refused for good).
    pub batches: u64,
    /// Batches that failed for a transient reason (Redis unreachable,
    /// loading, failing over) and were sent again.
    pub failed_batches: u64,
    /// Events given up because Redis refused them for good (credentials,
    /// ACL permissions, the stream key holding another type): each is
    /// counted as dropped and told to the error hook.
    pub undelivered: u64,
    /// Events left in the spool by an earlier run of the process that
    /// Redis has now confirmed.
    pub resent: u64,
    /// Consumer groups this producer was to declare and that Redis did not
    /// let it (its ACL user lacks `XGROUP CREATE`): its events are sent all
    /// the same, and the workers' own declaration is what holds the stream
    /// for those groups.
    pub groups_undeclared: u64,
    /// With [`Confirm`](crate::redis::Confirm): `WAIT`s that found fewer
    /// replicas than asked within their timeout (the partition's events
    /// waited, and it was asked again 50 ms later).
    pub short_waits: u64,
    /// With [`Confirm`](crate::redis::Confirm): events whose connection was
    /// lost (a failover) before enough replicas confirmed them, sent again
    /// under the same event ids.
    pub unconfirmed_resent: u64,
    /// Without [`Confirm`](crate::redis::Confirm), on a Redis Cluster:
    /// events its primary had confirmed and no replica was yet seen to
    /// have when the connection to that primary was lost. A failover then
    /// may have lost them (an upper bound: a replica may have had some).
    pub unreplicated_at_failover: u64,
    /// Connections opened again after a failure.
    pub reconnects: u64,
    /// Events waiting in the outbox (the dispatcher's queue), as last seen
    /// by the sender thread.
    pub outbox_depth: u64,
    /// How many events the outbox holds at most.
    pub outbox_capacity: u64,
    /// Bytes written to the spool and not yet confirmed by Redis, as last
    /// seen by the sender thread (0 without a spool).
    pub spool_backlog: u64,
}

impl ProducerStats {
    pub(crate) fn read(c: &ProducerCounters) -> Self {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProducerStats {
            delivered: r(&c.sent),
            batches: r(&c.batches),
            failed_batches: r(&c.failed_batches),
            undelivered: r(&c.undelivered),
            resent: r(&c.resent),
            groups_undeclared: r(&c.groups_undeclared),
            short_waits: r(&c.short_waits),
            unconfirmed_resent: r(&c.unconfirmed_resent),
            unreplicated_at_failover: r(&c.unreplicated_at_failover),
            reconnects: r(&c.reconnects),
            outbox_depth: r(&c.depth),
            outbox_capacity: r(&c.capacity),
            spool_backlog: r(&c.spool_backlog),
        }
    }
}

impl fmt::Display for ProducerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delivered={} batches={} failed_batches={} undelivered={} resent={} \
             groups_undeclared={} short_waits={} unconfirmed_resent={} \
             unreplicated_at_failover={} reconnects={} \
             outbox={}/{} spool_backlog={}",
            self.delivered,
            self.batches,
            self.failed_batches,
            self.undelivered,
            self.resent,
            self.groups_undeclared,
            self.short_waits,
            self.unconfirmed_resent,
            self.unreplicated_at_failover,
            self.reconnects,
            self.outbox_depth,
            self.outbox_capacity,
            self.spool_backlog
        )
    }
}
