//! A worker's checked configuration, as [`WorkerBuilder`](super::builder::WorkerBuilder)
//! leaves it, and the keys it derives from it.

use std::time::Duration;

use crate::hook::{Hook, Spawner};
use crate::redis::groups::GroupStart;
use crate::redis::keys;

/// A worker's options, checked.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) stream: String,
    /// How many partitions the stream is split into.
    pub(crate) partitions: usize,
    pub(crate) group: String,
    /// Where the group starts when this worker creates it.
    pub(crate) start: GroupStart,
    pub(crate) consumer: String,
    /// How long a finished event id is remembered, to skip it if it comes
    /// again; `None`: not remembered.
    pub(crate) once_window: Option<Duration>,
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
    /// `WAIT` after each acknowledging transaction.
    pub(crate) confirm: Option<crate::redis::Confirm>,
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
