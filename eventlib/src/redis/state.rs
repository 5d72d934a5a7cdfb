//! The state a worker's threads share: its configuration ([`Config`]) and
//! [`Shared`] (its server, counters, stop flag and the entries it holds).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::failure::Failure;
use crate::hook::{self, Hook, Spawner};
use crate::redis::conn::{Endpoint, Link};
use crate::redis::control::Stop;
use crate::redis::elsewhere::Elsewhere;
use crate::redis::inflight::{InFlight, Waiting};
use crate::redis::keys;
use crate::redis::stats::{WorkerCounters, WorkerStats};

/// What the threads of a worker share: its configuration, its server, its
/// counters, its stop flag and the entries it holds.
pub(crate) struct Shared {
    config: Config,
    endpoint: Endpoint,
    counters: WorkerCounters,
    stop: Stop,
    running: AtomicBool,
    inflight: InFlight,
    waiting: Waiting,
    elsewhere: Elsewhere,
}

impl Shared {
    /// The state of a worker of a checked configuration, not yet running.
    pub(crate) fn new(config: Config, endpoint: Endpoint) -> Shared {
        let prefetch = config.prefetch;
        Shared {
            config,
            endpoint,
            counters: WorkerCounters::default(),
            stop: Stop::default(),
            running: AtomicBool::new(false),
            inflight: InFlight::new(prefetch),
            waiting: Waiting::default(),
            elsewhere: Elsewhere::default(),
        }
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

    /// What the other workers of the group published they handle.
    pub(crate) fn elsewhere(&self) -> &Elsewhere {
        &self.elsewhere
    }

    /// A connection of its own for one thread (opened on first use).
    pub(crate) fn link(&self, read_timeout: Duration) -> Link {
        Link::new(self.endpoint.clone(), read_timeout)
    }

    /// Tells the error hook of a failed attempt.
    pub(crate) fn report(&self, failure: &Failure) {
        hook::call_hook(&self.config.hook, failure);
    }

    pub(crate) fn stats(&self) -> WorkerStats {
        WorkerStats::read(&self.counters, self.inflight.count(), self.waiting.count())
    }
}

pub(crate) struct Config {
    pub(crate) stream: String,
    pub(crate) group: String,
    pub(crate) consumer: String,
    pub(crate) concurrency: usize,
    pub(crate) prefetch: usize,
    pub(crate) visibility: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) max_deliveries: u64,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) block: Duration,
    pub(crate) trim_interval: Option<Duration>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) dead_max_len: usize,
    pub(crate) max_entry_bytes: usize,
    pub(crate) consumer_cleanup: Option<Duration>,
    pub(crate) stop_when_idle: Option<Duration>,
    pub(crate) allow_empty_group: bool,
    pub(crate) handle_signals: bool,
    pub(crate) hook: Hook,
    pub(crate) spawner: Option<Spawner>,
}

impl Config {
    pub(crate) fn dead_stream(&self) -> String {
        keys::dead_letters(&self.stream)
    }

    pub(crate) fn progress_key(&self) -> String {
        keys::progress(&self.stream, &self.group)
    }

    pub(crate) fn handlers_key(&self) -> String {
        keys::handlers(&self.stream, &self.group)
    }

    /// How often held and waiting entries are kept alive.
    pub(crate) fn heartbeat_every(&self) -> Duration {
        self.visibility / 3
    }
}
