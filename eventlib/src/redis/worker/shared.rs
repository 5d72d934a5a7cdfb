//! [`Shared`]: what the threads of a worker share (its configuration, its
//! server, counters, stop flag and the entries it holds).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::failure::Failure;
use crate::hook::{self};
use crate::redis::conn::{Endpoint, Link};
use crate::redis::stream_id::StreamId;
use crate::redis::worker::config::Config;
use crate::redis::worker::held::Paused;
use crate::redis::worker::inflight::InFlight;
use crate::redis::worker::partitions_held::Held;
use crate::redis::worker::peers::Elsewhere;
use crate::redis::worker::stats::{WorkerCounters, WorkerStats};
use crate::redis::worker::stop::Stop;
use crate::redis::worker::tally::Tally;
use crate::redis::worker::waiting::Waiting;

/// What the threads of a worker share: its configuration, its server, its
/// counters, its stop flag and the entries it holds.
pub(crate) struct Shared {
    config: Config,
    endpoint: Endpoint,
    /// Shared with the workers of the partitions it holds, if any.
    counters: Arc<WorkerCounters>,
    stop: Stop,
    running: AtomicBool,
    inflight: InFlight,
    waiting: Waiting,
    elsewhere: Elsewhere,
    recent: crate::redis::worker::once::Recent,
    tally: Tally,
    paused: Paused,
    /// On a partitioned stream, the workers of the partitions it holds.
    held: Held,
}

impl Shared {
    /// The state of a worker of a checked configuration, not yet running.
    pub(crate) fn new(config: Config, endpoint: Endpoint) -> Shared {
        Shared::with_counters(config, endpoint, Arc::default())
    }

    fn with_counters(config: Config, endpoint: Endpoint, counters: Arc<WorkerCounters>) -> Shared {
        let prefetch = config.prefetch;
        let tally = Tally::new(&config.group);
        Shared {
            config,
            endpoint,
            counters,
            stop: Stop::default(),
            running: AtomicBool::new(false),
            inflight: InFlight::new(prefetch),
            waiting: Waiting::default(),
            elsewhere: Elsewhere::default(),
            recent: Default::default(),
            tally,
            paused: Paused::default(),
            held: Held::default(),
        }
    }

    /// The state of the worker of one partition (stream key `key`) of this
    /// worker: its configuration on that key, its counters, no signals of
    /// its own.
    pub(crate) fn for_partition(&self, key: &str) -> Shared {
        let mut config = self.config.clone();
        config.stream = key.to_owned();
        config.partitions = 1;
        config.handle_signals = false;
        Shared::with_counters(config, self.endpoint.clone(), Arc::clone(&self.counters))
    }

    /// The server (or cluster).
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// On a partitioned stream, the workers of the partitions held.
    pub(crate) fn held_partitions(&self) -> &Held {
        &self.held
    }

    /// What an operator's pauses hold back now.
    pub(crate) fn paused(&self) -> &Paused {
        &self.paused
    }

    /// What the handlers did since the figures were last published.
    pub(crate) fn tally(&self) -> &Tally {
        &self.tally
    }

    /// The event ids this worker took lately (with `once_per_event_id`).
    pub(crate) fn recent(&self) -> &crate::redis::worker::once::Recent {
        &self.recent
    }

    /// Marks the worker running; whether it was already.
    pub(crate) fn start_running(&self) -> bool {
        self.running.swap(true, Ordering::SeqCst)
    }

    /// Marks the worker no longer running.
    pub(crate) fn stop_running(&self) {
        self.running.store(false, Ordering::SeqCst);
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn counters(&self) -> &WorkerCounters {
        &self.counters
    }

    pub(crate) fn stop(&self) -> &Stop {
        &self.stop
    }

    /// The entries taken and not yet acknowledged or let go.
    pub(crate) fn inflight(&self) -> &InFlight {
        &self.inflight
    }

    /// The entries waiting for a retry (pending, holding no slot).
    pub(crate) fn waiting(&self) -> &Waiting {
        &self.waiting
    }

    /// Every entry this worker has in hand: held, or waiting for a retry or
    /// a paused handler. An entry of its pending list that is not among
    /// them was delivered and lost on the way (a reply cut), or handed to it.
    pub(crate) fn in_hand(&self) -> HashSet<StreamId> {
        let mut ids: HashSet<StreamId> = self.inflight.held().into_iter().collect();
        ids.extend(self.waiting.ids());
        ids
    }

    /// What the other workers of the group published they handle.
    pub(crate) fn elsewhere(&self) -> &Elsewhere {
        &self.elsewhere
    }

    /// A connection of its own for one thread (opened on first use); on
    /// a cluster, to the primary of the stream's slot.
    pub(crate) fn link(&self, read_timeout: Duration) -> Link {
        Link::for_key(self.endpoint.clone(), &self.config.stream, read_timeout)
    }

    /// Tells the error hook of a failed attempt.
    pub(crate) fn report(&self, failure: &Failure) {
        hook::call_hook(&self.config.hook, failure);
    }

    pub(crate) fn stats(&self) -> WorkerStats {
        let (in_flight, waiting) = self.held.counts();
        WorkerStats::read(
            &self.counters,
            self.inflight.count() + in_flight,
            self.waiting.count() + waiting,
        )
    }
}
