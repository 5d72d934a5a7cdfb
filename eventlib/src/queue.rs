//! The queue between `log!` and whoever takes the events (the pool's
//! threads or a transport): sending under the overflow policy, settling
//! events (completed, dropped) and waiting until none is outstanding, for
//! `flush` and `shutdown`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::failure::Failure;
use crate::hook::{self, Hook};
use crate::record::Record;
use crate::registry::registry;

/// What `log!` does when the local queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room, at most this long per `log!`; then drop the event
    /// (`log!` still returns `Ok`; the drop is counted in
    /// [`stats`](crate::stats) and reported to the error hook).
    ///
    /// **The default, with one second**: a burst of events faster than
    /// the handlers slows the callers down to the handlers' pace instead
    /// of losing events, while handlers that are stuck (no room freed for a
    /// whole second) cannot hold a caller for long. `docs/asynchronous-processing.md`
    /// has the measurements behind it.
    Wait(Duration),
    /// Wait until there is room, however long. Nothing is lost, but
    /// handlers that are stuck hold the callers with them, and a handler
    /// that logs into a full queue with every pool thread busy waits
    /// forever.
    Block,
    /// Drop the new event at once; `log!` still returns `Ok`. The drop is
    /// counted in [`stats`](crate::stats) (`dropped`) and reported to the
    /// error hook. The caller is never slowed, at the price of losing a
    /// burst that outruns the handlers.
    DropNewest,
    /// Return [`Error::QueueFull`](crate::Error::QueueFull) from `log!` at once; the event is
    /// counted as dropped.
    Error,
}

impl Overflow {
    /// The default policy: [`Overflow::Wait`] up to one second.
    pub const DEFAULT: Overflow = Overflow::Wait(Duration::from_secs(1));
}

impl Default for Overflow {
    fn default() -> Self {
        Overflow::DEFAULT
    }
}

/// The bounded queue of events, shared by the dispatcher and the pool or
/// the transport that drains it.
pub(crate) struct Queue {
    tx: Sender<Record>,
    rx: Receiver<Record>,
    hook: Hook,
    accepting: AtomicBool,
    /// Events of an earlier run that a durable transport still holds (a
    /// spool's recovered events): `wait_idle` waits for them too.
    earlier: AtomicU64,
    /// Threads in `wait_idle`: settling an event wakes them only when set.
    waiters: AtomicUsize,
    idle_lock: Mutex<()>,
    idle: Condvar,
    /// The threads that take events off this queue and nap between looks
    /// at it: `wait_idle` wakes them, so that a flush never waits out a nap.
    nappers: Mutex<Vec<Thread>>,
}

impl Queue {
    pub(crate) fn new(capacity: usize, hook: Hook) -> Queue {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        Queue {
            tx,
            rx,
            hook,
            accepting: AtomicBool::new(true),
            earlier: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            idle_lock: Mutex::new(()),
            idle: Condvar::new(),
            nappers: Mutex::new(Vec::new()),
        }
    }

    /// Queues `record` as `overflow` says; gives it back when refused.
    #[inline]
    pub(crate) fn offer(&self, record: Record, overflow: Overflow) -> Result<(), Record> {
        match overflow {
            Overflow::Wait(max) => match self.tx.try_send(record) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(record)) => self
                    .tx
                    .send_timeout(record, max)
                    .map_err(|e| e.into_inner()),
                Err(TrySendError::Disconnected(record)) => Err(record),
            },
            Overflow::Block => self.tx.send(record).map_err(|e| e.into_inner()),
            Overflow::DropNewest | Overflow::Error => {
                self.tx.try_send(record).map_err(|e| e.into_inner())
            }
        }
    }

    /// Whether a record would be taken now without waiting.
    pub(crate) fn has_room(&self) -> bool {
        !self.tx.is_full()
    }

    /// The receiving end: the pool's threads or the transport take events
    /// from it.
    pub(crate) fn receiver(&self) -> &Receiver<Record> {
        &self.rx
    }

    /// Whether `log!` is still accepted (false once `shutdown` began).
    pub(crate) fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }

    /// `shutdown` began: `log!` is refused from now on.
    pub(crate) fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }

    /// `thread` takes events off this queue and naps (parks with a timeout)
    /// between looks at it.
    pub(crate) fn add_napper(&self, thread: Thread) {
        self.nappers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(thread);
    }

    /// Tells the hook; a panicking hook is contained like a handler.
    pub(crate) fn report(&self, failure: &Failure) {
        hook::call_hook(&self.hook, failure);
    }

    /// One handler of `record` finished; the last one completes the event.
    pub(crate) fn handler_done(&self, record: &Record) {
        if record.handler_finished() {
            self.completed(record);
        }
    }

    /// `record` is completed: every handler finished, or a transport
    /// delivered it.
    pub(crate) fn completed(&self, record: &Record) {
        count_completed(record);
        self.settled();
    }

    /// `record`, emitted, is dropped: refused by the queue or given up by
    /// the transport.
    pub(crate) fn dropped(&self, record: &Record) {
        count_dropped(record);
        self.settled();
    }

    /// A transport holds `n` more events of an earlier run.
    pub(crate) fn hold_earlier(&self, n: u64) {
        self.earlier.fetch_add(n, Ordering::SeqCst);
    }

    /// `n` events of an earlier run are settled (sent, or given up and
    /// reported).
    pub(crate) fn release_earlier(&self, n: u64) {
        let _ = self
            .earlier
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                Some(held.saturating_sub(n))
            });
        self.settled();
    }

    /// An event was completed or dropped: wake the threads in `wait_idle`,
    /// if any, once the queue is empty (before that, they have nothing to
    /// look at). There is no shared "outstanding" counter for callers and
    /// the pool to fight over; `wait_idle` sums the per-event counters.
    ///
    /// The lock is taken only while someone waits: a waiter reads the
    /// counters under it, so this wake-up cannot fall between its reading
    /// and its wait (which would leave it asleep for a whole slice after
    /// the last event settled).
    fn settled(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 && self.rx.is_empty() {
            let _reading = self.idle_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.idle.notify_all();
        }
    }

    /// Whether a `flush` or `shutdown` waits for this queue to go idle.
    pub(crate) fn has_idle_waiters(&self) -> bool {
        self.waiters.load(Ordering::Relaxed) > 0
    }

    /// Waits until no event is outstanding and no event of an earlier run
    /// is held, or until `deadline`; returns how many of each remained.
    pub(crate) fn wait_idle(&self, deadline: Option<Instant>) -> Remaining {
        // The counters are read under the lock the notifier takes, so a
        // wake-up cannot slip between the reading and the wait. The wait
        // is bounded all the same, in case something settles without
        // notifying.
        const SLICE: Duration = Duration::from_millis(10);
        let registry = registry();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let nappers = self.nappers.lock().unwrap_or_else(|e| e.into_inner());
        nappers.iter().for_each(Thread::unpark);
        drop(nappers);
        let remaining = loop {
            let guard = self.idle_lock.lock().unwrap_or_else(|e| e.into_inner());
            let remaining = Remaining {
                outstanding: registry.outstanding(),
                earlier: self.earlier.load(Ordering::SeqCst),
            };
            if remaining == Remaining::default() {
                break remaining;
            }
            let mut wait = SLICE;
            if let Some(deadline) = deadline {
                let now = Instant::now();
                if now >= deadline {
                    break remaining;
                }
                wait = wait.min(deadline - now);
            }
            drop(self.idle.wait_timeout(guard, wait));
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        remaining
    }

    /// Events of an earlier run held now.
    pub(crate) fn earlier(&self) -> u64 {
        self.earlier.load(Ordering::SeqCst)
    }
}

/// What `wait_idle` left unfinished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Remaining {
    /// Events of this run not completed nor dropped.
    pub(crate) outstanding: u64,
    /// Events of an earlier run a transport still holds.
    pub(crate) earlier: u64,
}

/// Counts `record` emitted, before it is queued or run; returns what
/// `log!` needs to know of its event's handlers here. Every emitted event
/// is later counted once as completed or dropped, in its event's counters
/// and in its batch's (an outbox relay's), if it has one.
#[inline]
pub(crate) fn count_emitted(record: &Record) -> crate::counters::Handlers {
    #[cfg(feature = "redis")]
    if let Some(batch) = record.batch() {
        batch.emitted();
    }
    registry().events[record.index()].counters.emit()
}

/// Counts `record` completed: every handler finished, or a transport
/// delivered it.
#[inline]
pub(crate) fn count_completed(record: &Record) {
    registry().events[record.index()].counters.complete();
    #[cfg(feature = "redis")]
    if let Some(batch) = record.batch() {
        batch.settled(false);
    }
}

/// Counts `record` dropped: refused by the queue, or given up by the
/// transport.
#[inline]
fn count_dropped(record: &Record) {
    registry().events[record.index()].counters.drop_one();
    #[cfg(feature = "redis")]
    if let Some(batch) = record.batch() {
        batch.settled(true);
    }
}
