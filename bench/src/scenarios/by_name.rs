//! Scenario 4: `log!` by name with JSON-like data (async mode, three
//! trivial handlers) against what a caller does without it: build the
//! same `json!` value, `serde_json::from_value` into the event type and
//! log that with a typed `log!`. The floor without the typed `log!` is an
//! info row. Bursts as in scenario 1.

use std::hint::black_box;

use serde_json::json;

use crate::events::Named;
use crate::harness::{bursts_ns, paired, Report, BURST};

/// Bursts per round.
const BURSTS: usize = 8;

pub(crate) fn run(rounds: usize, report: &mut Report) {
    let log = |i: u64| {
        let _ = black_box(eventlib::log!("bench.Name", { "a": i, "b": 2, "s": "x" }));
    };
    let typed = |i: u64| {
        let value = json!({ "a": i, "b": 2, "s": "x" });
        let event: Named = serde_json::from_value(value).expect("the data fits");
        let _ = black_box(eventlib::log!(event));
    };
    let floor = |i: u64| {
        let value = json!({ "a": i, "b": 2, "s": "x" });
        let event: Named = serde_json::from_value(value).expect("the data fits");
        black_box(event);
    };
    let drained = || {
        eventlib::flush();
    };
    let by_name = || bursts_ns(1, BURSTS, &log, &drained);
    let (log_ns, typed_ns) = paired(rounds, by_name, || bursts_ns(1, BURSTS, &typed, &drained));
    let (_, floor_ns) = paired(rounds, by_name, || bursts_ns(1, BURSTS, &floor, &|| ()));
    let stats = eventlib::stats();
    let named = stats.event("bench.Name").expect("registered");
    assert_eq!((named.dropped, named.failed), (0, 0));
    report.row("by-name", log_ns, typed_ns);
    report.row("by-name-json", log_ns, floor_ns);
    report.note(format!(
        "one producer, bursts of {BURST}, queue drained between bursts; the baselines build the json! value in the loop as log! does"
    ));
}

/// For profilers: `iterations` by-name `log!` calls in bursts.
pub(crate) fn profile(iterations: u64) {
    eventlib::log!("bench.Name", { "a": 0, "b": 2, "s": "x" }).expect("warm-up");
    eventlib::flush();
    let mut done = 0;
    while done < iterations {
        let n = (iterations - done).min(BURST as u64);
        log_burst(done, n);
        eventlib::flush();
        done += n;
    }
}

/// For profilers: the floor's `iterations` json! + from_value.
pub(crate) fn profile_floor(iterations: u64) {
    floor_loop(iterations);
}

#[inline(never)]
fn floor_loop(iterations: u64) {
    for i in 0..iterations {
        let value = json!({ "a": i, "b": 2, "s": "x" });
        let event: Named = serde_json::from_value(value).expect("the data fits");
        black_box(event);
    }
}

#[inline(never)]
fn log_burst(base: u64, n: u64) {
    for i in base..base + n {
        let _ = black_box(eventlib::log!("bench.Name", { "a": i, "b": 2, "s": "x" }));
    }
}
