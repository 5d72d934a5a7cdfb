//! Scenario 5: does the caller's cost grow with the registry? Logs
//! round-robin over 10 or over 1,000 event types (all 2,000 generated
//! types are linked either way), with 1 or 16 handlers per event.
//! Bursts as in scenario 1.

use std::hint::black_box;

use eventlib::{handler, Record};

use crate::harness::{bursts_cpu_ns, bursts_ns, paired, Report, BURST};

/// Declares event types with one trivial handler each, and `LOG`: one
/// function per type that logs it.
macro_rules! declare_events {
    ($($ty:ident $name:tt,)*) => {
        $(
            #[derive(Debug, Clone, ::serde::Serialize, ::serde::Deserialize)]
            #[serde(transparent)] // forwards to u64: 2,000 small derives build fast
            pub(crate) struct $ty {
                n: u64,
            }

            #[::eventlib::event(name = $name)]
            impl $ty {
                #[::eventlib::handler]
                fn handle(&self) {
                    ::std::hint::black_box(self.n);
                }
            }

            impl $ty {
                fn log(n: u64) {
                    let _ = ::std::hint::black_box(::eventlib::log!($ty { n }));
                }
            }
        )*

        /// Logs event type `i` of this group.
        pub(crate) static LOG: &[fn(u64)] = &[$($ty::log),*];
    };
}
pub(crate) use declare_events;

include!(concat!(env!("OUT_DIR"), "/registry_events.rs"));

/// Fifteen wildcard handlers: with its own method, every `bench.s16.*`
/// event has sixteen handlers.
macro_rules! wildcards {
    ($($name:ident)*) => {
        $(
            #[handler("bench.s16.*")]
            fn $name(record: &Record) {
                black_box(record.id());
            }
        )*
    };
}
wildcards!(w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15);

/// Bursts per round.
const BURSTS: usize = 8;

/// How bursts are timed: [`bursts_ns`] (wall time) or [`bursts_cpu_ns`]
/// (the producer's own CPU time).
type Timing = fn(usize, usize, &(dyn Fn(u64) + Sync), &dyn Fn()) -> f64;

/// Caller cost of logging round-robin over the first `types` events of
/// `group`, timed by `timing`.
fn measure(timing: Timing, group: &'static [fn(u64)], types: usize) -> f64 {
    let call = move |i: u64| group[i as usize % types](i);
    timing(1, BURSTS, &call, &|| {
        eventlib::flush();
    })
}

/// For profilers: `iterations` calls round-robin over `types` event types
/// of the one-handler group, in bursts.
pub(crate) fn profile(types: usize, iterations: u64) {
    for log in s1::LOG {
        log(0);
    }
    eventlib::flush();
    let mut done = 0;
    while done < iterations {
        let n = (iterations - done).min(BURST as u64);
        log_burst(types, done, n);
        eventlib::flush();
        done += n;
    }
}

#[inline(never)]
fn log_burst(types: usize, base: u64, n: u64) {
    for i in base..base + n {
        s1::LOG[i as usize % types](i);
    }
}

/// Which comparison a sub-process runs.
pub(crate) enum Compare {
    /// 1,000 against 10 event types, each with one handler.
    Events1,
    /// 1,000 against 10 event types, each with sixteen handlers.
    Events16,
    /// [`Compare::Events16`] by the producer's own CPU time.
    Events16Cpu,
    /// Sixteen handlers against one, over 10 event types.
    Handlers,
}

pub(crate) fn run(compare: Compare, rounds: usize, report: &mut Report) {
    assert_eq!(s1::LOG.len(), 1_000);
    assert_eq!(
        eventlib::registry()
            .event("bench.s16.E0")
            .map(|e| e.handlers().count()),
        Some(16)
    );
    // Every type once, so that each caches its registry index first.
    for i in 0..1_000 {
        s1::LOG[i](0);
        s16::LOG[i](0);
    }
    eventlib::flush();
    let (id, (a, b)) = match compare {
        Compare::Events1 => (
            "registry-1h",
            paired(
                rounds,
                || measure(bursts_ns, s1::LOG, 1_000),
                || measure(bursts_ns, s1::LOG, 10),
            ),
        ),
        Compare::Events16 => (
            "registry-16h",
            paired(
                rounds,
                || measure(bursts_ns, s16::LOG, 1_000),
                || measure(bursts_ns, s16::LOG, 10),
            ),
        ),
        Compare::Events16Cpu => (
            "registry-16h-cpu",
            paired(
                rounds,
                || measure(bursts_cpu_ns, s16::LOG, 1_000),
                || measure(bursts_cpu_ns, s16::LOG, 10),
            ),
        ),
        Compare::Handlers => (
            "handlers",
            paired(
                rounds,
                || measure(bursts_ns, s16::LOG, 10),
                || measure(bursts_ns, s1::LOG, 10),
            ),
        ),
    };
    assert_eq!(eventlib::stats().total().dropped, 0);
    report.row(id, a, b);
    report.note(format!(
        "{} event types linked, one producer, bursts of {BURST}, queue drained between bursts",
        eventlib::registry().events().count()
    ));
}
