//! A handler that blocks holds its siblings back only when every pool
//! thread is busy with a handler: with two pool threads, while the first
//! handler of an event blocks, the other thread starts its siblings, whether
//! it was idle, busy with a stream of other events, or blocked on the queue
//! after a long quiet stretch.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use eventlib::{event, log, try_log, Dispatcher};
use serde::{Deserialize, Serialize};

/// The rounds whose blocking handler may return.
static RELEASED: Mutex<u64> = Mutex::new(0);
static RELEASE: Condvar = Condvar::new();
/// Per round, how many of the two siblings ran.
static SIBLINGS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
static BUSY_RAN: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stalled {
    round: usize,
}

#[event(name = "sibling.Stalled")]
impl Stalled {
    /// Started first: blocks until its round is released (at most 20 s).
    #[handler]
    fn blocks(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut released = RELEASED.lock().unwrap();
        while *released < self.round as u64 && Instant::now() < deadline {
            released = RELEASE
                .wait_timeout(released, Duration::from_millis(50))
                .unwrap()
                .0;
        }
    }

    #[handler]
    fn second(&self) {
        SIBLINGS[self.round].fetch_add(1, Ordering::SeqCst);
    }

    #[handler]
    fn third(&self) {
        SIBLINGS[self.round].fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Busy {
    n: u64,
}

#[event(name = "sibling.Busy")]
impl Busy {
    /// Slower than a `log!`: the queue stays full, the thread never idle.
    #[handler]
    fn counts(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_micros(20) {
            std::hint::spin_loop();
        }
        BUSY_RAN.fetch_add(1, Ordering::Relaxed);
    }
}

/// Logs round `round`'s event and waits for both its siblings to run while
/// its first handler still blocks; then releases it. Returns how many of
/// the two ran within 5 s.
fn siblings_while_the_first_blocks(round: usize) -> u64 {
    log!(Stalled { round }).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while SIBLINGS[round].load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let ran = SIBLINGS[round].load(Ordering::SeqCst);
    *RELEASED.lock().unwrap() = round as u64;
    RELEASE.notify_all();
    ran
}

#[test]
fn a_blocking_handler_does_not_hold_its_siblings_back_while_another_thread_is_free() {
    // A small queue, which the stream of other events keeps full.
    Dispatcher::builder()
        .threads(2)
        .capacity(256)
        .install()
        .unwrap();

    // 1. The other thread is idle (awake).
    log!(Busy { n: 0 }).unwrap();
    eventlib::flush();
    assert_eq!(siblings_while_the_first_blocks(1), 2, "other thread idle");

    // 2. The other thread is busy with a stream of other events.
    let stop = AtomicBool::new(false);
    let refused = AtomicU64::new(0);
    let ran = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                // A full queue only refuses: the stream goes on.
                if try_log(Busy { n }).is_err() {
                    refused.fetch_add(1, Ordering::Relaxed);
                    std::thread::yield_now();
                }
                n += 1;
            }
        });
        // Busy before the blocked event comes.
        let ran = BUSY_RAN.load(Ordering::Relaxed);
        while BUSY_RAN.load(Ordering::Relaxed) < ran + 2_000 {
            std::thread::yield_now();
        }
        let ran = siblings_while_the_first_blocks(2);
        stop.store(true, Ordering::Relaxed);
        ran
    });
    assert_eq!(ran, 2, "other thread busy with other events");
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "the queue never filled: the other thread was not kept busy"
    );
    eventlib::flush();

    // 3. Both threads blocked on the queue after a long quiet stretch.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        siblings_while_the_first_blocks(3),
        2,
        "other thread blocked on the queue"
    );

    // The stream's refusals are counted as dropped; nothing failed.
    let report = eventlib::flush();
    assert_eq!((report.failed, report.panicked), (0, 0), "{report:?}");
    assert_eq!(
        eventlib::stats().handler("blocks").map(|row| row.handled),
        Some(3)
    );
}
