//! Scenario 3: inline mode (handlers run in the caller) against calling
//! the three handler functions directly.

use std::hint::black_box;

use eventlib::{Dispatcher, Mode};

use crate::events::Viewed;
use crate::harness::{loop_ns, paired, Report};

/// Calls per round.
const CALLS: u64 = 100_000;

pub(crate) fn run(rounds: usize, report: &mut Report) {
    Dispatcher::builder()
        .mode(Mode::Inline)
        .install()
        .expect("the first dispatcher of this process");
    let (inline_ns, direct_ns) = paired(
        rounds,
        || {
            loop_ns(CALLS, |i| {
                let _ = black_box(eventlib::log!(Viewed::new(i)));
            })
        },
        || loop_ns(CALLS, direct),
    );
    assert_eq!(
        eventlib::stats().event("bench.Viewed").map(|e| e.handled),
        Some((rounds as u64 + 1) * CALLS * 3),
        "inline mode ran every handler"
    );
    report.row("inline", inline_ns, direct_ns);
    report.note(format!("{CALLS} calls per round on one thread"));
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
