//! The other half of `tests/unlinked.rs`: with the crate named, the same
//! event is found and handled. This proves the name `unlinked.rs` asks for
//! is right, so its `UnknownEvent` is about linking and nothing else.

mod common;

use eventlib::{log, Event};
use eventlib_test_unlinked::{Declared, RAN};

#[test]
fn naming_the_crate_links_its_events_and_handlers() {
    assert_eq!(Declared::NAME, common::UNLINKED_EVENT);
    log!("eventlib_test_unlinked.Declared", { "n": 1 }).unwrap();
    eventlib::log_json(common::UNLINKED_EVENT, serde_json::json!({ "n": 2 })).unwrap();
    common::flush();
    assert_eq!(RAN.load(std::sync::atomic::Ordering::SeqCst), 2);
}
