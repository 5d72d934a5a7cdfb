//! `stats()` counts every handler run, whichever thread ran it and
//! whether that thread has ended: inline mode runs handlers on many
//! short-lived threads and on several at once.

use std::sync::atomic::{AtomicU64, Ordering};

use eventlib::{event, log, Dispatcher, Mode};
use serde::{Deserialize, Serialize};

static RUNS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tick {
    fail: bool,
}

#[event(name = "threads.Tick")]
impl Tick {
    #[handler]
    fn count(&self) {
        RUNS.fetch_add(1, Ordering::Relaxed);
    }

    #[handler]
    fn maybe_fail(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.fail, "asked to fail");
        Ok(())
    }

    #[handler]
    fn maybe_panic(&self) {
        assert!(!self.fail, "asked to panic");
    }
}

#[test]
fn handler_runs_on_threads_that_ended_or_ran_at_once_are_all_counted() {
    Dispatcher::builder()
        .mode(Mode::Inline)
        .error_hook(|_| {})
        .install()
        .unwrap();
    // One after the other: each thread ends before the next starts.
    for n in 0..64 {
        std::thread::spawn(move || log!(Tick { fail: n % 4 == 0 }).unwrap())
            .join()
            .unwrap();
    }
    // Eight at once, a hundred events each.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                for n in 0..100 {
                    log!(Tick { fail: n % 4 == 0 }).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }

    let (events, failing) = (64 + 800, 16 + 200);
    assert_eq!(RUNS.load(Ordering::Relaxed), events);
    let stats = eventlib::stats();
    let event = stats.event("threads.Tick").unwrap();
    assert_eq!(
        (event.emitted, event.completed, event.in_flight),
        (events, events, 0)
    );
    assert_eq!(
        (event.handled, event.failed, event.panicked),
        (events + 2 * (events - failing), failing, failing)
    );
    let handler = |name: &str| {
        stats
            .handlers
            .iter()
            .find(|h| h.name.ends_with(name))
            .unwrap_or_else(|| panic!("no handler {name}"))
    };
    let count = handler("::count");
    assert_eq!((count.handled, count.in_flight), (events, 0));
    let failing_one = handler("::maybe_fail");
    assert_eq!(
        (failing_one.handled, failing_one.failed),
        (events - failing, failing)
    );
    let panicking = handler("::maybe_panic");
    assert_eq!(
        (panicking.handled, panicking.panicked),
        (events - failing, failing)
    );
}
