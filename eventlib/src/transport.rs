//! The seam between the dispatcher and a transport that carries events out
//! of the process (the Redis transport is one).
//!
//! With a transport installed, `log!` validates the event and puts it in the
//! dispatcher's bounded queue as usual (with the same overflow policy and
//! counters), but instead of the local pool, the transport's thread takes
//! events off that queue — its *outbox* — and hands each back with
//! [`Outbox::delivered`] once it is safely out of the process. `flush()` and
//! `shutdown()` wait for exactly that.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::dispatcher::Shared;
use crate::record::Record;

/// Something that carries events out of the process.
pub trait Transport: Send + 'static {
    /// A short name for logs and thread names, such as `"redis"`.
    fn name(&self) -> &'static str;

    /// Runs on a thread of its own for the life of the process, taking
    /// events from the outbox and confirming each with
    /// [`Outbox::delivered`]. An event it can never deliver must still be
    /// confirmed (after reporting it), or `flush()` would wait for ever.
    fn run(self: Box<Self>, outbox: Outbox);
}

/// The queue of events waiting for a transport; see [`Transport`].
pub struct Outbox {
    pub(crate) shared: Arc<Shared>,
}

impl Outbox {
    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Record> {
        self.shared.events_rx.recv_timeout(timeout).ok()
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<Record> {
        self.shared.events_rx.try_recv().ok()
    }

    /// How many events are waiting.
    pub fn depth(&self) -> usize {
        self.shared.events_rx.len()
    }

    /// How many events the outbox holds at most.
    pub fn capacity(&self) -> usize {
        self.shared.events_rx.capacity().unwrap_or(usize::MAX)
    }

    /// The event is safely out of the process: it counts as completed here,
    /// and `flush()` stops waiting for it.
    pub fn delivered(&self, record: &Record) {
        crate::registry::registry().events[record.index()]
            .counters
            .pool
            .completed
            .fetch_add(1, Ordering::SeqCst);
        self.shared.settled();
    }

    /// Whether `shutdown()` has been called: the transport should deliver
    /// what is queued and expect nothing more.
    pub fn is_shutting_down(&self) -> bool {
        !self.shared.accepting.load(Ordering::Relaxed)
    }

    /// Reports a failure to the error hook.
    pub fn report(&self, failure: &crate::Failure) {
        self.shared.report(failure);
    }
}
