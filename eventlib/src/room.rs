//! Waiting for room in a full queue without blocking a thread: the tasks
//! of [`log_async`](crate::log_async) that found the queue full register
//! their waker here, and one thread (started at the first such wait, idle
//! while nobody waits) wakes them every millisecond to look again.

use std::sync::{Condvar, Mutex, Once};
use std::task::Waker;
use std::time::Duration;

/// How often waiting tasks look at the queue again.
const LOOK_EVERY: Duration = Duration::from_millis(1);

struct Waiting {
    wakers: Mutex<Vec<Waker>>,
    someone: Condvar,
}

static WAITING: Waiting = Waiting {
    wakers: Mutex::new(Vec::new()),
    someone: Condvar::new(),
};

/// Wakes `waker` once the next look is due.
pub(crate) fn wake_soon(waker: &Waker) {
    start();
    let mut wakers = WAITING.wakers.lock().unwrap_or_else(|e| e.into_inner());
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
    WAITING.someone.notify_one();
}

fn start() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("eventlib-room".into())
            .spawn(look);
        // Without the thread, waiters are woken at once and look again
        // themselves: busier, never stuck.
        if spawned.is_err() {
            IMMEDIATE.call_once(|| {});
        }
    });
}

static IMMEDIATE: Once = Once::new();

fn look() {
    loop {
        let wakers = {
            let mut wakers = WAITING.wakers.lock().unwrap_or_else(|e| e.into_inner());
            while wakers.is_empty() {
                wakers = WAITING
                    .someone
                    .wait(wakers)
                    .unwrap_or_else(|e| e.into_inner());
            }
            std::mem::take(&mut *wakers)
        };
        std::thread::sleep(LOOK_EVERY);
        for waker in wakers {
            waker.wake();
        }
    }
}

/// Whether waiters must wake themselves (the thread could not start).
pub(crate) fn wake_at_once() -> bool {
    IMMEDIATE.is_completed()
}
