//! Scenario 3: inline mode (handlers run in the caller) against the least
//! that runs three handlers with what eventlib gives each of them: an
//! `EventId`, the emit time read from the wall clock, the metadata in
//! scope, and each call under `catch_unwind`. Two info rows: the same with
//! the counter updates `stats()` needs, and the bare calls (what the
//! isolation, the id and the time cost).

use std::cell::Cell;
use std::hint::black_box;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use eventlib::{Dispatcher, EventId, Mode};

use crate::events::{Viewed, VIEWED_HANDLERS};
use crate::harness::{loop_ns, paired, Report};

/// Calls per round.
const CALLS: u64 = 100_000;

pub(crate) fn run(rounds: usize, report: &mut Report) {
    Dispatcher::builder()
        .mode(Mode::Inline)
        .install()
        .expect("the first dispatcher of this process");
    let log = || {
        loop_ns(CALLS, |i| {
            let _ = black_box(eventlib::log!(Viewed::new(i)));
        })
    };
    let (inline_ns, isolated_ns) = paired(rounds, log, || loop_ns(CALLS, isolated));
    let (_, counted_ns) = paired(rounds, log, || loop_ns(CALLS, counted));
    let (_, direct_ns) = paired(rounds, log, || loop_ns(CALLS, direct));
    assert_eq!(
        eventlib::stats().event("bench.Viewed").map(|e| e.handled),
        Some(3 * (rounds as u64 + 1) * CALLS * 3),
        "inline mode ran every handler"
    );
    report.row("inline", inline_ns, isolated_ns);
    report.row("inline-counted", inline_ns, counted_ns);
    report.row("inline-bare", inline_ns, direct_ns);
    report.note(format!("{CALLS} calls per round on one thread"));
}

/// What an inline run gives its handlers, by hand: an id, the emit time
/// as nanoseconds since the epoch, the metadata in scope, and one
/// `catch_unwind` per handler.
fn isolated(i: u64) {
    let event = black_box(Viewed::new(i));
    context();
    for handler in VIEWED_HANDLERS {
        let _ = black_box(catch_unwind(AssertUnwindSafe(|| handler(&event))));
    }
    black_box(event);
}

/// What a handler's context holds, made as eventlib makes it: an id, the
/// emit time as nanoseconds since the epoch, the metadata in scope.
#[inline(always)]
fn context() {
    let id = EventId::new();
    let emitted_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let metadata = eventlib::metadata::current();
    black_box((&id, emitted_at, &metadata));
}

/// One counter on a cache line of its own, as eventlib's are.
#[repr(align(64))]
struct Counter(AtomicU64);

/// The counters `flush()` waits on: the event logged and completed,
/// shared by every thread.
static EMITTED: Counter = Counter(AtomicU64::new(0));
static COMPLETED: Counter = Counter(AtomicU64::new(0));

thread_local! {
    /// The statistics, as eventlib keeps them: in cells of the thread that
    /// runs the handlers (each handler started and handled, the event's
    /// handled runs).
    static CELLS: [Cell<u64>; 7] = const { [const { Cell::new(0) }; 7] };
}

/// [`isolated`] plus the counter updates an inline run makes for
/// `stats()`, made as eventlib makes them: the event logged and completed
/// (atomic adds), each handler started and handled and the event's
/// handled runs (per-thread cells). What eventlib does past this is the
/// record, the dispatch and the registry.
fn counted(i: u64) {
    EMITTED.0.fetch_add(1, Ordering::SeqCst);
    let event = black_box(Viewed::new(i));
    context();
    CELLS.with(|cells| {
        let bump = |n: usize, by: u64| cells[n].set(cells[n].get() + by);
        let mut handled = 0;
        for (n, handler) in VIEWED_HANDLERS.iter().enumerate() {
            bump(n, 1);
            if catch_unwind(AssertUnwindSafe(|| handler(&event))).is_ok() {
                bump(3 + n, 1);
                handled += 1;
            }
        }
        bump(6, handled);
        black_box(cells);
    });
    COMPLETED.0.fetch_add(1, Ordering::SeqCst);
    black_box(event);
}

fn direct(i: u64) {
    let event = black_box(Viewed::new(i));
    event.count();
    event.audit();
    event.notify();
    black_box(event);
}

/// For profilers: `iterations` inline `log!` calls.
pub(crate) fn profile(iterations: u64) {
    Dispatcher::builder()
        .mode(Mode::Inline)
        .install()
        .expect("the first dispatcher of this process");
    // Builds the registry outside the profiled loop.
    eventlib::log!(Viewed::new(0)).expect("logged");
    log_loop(iterations);
}

#[inline(never)]
fn log_loop(iterations: u64) {
    for i in 0..iterations {
        let _ = black_box(eventlib::log!(Viewed::new(i)));
    }
}
