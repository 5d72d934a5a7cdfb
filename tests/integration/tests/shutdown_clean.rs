//! A clean shutdown: everything logged before it is handled, nothing is
//! abandoned, and `log!` afterwards is refused with `Error::ShutDown`.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use eventlib::{event, log, Dispatcher, Error, Overflow};
use serde::{Deserialize, Serialize};

const N: u64 = 100_000;

static SYNC: AtomicU64 = AtomicU64::new(0);
static ASYNC: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Visit {
    n: u64,
}

#[event(name = "sd.Visit")]
impl Visit {
    #[handler]
    fn count(&self) {
        SYNC.fetch_add(1, Ordering::Relaxed);
    }

    #[handler]
    async fn count_async(&self) {
        ASYNC.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn shutdown_waits_for_everything_then_refuses_new_events() {
    // Block rather than drop: the producer outruns the handlers here, and
    // this test is about losing nothing.
    Dispatcher::builder()
        .overflow(Overflow::Block)
        .install()
        .unwrap();
    for n in 0..N {
        log!(Visit { n }).unwrap();
    }
    let report = eventlib::shutdown(std::time::Duration::from_secs(60));
    assert_eq!(report.abandoned, 0);
    assert_eq!(SYNC.load(Ordering::SeqCst), N);
    assert_eq!(ASYNC.load(Ordering::SeqCst), N);

    assert!(matches!(log!(Visit { n: N }), Err(Error::ShutDown)));
    assert!(matches!(
        log!("sd.Visit", { "n": N + 1 }),
        Err(Error::ShutDown)
    ));
    let stats = eventlib::stats();
    let visit = stats.event("sd.Visit").unwrap();
    // Refused events are not counted as emitted.
    assert_eq!(
        (
            visit.emitted,
            visit.completed,
            visit.dropped,
            visit.in_flight
        ),
        (N, N, 0, 0)
    );
    assert_eq!((visit.handled, visit.failed, visit.panicked), (2 * N, 0, 0));
    common::flush();
    assert_eq!(SYNC.load(Ordering::SeqCst), N);
}
