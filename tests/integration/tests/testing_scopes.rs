//! `eventlib::testing`: a capture records what this thread logs without
//! running handlers; an inline scope runs them in the caller and returns
//! their failures. Both are per thread, so parallel tests never mix.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use eventlib::{event, log, testing, Error, FailureKind};
use serde::{Deserialize, Serialize};

const PANIC: &str = "testing_scopes: panics on purpose";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Captured {
    n: u32,
}

static CAPTURED_HANDLED: AtomicUsize = AtomicUsize::new(0);

#[event(name = "scopes.Captured")]
impl Captured {
    #[handler]
    fn count(&self) {
        CAPTURED_HANDLED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn capture_records_without_running_handlers() {
    let cap = testing::capture();
    for n in 0..3 {
        log!(Captured { n }).unwrap();
    }
    log!("scopes.Captured", { "n": 3 }).unwrap();
    assert_eq!(
        cap.events::<Captured>(),
        (0..4).map(|n| Captured { n }).collect::<Vec<_>>()
    );
    assert_eq!(cap.names(), ["scopes.Captured"; 4]);
    common::flush();
    assert_eq!(CAPTURED_HANDLED.load(Ordering::SeqCst), 0);

    // Another thread's events are not this capture's: they are handled.
    std::thread::spawn(|| log!(Captured { n: 100 }).unwrap())
        .join()
        .unwrap();
    common::flush();
    assert_eq!(CAPTURED_HANDLED.load(Ordering::SeqCst), 1);
    assert_eq!(cap.len(), 4);

    cap.clear();
    assert!(cap.is_empty());
    drop(cap);
    // Once the capture ends, events go to the dispatcher again.
    log!(Captured { n: 4 }).unwrap();
    common::flush();
    assert_eq!(CAPTURED_HANDLED.load(Ordering::SeqCst), 2);
    // Captured events never went to the dispatcher: none is left in flight.
    let stats = eventlib::stats();
    let captured = stats.event("scopes.Captured").unwrap();
    assert_eq!(
        (captured.completed, captured.in_flight),
        (2, 0),
        "\n{stats}"
    );
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Inlined {
    fail: bool,
    panic: bool,
}

static INLINE_RAN: Mutex<Vec<(&str, std::thread::ThreadId)>> = Mutex::new(Vec::new());

#[event(name = "scopes.Inlined")]
impl Inlined {
    #[handler]
    fn may_fail(&self) -> anyhow::Result<()> {
        INLINE_RAN
            .lock()
            .unwrap()
            .push(("may_fail", std::thread::current().id()));
        anyhow::ensure!(!self.fail, "asked to fail");
        Ok(())
    }

    #[handler]
    async fn may_panic(&self) {
        common::yield_now().await;
        INLINE_RAN
            .lock()
            .unwrap()
            .push(("may_panic", std::thread::current().id()));
        assert!(!self.panic, "{PANIC}");
    }

    #[handler]
    fn always_runs(&self) {
        INLINE_RAN
            .lock()
            .unwrap()
            .push(("always_runs", std::thread::current().id()));
    }
}

#[test]
fn inline_runs_handlers_in_the_caller_and_returns_their_failures() {
    common::quiet_panics(PANIC);
    let me = std::thread::current().id();
    let _inline = testing::inline();

    log!(Inlined {
        fail: false,
        panic: false,
    })
    .unwrap();
    // Already run, in this thread, in order: no flush needed.
    assert_eq!(
        *INLINE_RAN.lock().unwrap(),
        [("may_fail", me), ("may_panic", me), ("always_runs", me)]
    );

    let err = log!(Inlined {
        fail: true,
        panic: true,
    })
    .unwrap_err();
    let Error::Handlers(failures) = &err else {
        panic!("expected Error::Handlers, got {err:?}");
    };
    assert_eq!(failures.len(), 2, "{err}");
    assert!(failures[0].handler.unwrap().ends_with("::may_fail"));
    assert!(
        matches!(&failures[0].kind, FailureKind::Error(e) if e.to_string() == "asked to fail"),
        "{err}"
    );
    assert!(failures[1].handler.unwrap().ends_with("::may_panic"));
    assert!(
        matches!(&failures[1].kind, FailureKind::Panic(m) if m.contains(PANIC)),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("2 handler(s) failed: "),
        "{err}"
    );
    // The sibling after the failures ran all the same.
    assert_eq!(INLINE_RAN.lock().unwrap().len(), 6);
    assert_eq!(INLINE_RAN.lock().unwrap()[5], ("always_runs", me));
    let stats = eventlib::stats();
    let inlined = stats.event("scopes.Inlined").unwrap();
    assert_eq!(
        (inlined.emitted, inlined.completed, inlined.in_flight),
        (2, 2, 0)
    );
    assert_eq!(
        (inlined.handled, inlined.failed, inlined.panicked),
        (4, 1, 1)
    );
}

/// Events the two parallel tests log; each tags its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tagged {
    tag: String,
    n: u32,
}

#[event(name = "scopes.Tagged")]
impl Tagged {}

const PER_TEST: u32 = 500;

/// Makes the two tests below overlap when the harness runs them in
/// parallel (its default). Run one at a time (`--test-threads=1`), each
/// waits for its peer in vain, goes on alone after a while and still
/// checks its own capture.
static MEETING: Mutex<usize> = Mutex::new(0);

fn meet_the_other_test() {
    *MEETING.lock().unwrap() += 1;
    let start = Instant::now();
    while *MEETING.lock().unwrap() < 2 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn log_tagged_and_check(tag: &str) {
    let cap = testing::capture();
    meet_the_other_test();
    for n in 0..PER_TEST {
        log!(Tagged { tag: tag.into(), n }).unwrap();
    }
    let mine = cap.events::<Tagged>();
    assert_eq!(mine.len(), PER_TEST as usize);
    assert!(
        mine.iter().all(|e| e.tag == tag),
        "another test's events leaked in"
    );
    assert!(mine.iter().map(|e| e.n).eq(0..PER_TEST));
}

#[test]
fn parallel_test_one_sees_only_its_events() {
    log_tagged_and_check("one");
}

#[test]
fn parallel_test_two_sees_only_its_events() {
    log_tagged_and_check("two");
}

/// The same, with the overlap forced by a barrier rather than left to the
/// test harness.
#[test]
fn concurrent_captures_on_two_threads_do_not_mix() {
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = ["left", "right"]
        .into_iter()
        .map(|tag| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let cap = testing::capture();
                barrier.wait();
                for n in 0..PER_TEST {
                    log!(Tagged { tag: tag.into(), n }).unwrap();
                }
                cap.events::<Tagged>()
            })
        })
        .collect();
    for (tag, thread) in ["left", "right"].into_iter().zip(threads) {
        let events = thread.join().unwrap();
        assert_eq!(events.len(), PER_TEST as usize, "{tag}");
        assert!(events.iter().all(|e| e.tag == tag), "{tag}");
    }
}
