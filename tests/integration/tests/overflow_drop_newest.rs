//! Overflow policy `DropNewest`: with the queue full, `log!`
//! returns `Ok`, the event is dropped, counted and reported to the hook.

mod common;
#[path = "common/held.rs"]
mod held;

use std::sync::Mutex;

use eventlib::{log, EventId, FailureKind, Overflow};
use held::Job;

/// The ids of the events the hook was told were dropped.
static DROPPED: Mutex<Vec<EventId>> = Mutex::new(Vec::new());
static OTHER: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[test]
fn a_full_queue_drops_the_newest_and_says_so() {
    held::small_dispatcher(Overflow::DropNewest)
        .error_hook(|failure| match failure.kind {
            FailureKind::Dropped if failure.event == held::NAME && failure.handler.is_none() => {
                DROPPED.lock().unwrap().push(failure.event_id)
            }
            _ => OTHER.lock().unwrap().push(failure.to_string()),
        })
        .install()
        .unwrap();

    held::fill_the_queue();
    let mut refused = Vec::new();
    for n in 3..8 {
        refused.push(log!(Job { n }).expect("DropNewest never fails the caller"));
    }
    // The hook runs in the caller: it has seen every drop already.
    assert_eq!(*DROPPED.lock().unwrap(), refused);
    assert_eq!(held::counts(), (8, 0, 5, 3));

    held::GATE.open();
    common::flush();
    assert_eq!(held::handled(), 3);
    assert_eq!(held::counts(), (8, 3, 5, 0));

    // With room again, events are accepted again.
    log!(Job { n: 8 }).unwrap();
    common::flush();
    assert_eq!(held::handled(), 4);
    assert_eq!(held::counts(), (9, 4, 5, 0));
    assert_eq!(DROPPED.lock().unwrap().len(), 5);
    assert!(OTHER.lock().unwrap().is_empty(), "{:?}", OTHER.lock());
}
