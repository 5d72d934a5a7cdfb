//! What several test binaries share: a gate that holds handlers until the
//! test lets them go, bounded waits, and small futures.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The upper bound of every wait: reached only when something is broken.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A gate handlers wait at until the test opens it. It counts arrivals,
/// so a test knows when a handler is inside (and holding its thread).
pub struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

struct GateState {
    arrived: usize,
    open: bool,
}

impl Gate {
    /// A closed gate.
    pub const fn new() -> Self {
        Gate {
            state: Mutex::new(GateState {
                arrived: 0,
                open: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Arrives and waits until the gate is open (at most [`DEADLINE`]).
    pub fn pass(&self) {
        let mut state = self.state.lock().unwrap();
        state.arrived += 1;
        self.changed.notify_all();
        let (state, timeout) = self
            .changed
            .wait_timeout_while(state, DEADLINE, |s| !s.open)
            .unwrap();
        drop(state);
        assert!(!timeout.timed_out(), "the test never opened the gate");
    }

    /// Waits until `n` handlers have arrived; panics after [`DEADLINE`].
    pub fn wait_for_arrivals(&self, n: usize) {
        let state = self.state.lock().unwrap();
        let (state, timeout) = self
            .changed
            .wait_timeout_while(state, DEADLINE, |s| s.arrived < n)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "only {} of {n} handlers reached the gate",
            state.arrived
        );
    }

    /// How many handlers have arrived so far.
    pub fn arrived(&self) -> usize {
        self.state.lock().unwrap().arrived
    }

    /// Lets every waiting and future handler through.
    pub fn open(&self) {
        self.state.lock().unwrap().open = true;
        self.changed.notify_all();
    }
}

/// Polls `condition` until it holds; panics after [`DEADLINE`]. For state
/// that offers nothing to wait on (such as `eventlib::stats()`).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        std::thread::yield_now();
    }
}

/// Silences the panic messages of panics whose message contains `marker`
/// (tests that panic on purpose thousands of times); others print as usual.
pub fn quiet_panics(marker: &'static str) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("");
        if !message.contains(marker) {
            default(info);
        }
    }));
}

/// A future that is pending once and wakes itself: a handler that awaits
/// it goes back to its executor and must be polled again.
pub fn yield_now() -> impl Future<Output = ()> {
    YieldNow(false)
}

struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A future that is pending until another thread wakes it: the executor
/// must handle a wake-up from a thread it does not own.
pub fn woken_by_another_thread() -> impl Future<Output = ()> {
    WokenByThread(false)
}

struct WokenByThread(bool);

impl Future for WokenByThread {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        let waker = cx.waker().clone();
        std::thread::spawn(move || waker.wake());
        Poll::Pending
    }
}

/// The current thread's name.
pub fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned()
}

/// The event declared only in `eventlib-test-unlinked`.
pub const UNLINKED_EVENT: &str = "eventlib_test_unlinked.Declared";

/// `eventlib::flush()` with [`DEADLINE`] as an upper bound: a handler that
/// never finishes fails the test instead of hanging it.
pub fn flush() {
    assert!(
        eventlib::flush_timeout(DEADLINE).abandoned == 0,
        "handlers still running after {DEADLINE:?}:\n{}",
        eventlib::stats()
    );
}
