//! Every counter of events and handlers, and the memory orderings they use.
//!
//! `flush()` and `shutdown()` decide that nothing is outstanding from the
//! per-event counters alone (there is no shared "outstanding" counter for
//! callers and pool threads to fight over). They rely on one invariant:
//!
//! > at every instant, `completed + dropped <= emitted`, summed over events.
//!
//! It holds because an event is counted as emitted before it is queued,
//! and as completed or dropped only after that. Every write and read of
//! `emitted`, `completed` and `dropped` is `SeqCst`, so all of them fall in
//! one total order: [`EventCounters::settled`] read at an instant `t1` and
//! [`EventCounters::emitted`] read later at `t2` satisfy
//! `settled(t1) <= emitted(t1) <= emitted(t2)`, and the counters only grow;
//! so when the two sums are equal, nothing was outstanding at `t1`. On
//! x86-64 and AArch64 a `SeqCst` increment costs what a relaxed one does.
//!
//! The outcome counters (`handled`, `failed`, `panicked`, `started`) and
//! the refusals are statistics: nothing waits on them, so they are
//! `Relaxed`. The outcome counters are counted per thread (see [`cells`]):
//! a handler run updates three of them, and shared atomics would make
//! each update a locked instruction. They are written before the event is
//! completed, so a reader that saw `completed` move also sees them.
//!
//! With the `metrics` feature, each event counter is mirrored to the
//! `metrics` facade (see `meters`) just before it moves, so a scrape taken
//! once `flush()` returned shows what [`stats`](crate::stats) shows.

mod cells;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub(crate) use crate::meters::Outcome;
use crate::meters::{self, EventKeys, Refusal};

/// Counters of one event, on separate cache lines: callers write the
/// striped `emitted`/`dropped`, pool threads the rest, so neither slows
/// the other down.
pub(crate) struct EventCounters {
    caller: CallerCounters,
    pool: PoolCounters,
}

/// What `log!` writes of an event, striped: each producer thread counts on
/// one stripe (a cache line of its own), so producers on several cores do
/// not fight over one line; readers sum the stripes.
struct CallerCounters {
    stripes: [Stripe; STRIPES],
}

const STRIPES: usize = 4;

#[repr(align(64))]
struct Stripe {
    emitted: AtomicU64,
    dropped: AtomicU64,
    refused_validation: AtomicU64,
    refused_data: AtomicU64,
    /// The event's metric keys (a copy of the pointer per stripe, as below).
    keys: &'static EventKeys,
    /// What `log!` needs to know of the event's handlers (set once, when
    /// the registry is built): a copy per stripe, so `log!` reads the line
    /// it writes.
    handlers: Handlers,
}

/// What `log!` needs to know of an event's handlers, kept beside its
/// counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Handlers {
    /// Whether any handler is registered.
    pub(crate) any: bool,
    /// Whether any of them is an `async fn`.
    pub(crate) any_async: bool,
}

#[repr(align(64))]
struct PoolCounters {
    keys: &'static EventKeys,
    completed: AtomicU64,
    /// The first of the event's three outcome cells (handled, failed,
    /// panicked), counted per thread.
    outcomes: u32,
}

impl CallerCounters {
    /// This thread's stripe.
    #[inline]
    fn mine(&self) -> &Stripe {
        thread_local! {
            static STRIPE: usize = {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
            };
        }
        &self.stripes[STRIPE.with(|s| *s)]
    }

    fn sum(&self, field: impl Fn(&Stripe) -> &AtomicU64) -> u64 {
        self.stripes
            .iter()
            .map(|s| field(s).load(Ordering::SeqCst))
            .sum()
    }
}

impl EventCounters {
    /// The counters of the event named `name`.
    pub(crate) fn new(name: &'static str) -> Self {
        // Built once per event type for the life of the process.
        let keys: &'static EventKeys = Box::leak(Box::new(EventKeys::new(name)));
        let stripe = || Stripe {
            emitted: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            refused_validation: AtomicU64::new(0),
            refused_data: AtomicU64::new(0),
            keys,
            handlers: Handlers::default(),
        };
        EventCounters {
            caller: CallerCounters {
                stripes: std::array::from_fn(|_| stripe()),
            },
            pool: PoolCounters {
                keys,
                completed: AtomicU64::new(0),
                outcomes: cells::reserve(3),
            },
        }
    }

    /// Set once, when the registry is built.
    pub(crate) fn set_handlers(&mut self, handlers: Handlers) {
        for stripe in &mut self.caller.stripes {
            stripe.handlers = handlers;
        }
    }

    /// Counts one event accepted by `log!`, before it is queued; returns
    /// what `log!` needs to know of its handlers (read from the same cache
    /// line).
    #[inline]
    pub(crate) fn emit(&self) -> Handlers {
        let stripe = self.caller.mine();
        meters::emitted(stripe.keys);
        stripe.emitted.fetch_add(1, Ordering::SeqCst);
        stripe.handlers
    }

    /// Counts one emitted event as dropped (never queued, or given up).
    pub(crate) fn drop_one(&self) {
        let stripe = self.caller.mine();
        meters::dropped(stripe.keys);
        stripe.dropped.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts one event that `log!` refused (never emitted).
    #[cold]
    pub(crate) fn refuse(&self, reason: Refusal) {
        let stripe = self.caller.mine();
        meters::refused(stripe.keys, reason);
        let counter = match reason {
            Refusal::Validation => &stripe.refused_validation,
            Refusal::Data => &stripe.refused_data,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one emitted event as completed: every handler finished with
    /// it, or a transport delivered it.
    pub(crate) fn complete(&self) {
        meters::completed(self.pool.keys);
        self.pool.completed.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts the outcome of one handler run for this event.
    #[inline]
    pub(crate) fn outcome(&self, outcome: Outcome) {
        cells::add(self.pool.outcomes + outcome.cell(), 1);
    }

    /// Counts `n` successful handler runs for this event at once.
    #[inline]
    pub(crate) fn add_handled(&self, n: u64) {
        if n > 0 {
            cells::add(self.pool.outcomes + Outcome::Handled.cell(), n);
        }
    }

    pub(crate) fn emitted(&self) -> u64 {
        self.caller.sum(|s| &s.emitted)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.caller.sum(|s| &s.dropped)
    }

    pub(crate) fn completed(&self) -> u64 {
        self.pool.completed.load(Ordering::SeqCst)
    }

    /// Refusals of `log!` for `reason`.
    pub(crate) fn refused(&self, reason: Refusal) -> u64 {
        self.caller
            .stripes
            .iter()
            .map(|s| match reason {
                Refusal::Validation => &s.refused_validation,
                Refusal::Data => &s.refused_data,
            })
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// `completed + dropped`: read before [`emitted`](Self::emitted) when
    /// checking for idleness (see the module's documentation).
    pub(crate) fn settled(&self) -> u64 {
        self.completed() + self.dropped()
    }

    pub(crate) fn handled(&self, reading: &Reading) -> u64 {
        reading.sum(self.pool.outcomes + Outcome::Handled.cell())
    }

    pub(crate) fn failed(&self, reading: &Reading) -> u64 {
        reading.sum(self.pool.outcomes + Outcome::Failed.cell())
    }

    pub(crate) fn panicked(&self, reading: &Reading) -> u64 {
        reading.sum(self.pool.outcomes + Outcome::Panicked.cell())
    }
}

/// A reading of the statistics counted per thread (the blocks to sum):
/// what their readers pass to the methods that read them.
pub(crate) use cells::Blocks as Reading;

/// Begins a reading of the statistics.
pub(crate) fn reading() -> Reading {
    cells::blocks()
}

/// Counters of one handler, counted per thread (see [`cells`]): the
/// handlers of one event run on different pool threads at once.
pub(crate) struct HandlerCounters {
    /// The first of its four cells: started, then the three outcomes.
    cells: u32,
}

impl HandlerCounters {
    /// Counters of a new handler (made while the registry is built).
    pub(crate) fn new() -> Self {
        HandlerCounters {
            cells: cells::reserve(4),
        }
    }

    #[inline]
    pub(crate) fn start(&self) {
        cells::add(self.cells, 1);
    }

    #[inline]
    pub(crate) fn outcome(&self, outcome: Outcome) {
        cells::add(self.cells + 1 + outcome.cell(), 1);
    }

    pub(crate) fn started(&self, reading: &Reading) -> u64 {
        reading.sum(self.cells)
    }

    pub(crate) fn handled(&self, reading: &Reading) -> u64 {
        reading.sum(self.cells + 1 + Outcome::Handled.cell())
    }

    pub(crate) fn failed(&self, reading: &Reading) -> u64 {
        reading.sum(self.cells + 1 + Outcome::Failed.cell())
    }

    pub(crate) fn panicked(&self, reading: &Reading) -> u64 {
        reading.sum(self.cells + 1 + Outcome::Panicked.cell())
    }
}

impl Outcome {
    /// The outcome's cell among the three of a counter owner.
    #[inline]
    fn cell(self) -> u32 {
        match self {
            Outcome::Handled => 0,
            Outcome::Failed => 1,
            Outcome::Panicked => 2,
        }
    }
}
