//! A shutdown with stuck handlers gives up after its timeout and reports
//! how many events were left unfinished, running or still queued.

mod common;

use std::time::{Duration, Instant};

use eventlib::{event, log, Dispatcher, Error};
use serde::{Deserialize, Serialize};

static GATE: common::Gate = common::Gate::new();

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stuck {
    n: u32,
}

#[event(name = "sd.Stuck")]
impl Stuck {
    #[handler]
    fn wait_at_the_gate(&self) {
        GATE.pass();
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Quick {
    n: u32,
}

#[event(name = "sd.Quick")]
impl Quick {
    #[handler]
    fn nothing(&self) {}
}

#[test]
fn shutdown_gives_up_after_its_timeout_and_counts_what_it_abandons() {
    Dispatcher::builder().threads(2).install().unwrap();
    for n in 0..10 {
        log!(Quick { n }).unwrap();
    }
    eventlib::flush();
    // Two stuck handlers hold both pool threads; the third event waits in
    // the queue.
    for n in 0..3 {
        log!(Stuck { n }).unwrap();
    }
    GATE.wait_for_arrivals(2);

    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let report = eventlib::shutdown(timeout);
    let took = start.elapsed();
    assert_eq!(report.abandoned, 3);
    assert!(took >= timeout, "gave up after {took:?}");
    assert!(took < timeout + Duration::from_secs(5), "took {took:?}");
    assert!(matches!(log!(Quick { n: 10 }), Err(Error::ShutDown)));
    assert_eq!(GATE.arrived(), 2);

    // Abandoned is not lost: released, the handlers finish what was queued.
    GATE.open();
    assert_eq!(eventlib::flush_timeout(common::DEADLINE).abandoned, 0);
    let stats = eventlib::stats();
    let stuck = stats.event("sd.Stuck").unwrap();
    assert_eq!((stuck.emitted, stuck.completed, stuck.in_flight), (3, 3, 0));
    assert_eq!(stats.event("sd.Quick").unwrap().completed, 10);
}
