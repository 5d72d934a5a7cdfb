//! Overflow policy `Error`: with the queue full, `log!` returns
//! `Error::QueueFull` and the event is counted as dropped.

mod common;
#[path = "common/held.rs"]
mod held;

use std::sync::Mutex;

use eventlib::{log, Error, Overflow};
use held::Job;

static HOOK: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[test]
fn a_full_queue_refuses_with_queue_full() {
    held::small_dispatcher(Overflow::Error)
        .error_hook(|failure| HOOK.lock().unwrap().push(failure.to_string()))
        .install()
        .unwrap();

    held::fill_the_queue();
    for n in 3..8 {
        match log!(Job { n }) {
            Err(Error::QueueFull { event }) => assert_eq!(event, held::NAME),
            other => panic!("job {n}: expected QueueFull, got {other:?}"),
        }
    }
    let message = log!(Job { n: 8 }).unwrap_err().to_string();
    assert!(message.contains("queue is full"), "{message}");
    assert!(
        message.contains("capacity"),
        "the message names no remedy: {message}"
    );
    assert_eq!(held::counts(), (9, 0, 6, 3));
    // The caller was told; the hook is not told again.
    assert!(HOOK.lock().unwrap().is_empty(), "{:?}", HOOK.lock());

    held::GATE.open();
    common::flush();
    assert_eq!(held::handled(), 3);
    assert_eq!(held::counts(), (9, 3, 6, 0));

    log!(Job { n: 9 }).unwrap();
    common::flush();
    assert_eq!(held::handled(), 4);
    assert_eq!(held::counts(), (10, 4, 6, 0));
}
