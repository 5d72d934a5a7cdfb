//! Isolation: a handler that fails, one that panics and one that panics
//! in async code never stop their sibling nor reach the caller; every
//! failure is counted and reported to the error hook, exactly.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use eventlib::{event, log, Dispatcher, FailureKind};
use serde::{Deserialize, Serialize};

const N: u64 = 10_000;
const PANIC: &str = "isolation: this handler panics on purpose";

static WORKED: AtomicU64 = AtomicU64::new(0);

/// What the error hook saw, per handler and kind.
#[derive(Default, Debug, PartialEq)]
struct Seen {
    errors: u64,
    panics: u64,
    async_panics: u64,
    other: Vec<String>,
}

static SEEN: Mutex<Seen> = Mutex::new(Seen {
    errors: 0,
    panics: 0,
    async_panics: 0,
    other: Vec::new(),
});

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Charge {
    n: u64,
}

#[event(name = "iso.Charge")]
impl Charge {
    #[handler]
    fn fails(&self) -> anyhow::Result<()> {
        anyhow::bail!("charge {} refused", self.n)
    }

    #[handler]
    fn panics(&self) {
        panic!("{PANIC} (sync, charge {})", self.n);
    }

    #[handler]
    async fn panics_async(&self) {
        // After a suspension point: the panic happens in a later poll.
        common::yield_now().await;
        panic!("{PANIC} (async, charge {})", self.n);
    }

    #[handler]
    fn works(&self) {
        WORKED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn failures_are_contained_counted_and_reported() {
    common::quiet_panics(PANIC);
    Dispatcher::builder()
        .error_hook(|failure| {
            let mut seen = SEEN.lock().unwrap();
            let handler = failure.handler.unwrap_or("-");
            match &failure.kind {
                FailureKind::Error(err)
                    if handler.ends_with("::fails") && err.to_string().contains("refused") =>
                {
                    seen.errors += 1
                }
                FailureKind::Panic(msg) if handler.ends_with("::panics") && msg.contains(PANIC) => {
                    seen.panics += 1
                }
                FailureKind::Panic(msg)
                    if handler.ends_with("::panics_async") && msg.contains(PANIC) =>
                {
                    seen.async_panics += 1
                }
                _ => seen.other.push(failure.to_string()),
            }
        })
        .install()
        .unwrap();

    for n in 0..N {
        // The caller never sees a handler's failure.
        if let Err(err) = log!(Charge { n }) {
            panic!("log! #{n} failed: {err}");
        }
    }
    common::flush();

    assert_eq!(WORKED.load(Ordering::SeqCst), N);
    assert_eq!(
        *SEEN.lock().unwrap(),
        Seen {
            errors: N,
            panics: N,
            async_panics: N,
            other: Vec::new(),
        }
    );

    let stats = eventlib::stats();
    let row = |name| stats.handler(name).unwrap();
    assert_eq!(
        (
            row("fails").handled,
            row("fails").failed,
            row("fails").panicked
        ),
        (0, N, 0)
    );
    assert_eq!(
        (
            row("panics").handled,
            row("panics").failed,
            row("panics").panicked
        ),
        (0, 0, N)
    );
    let panics_async = row("panics_async");
    assert_eq!(
        (
            panics_async.handled,
            panics_async.failed,
            panics_async.panicked
        ),
        (0, 0, N)
    );
    assert_eq!(
        (
            row("works").handled,
            row("works").failed,
            row("works").panicked
        ),
        (N, 0, 0)
    );
    for name in ["fails", "panics", "panics_async", "works"] {
        assert_eq!(row(name).in_flight, 0, "{name}");
    }

    let event = stats.event("iso.Charge").unwrap();
    assert_eq!(
        (
            event.emitted,
            event.completed,
            event.dropped,
            event.in_flight
        ),
        (N, N, 0, 0)
    );
    assert_eq!((event.handled, event.failed, event.panicked), (N, N, 2 * N));
}
