//! Scenario 6: memory per queued event, with every handler held at a gate
//! so that what is logged stays in the queue. Two measures: bytes
//! allocated per `log!` (counting allocator) plus the queue slot, and peak
//! resident memory with 1,000,000 events queued. Baselines: the event's
//! own size, and the same event boxed into a bounded crossbeam channel.

use std::hint::black_box;
use std::mem::size_of;

use eventlib::Dispatcher;

use crate::alloc;
use crate::events::{Held, GATE};
use crate::harness::{proc_status_bytes, Report};

/// Pool threads: both end up held at the gate by the first event.
const THREADS: usize = 2;

/// A crossbeam array-channel slot: the message and a stamp.
fn slot_bytes<T>() -> usize {
    size_of::<T>() + size_of::<usize>()
}

/// Installs a dispatcher of `capacity` and parks both pool threads at the
/// gate with one event, so that the next ones stay queued.
fn hold_the_pool(capacity: usize) {
    Dispatcher::builder()
        .threads(THREADS)
        .capacity(capacity)
        .install()
        .expect("the first dispatcher of this process");
    eventlib::log!(Held::new(0)).expect("logged");
    GATE.wait_for_holders(THREADS);
}

/// Bytes allocated per `log!` while the queue holds events.
pub(crate) fn heap(report: &mut Report) {
    const EVENTS: u64 = 50_000;
    // The floor first, while no dispatcher exists.
    let (tx, rx) = crossbeam_channel::bounded::<Box<Held>>(65_536);
    let (floor_bytes, floor_allocs) = alloc::measure(|| {
        for i in 0..EVENTS {
            tx.send(Box::new(Held::new(i))).expect("the receiver lives");
        }
    });
    drop((tx, rx));

    hold_the_pool(65_536);
    let (bytes, allocs) = alloc::measure(|| {
        for i in 1..=EVENTS {
            black_box(eventlib::log!(Held::new(i)).expect("logged"));
        }
    });
    let stats = eventlib::stats();
    let held = stats.event("bench.Held").expect("registered");
    assert_eq!(
        (held.dropped, held.completed),
        (0, 0),
        "events stayed queued"
    );

    let per_event = bytes as f64 / EVENTS as f64 + slot_bytes::<eventlib::Record>() as f64;
    let floor_per_event = floor_bytes as f64 / EVENTS as f64 + slot_bytes::<Box<Held>>() as f64;
    report.row("mem-heap", per_event, size_of::<Held>() as f64);
    report.row("mem-heap-floor", per_event, floor_per_event);
    report.note(format!(
        "{EVENTS} events queued: log! allocates {:.1} B in {:.2} allocations per event, plus a {} B queue slot; \
         the floor {:.1} B in {:.2} allocations plus a {} B slot; the event itself is {} B",
        bytes as f64 / EVENTS as f64,
        allocs as f64 / EVENTS as f64,
        slot_bytes::<eventlib::Record>(),
        floor_bytes as f64 / EVENTS as f64,
        floor_allocs as f64 / EVENTS as f64,
        slot_bytes::<Box<Held>>(),
        size_of::<Held>(),
    ));
}

/// Peak resident memory with 1,000,000 events queued.
pub(crate) fn rss(report: &mut Report) {
    const EVENTS: u64 = 1_000_000;
    // The floor first; its memory is then given back to the system and the
    // high-water mark reset before the dispatcher's turn.
    let before = proc_status_bytes("VmRSS");
    let (tx, rx) = crossbeam_channel::bounded::<Box<Held>>(EVENTS as usize);
    for i in 0..EVENTS {
        tx.send(Box::new(Held::new(i))).expect("the receiver lives");
    }
    let floor_peak = proc_status_bytes("VmHWM");
    drop((tx, rx));
    give_back_freed_memory();
    let reset = reset_peak();

    let before_eventlib = proc_status_bytes("VmRSS");
    hold_the_pool(EVENTS as usize);
    for i in 1..EVENTS {
        eventlib::log!(Held::new(i)).expect("logged");
    }
    let peak = proc_status_bytes("VmHWM");
    let held = eventlib::stats();
    let held = held.event("bench.Held").expect("registered");
    assert_eq!(
        (held.dropped, held.completed),
        (0, 0),
        "events stayed queued"
    );

    let per_event = peak.saturating_sub(before_eventlib) as f64 / EVENTS as f64;
    let floor_per_event = floor_peak.saturating_sub(before) as f64 / EVENTS as f64;
    report.row("mem-rss", per_event, size_of::<Held>() as f64);
    report.row("mem-rss-floor", per_event, floor_per_event);
    report.note(format!(
        "1,000,000 events queued: VmHWM {:.1} MiB (from VmRSS {:.1} MiB); the floor's VmHWM {:.1} MiB (from {:.1} MiB){}",
        mib(peak),
        mib(before_eventlib),
        mib(floor_peak),
        mib(before),
        if reset { "" } else { "; the peak could not be reset between the two" }
    ));
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Resets VmHWM to the current VmRSS (Linux: `5` into clear_refs).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_freed_memory() {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim has no preconditions.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_freed_memory() {}
