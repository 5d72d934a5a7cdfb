//! `try_log_json` never waits for room: with the queue full under the
//! `Block` policy (where `log!` would wait), it returns `QueueFull` at once
//! and counts the event as dropped; once there is room it queues again.

mod common;
#[path = "common/held.rs"]
mod held;

use eventlib::{Error, Overflow};
use serde_json::json;

#[test]
fn a_full_queue_refuses_try_log_json_at_once_whatever_the_policy() {
    held::small_dispatcher(Overflow::Block).install().unwrap();
    held::fill_the_queue();

    let refused = eventlib::try_log_json(held::NAME, json!({ "n": 3 }));
    assert!(
        matches!(refused, Err(Error::QueueFull { event: held::NAME })),
        "{refused:?}"
    );
    assert_eq!(
        held::counts(),
        (4, 0, 1, 3),
        "refused and counted as dropped"
    );

    held::GATE.open();
    common::flush();
    assert_eq!(held::handled(), 3);
    let id = eventlib::try_log_json(held::NAME, json!({ "n": 4 })).expect("room again");
    common::flush();
    assert_eq!(held::handled(), 4, "{id} handled");
    assert_eq!(held::counts(), (5, 4, 1, 0));
}
