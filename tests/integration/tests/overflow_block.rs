//! Overflow policy `Block`: with the queue full, `log!` waits for room,
//! that is until the held handler is released; nothing is dropped.

mod common;
#[path = "common/held.rs"]
mod held;

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use eventlib::{log, Overflow};
use held::Job;

/// What happened, in the order it happened.
static STEPS: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[test]
fn a_full_queue_blocks_the_caller_until_there_is_room() {
    held::small_dispatcher(Overflow::Block).install().unwrap();
    held::fill_the_queue();

    let (done_tx, done_rx) = mpsc::channel();
    let caller = std::thread::spawn(move || {
        let result = log!(Job { n: 3 });
        STEPS.lock().unwrap().push("log! returned");
        done_tx.send(result.is_ok()).unwrap();
    });
    // Emitted is counted before the event is queued: the caller is in log!.
    common::wait_until("the fourth log! is under way", || held::counts().0 == 4);
    // A negative check needs a window: log! must not return within it.
    assert_eq!(
        done_rx.recv_timeout(Duration::from_millis(200)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "log! returned while the queue was full"
    );
    assert_eq!(held::handled(), 0);

    STEPS.lock().unwrap().push("gate opened");
    held::GATE.open();
    assert_eq!(done_rx.recv_timeout(common::DEADLINE), Ok(true));
    caller.join().unwrap();
    // The caller returned only after the handler was released: the gate
    // opening is what made room in the queue.
    assert_eq!(*STEPS.lock().unwrap(), ["gate opened", "log! returned"]);

    common::flush();
    assert_eq!(held::handled(), 4);
    assert_eq!(held::counts(), (4, 4, 0, 0));
}
