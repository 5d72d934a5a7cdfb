//! The event of the back-pressure binaries (`overflow_*`): its only
//! handler holds the single pool thread at a gate until the test opens it.

use std::sync::atomic::{AtomicUsize, Ordering};

use eventlib::{event, Dispatcher, Overflow};
use serde::{Deserialize, Serialize};

use super::common::Gate;

pub const NAME: &str = "bp.Job";

/// Where the handler waits.
pub static GATE: Gate = Gate::new();
/// How many jobs the handler finished.
pub static HANDLED: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub n: u32,
}

#[event(name = "bp.Job")]
impl Job {
    #[handler]
    fn hold(&self) {
        GATE.pass();
        HANDLED.fetch_add(1, Ordering::SeqCst);
    }
}

/// A queue of two events and one pool thread.
pub fn small_dispatcher(overflow: Overflow) -> eventlib::Builder {
    Dispatcher::builder()
        .capacity(2)
        .threads(1)
        .overflow(overflow)
}

/// Logs job 0 and waits until the pool thread holds it, then logs jobs 1
/// and 2, which fill the queue.
pub fn fill_the_queue() {
    eventlib::log!(Job { n: 0 }).unwrap();
    GATE.wait_for_arrivals(1);
    eventlib::log!(Job { n: 1 }).unwrap();
    eventlib::log!(Job { n: 2 }).unwrap();
}

pub fn handled() -> usize {
    HANDLED.load(Ordering::SeqCst)
}

/// `(emitted, completed, dropped, in_flight)` of the event.
pub fn counts() -> (u64, u64, u64, u64) {
    let stats = eventlib::stats();
    let e = stats.event(NAME).unwrap();
    (e.emitted, e.completed, e.dropped, e.in_flight)
}
