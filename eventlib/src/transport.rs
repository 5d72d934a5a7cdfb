//! The seam between the dispatcher and a transport that carries events out
//! of the process (the Redis transport is one).
//!
//! With a transport installed, `log!` validates the event and puts it in the
//! dispatcher's bounded queue as usual (with the same overflow policy and
//! counters), but instead of the local pool, the transport's thread takes
//! events off that queue — its *outbox* — and hands each back with
//! [`Outbox::delivered`] once it is safely out of the process, or with
//! [`Outbox::undelivered`] when it never can be. `flush()` and `shutdown()`
//! wait for exactly that.
//!
//! A transport with a durable outbox also gives an [`Admission`]: called
//! in the caller of `log!` before the event is queued, it writes the event
//! where a crash cannot lose it, or refuses it with an error that `log!`
//! returns.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::failure::{Failure, FailureKind};
use crate::queue::Queue;
use crate::record::Record;

/// The name of the transport the dispatcher sends events through, once
/// one is installed: then this process's handlers run elsewhere.
static INSTALLED: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

pub(crate) fn note_installed(name: &'static str) {
    let _ = INSTALLED.set(name);
}

/// The installed transport's name, if events leave the process.
pub(crate) fn installed() -> Option<&'static str> {
    INSTALLED.get().copied()
}

/// Something that carries events out of the process.
pub trait Transport: Send + 'static {
    /// A short name for logs and thread names, such as `"redis"`.
    fn name(&self) -> &'static str;

    /// How many events of an earlier run this transport holds at start and
    /// will send (a durable outbox's events recovered after a crash):
    /// `flush` and `shutdown` wait for them as for this run's, and the
    /// transport settles each with [`Outbox::release_earlier`]. Asked once,
    /// when the dispatcher is installed; 0 by default.
    fn earlier(&self) -> u64 {
        0
    }

    /// What `log!` calls before queueing an event for this transport (a
    /// durable outbox writes the event down there); `None`, the default,
    /// when the in-memory queue is the whole outbox. Asked once, when the
    /// dispatcher is installed.
    fn admission(&self) -> Option<Arc<dyn Admission>> {
        None
    }

    /// What [`shutdown`](crate::shutdown) calls once the events settled,
    /// for bookkeeping the transport finishes before the process exits
    /// (the Redis transport publishes its last figures and withdraws its
    /// line among the live processes); it should return within a second.
    /// Asked once, when the dispatcher is installed; `None` by default.
    fn on_shutdown(&self) -> Option<Box<dyn FnOnce() + Send>> {
        None
    }

    /// Runs on a thread of its own for the life of the process, taking
    /// events from the outbox and confirming each with
    /// [`Outbox::delivered`]. An event it can never deliver must still be
    /// confirmed (after reporting it), or `flush()` would wait for ever.
    fn run(self: Box<Self>, outbox: Outbox);
}

/// Runs in the caller of `log!`, before the event is queued for the
/// transport; see [`Transport::admission`].
pub trait Admission: Send + Sync + 'static {
    /// Takes the event in (writes it to a durable outbox, say); an `Err`
    /// refuses it, and `log!` returns that error.
    fn admit(&self, record: &Record) -> Result<(), Error>;
}

/// The queue of events waiting for a transport; see [`Transport`].
pub struct Outbox {
    queue: Arc<Queue>,
}

impl Outbox {
    pub(crate) fn new(queue: Arc<Queue>) -> Self {
        Outbox { queue }
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Record> {
        self.queue.receiver().recv_timeout(timeout).ok()
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<Record> {
        self.queue.receiver().try_recv().ok()
    }

    /// How many events are waiting.
    pub fn depth(&self) -> usize {
        self.queue.receiver().len()
    }

    /// How many events the outbox holds at most.
    pub fn capacity(&self) -> usize {
        self.queue.receiver().capacity().unwrap_or(usize::MAX)
    }

    /// The event is safely out of the process: it counts as completed here,
    /// and `flush()` stops waiting for it.
    pub fn delivered(&self, record: &Record) {
        self.queue.completed(record);
    }

    /// The event can never be delivered (the server refuses it for good):
    /// it counts as dropped, the error hook is told why, and `flush()` stops
    /// waiting for it.
    pub fn undelivered(&self, record: &Record, reason: impl Into<String>) {
        self.queue.dropped(record);
        self.queue.report(&Failure {
            event: record.name(),
            event_id: record.id(),
            handler: None,
            kind: FailureKind::Undelivered(reason.into()),
        });
    }

    /// `n` events of an earlier run are sent, or given up and reported.
    pub fn release_earlier(&self, n: u64) {
        self.queue.release_earlier(n);
    }

    /// Whether a `flush` or `shutdown` is waiting for the events in flight
    /// to settle: a transport that has bookkeeping to finish before the
    /// process may exit does it before it settles the last of them.
    pub fn flush_waiting(&self) -> bool {
        self.queue.has_idle_waiters()
    }

    /// Whether `shutdown()` has been called: the transport should deliver
    /// what is queued and expect nothing more.
    pub fn is_shutting_down(&self) -> bool {
        !self.queue.is_accepting()
    }

    /// Reports a failure to the error hook.
    pub fn report(&self, failure: &crate::Failure) {
        self.queue.report(failure);
    }
}
