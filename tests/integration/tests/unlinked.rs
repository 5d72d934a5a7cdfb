//! The linking pitfall. This binary depends on `eventlib-test-unlinked`
//! and `eventlib-test-handlers` (see Cargo.toml) but never names them, so
//! neither is linked: their events and handlers are absent, and the error
//! says how to fix it. `tests/linked.rs` is the same with the link line.

mod common;

use eventlib::{log, Error, HandlerKind};

// Named, hence linked: its events and methods are present.
use eventlib_test_events::OrderPlaced;

#[test]
fn an_event_of_an_unnamed_crate_is_unknown_and_the_error_says_why() {
    let err = log!("eventlib_test_unlinked.Declared", { "n": 1 }).unwrap_err();
    match &err {
        Error::UnknownEvent { name } => assert_eq!(name, common::UNLINKED_EVENT),
        other => panic!("expected UnknownEvent, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("use that_crate as _;"),
        "the message does not tell how to link the crate: {message}"
    );
    assert!(message.contains(common::UNLINKED_EVENT), "{message}");

    let err = eventlib::log_json(common::UNLINKED_EVENT, serde_json::json!({ "n": 1 }));
    assert!(matches!(err, Err(Error::UnknownEvent { .. })), "{err:?}");
    assert!(eventlib::registry().event(common::UNLINKED_EVENT).is_none());
}

#[test]
fn handlers_of_an_unnamed_crate_are_absent() {
    let registry = eventlib::registry();
    let order = registry
        .event("store.OrderPlaced")
        .expect("named, so linked");
    let kinds: Vec<HandlerKind> = order.handlers().map(|h| h.kind()).collect();
    assert_eq!(kinds, [HandlerKind::Method, HandlerKind::Method]);
    let stray: Vec<&str> = registry
        .handlers()
        .map(|h| h.name())
        .filter(|n| {
            n.starts_with("eventlib_test_handlers::") || n.starts_with("eventlib_test_unlinked::")
        })
        .collect();
    assert!(stray.is_empty(), "linked although never named: {stray:?}");

    // The linked crate works as usual.
    log!(OrderPlaced {
        order_id: 1,
        total_cents: 1,
    })
    .unwrap();
    common::flush();
    assert_eq!(
        eventlib::stats()
            .event("store.OrderPlaced")
            .unwrap()
            .handled,
        2
    );
}
