//! The defaults keep a burst: 200,000 events from 4 threads into handlers
//! slower than the producers, with no configuration at all, lose nothing;
//! the callers are slowed instead, and no single `log!` waits longer than
//! the default policy's bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventlib::{event, log, Overflow};
use serde::{Deserialize, Serialize};

const THREADS: u64 = 4;
const PER_THREAD: u64 = 50_000;

static HANDLED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Click {
    n: u64,
}

#[event(name = "burst.Click")]
impl Click {
    /// About 5 µs of work: slower than a `log!`.
    #[handler]
    fn count(&self) {
        let until = Instant::now() + Duration::from_micros(5);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        HANDLED.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_burst_with_the_defaults_loses_nothing() {
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut slowest = Duration::ZERO;
                for n in 0..PER_THREAD {
                    let start = Instant::now();
                    log!(Click {
                        n: t * PER_THREAD + n
                    })
                    .unwrap();
                    slowest = slowest.max(start.elapsed());
                }
                slowest
            })
        })
        .collect();
    let slowest = producers
        .into_iter()
        .map(|p| p.join().unwrap())
        .max()
        .unwrap();

    let report = eventlib::shutdown(Duration::from_secs(120));
    let total = THREADS * PER_THREAD;
    assert_eq!(report.dropped, 0, "{report}");
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        (report.emitted, report.completed),
        (total, total),
        "{report}"
    );
    assert_eq!(HANDLED.load(Ordering::Relaxed), total);
    // The bound of the default policy (plus scheduling slack on a loaded
    // machine): a caller is slowed, never held indefinitely.
    let Overflow::Wait(bound) = Overflow::DEFAULT else {
        panic!("the default policy waits for room");
    };
    assert!(
        slowest < bound + Duration::from_secs(1),
        "a log! waited {slowest:?}"
    );
}
