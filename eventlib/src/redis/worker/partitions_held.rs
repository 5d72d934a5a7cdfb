//! The partition workers a worker of a partitioned stream runs now, for
//! its stats.

use std::sync::Mutex;

use crate::redis::worker::stats::WorkerStats;
use crate::redis::worker::Worker;

/// The partition workers a worker runs now, for its stats.
#[derive(Default)]
pub(crate) struct Held(Mutex<Vec<Worker>>);

impl Held {
    pub(crate) fn set(&self, workers: Vec<Worker>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = workers;
    }

    /// The entries in flight and waiting for a retry over every partition.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let workers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        workers.iter().fold((0, 0), |(f, w), worker| {
            let s: WorkerStats = worker.stats();
            (f + s.in_flight, w + s.waiting)
        })
    }
}
