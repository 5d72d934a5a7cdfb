//! Request metadata travels with events: set in a scope or on a future,
//! read by sync and async handlers on the built-in pool, in inline mode,
//! in a capture, through by-name logging; limits are errors.

mod common;
#[path = "common/meta.rs"]
mod meta;

use eventlib::metadata::{self, FutureExt as _, Metadata};
use eventlib::{log, testing, Error};
use meta::{assert_seen, Seen};

const REQUEST: [(&str, &str); 2] = [("request_id", "req-1"), ("client_ip", "203.0.113.7")];

#[test]
fn the_pool_runs_handlers_with_the_metadata_of_the_log_call() {
    metadata::scope(REQUEST, || log!(Seen { n: 1 }).unwrap()).unwrap();
    // Out of the scope again: nothing.
    log!(Seen { n: 2 }).unwrap();
    common::flush();
    let seen = assert_seen(1, Some("req-1"), Some("203.0.113.7"));
    assert!(
        seen.iter().all(|s| s.thread.starts_with("eventlib-pool")),
        "{seen:?}"
    );
    assert_seen(2, None, None);
}

#[test]
fn by_name_logging_carries_it_too() {
    metadata::scope(REQUEST, || {
        log!("tests.meta.Seen", { "n": 3 }).unwrap();
        eventlib::log_json("tests.meta.Seen", serde_json::json!({ "n": 4 })).unwrap();
    })
    .unwrap();
    common::flush();
    assert_seen(3, Some("req-1"), Some("203.0.113.7"));
    assert_seen(4, Some("req-1"), Some("203.0.113.7"));
}

#[test]
fn a_future_carries_its_metadata_to_the_thread_that_polls_it() {
    let request = Metadata::new().with("request_id", "req-5").unwrap();
    let task = async { log!(Seen { n: 5 }).unwrap() }.with_metadata(request);
    std::thread::spawn(move || futures::executor::block_on(task))
        .join()
        .unwrap();
    // A task spawned from a scope takes the scope's metadata along.
    let task = metadata::scope([("request_id", "req-6")], || {
        async { log!(Seen { n: 6 }).unwrap() }.with_current_metadata()
    })
    .unwrap();
    std::thread::spawn(move || futures::executor::block_on(task))
        .join()
        .unwrap();
    common::flush();
    assert_seen(5, Some("req-5"), None);
    assert_seen(6, Some("req-6"), None);
}

#[test]
fn inline_scopes_and_captures_keep_it() {
    {
        let _inline = testing::inline();
        metadata::scope(REQUEST, || log!(Seen { n: 7 }).unwrap()).unwrap();
        // Inline: the handlers ran in the caller, before log! returned.
        let seen = assert_seen(7, Some("req-1"), Some("203.0.113.7"));
        let here = common::thread_name();
        assert!(seen.iter().all(|s| s.thread == here), "{seen:?}");
    }
    let cap = testing::capture();
    metadata::scope([("request_id", "req-8")], || log!(Seen { n: 8 }).unwrap()).unwrap();
    let records = cap.records();
    assert_eq!(records[0].metadata().get("request_id"), Some("req-8"));
    assert_eq!(records[0].context().metadata().len(), 1);
}

#[test]
fn nested_scopes_override_by_key() {
    let cap = testing::capture();
    metadata::scope(REQUEST, || {
        metadata::scope([("client_ip", "198.51.100.1"), ("user", "u-9")], || {
            log!(Seen { n: 9 }).unwrap()
        })
        .unwrap()
    })
    .unwrap();
    let md = cap.records()[0].metadata().clone();
    let entries: Vec<_> = md.iter().collect();
    assert_eq!(
        entries,
        [
            ("request_id", "req-1"),
            ("client_ip", "198.51.100.1"),
            ("user", "u-9")
        ]
    );
}

#[test]
fn oversize_metadata_is_refused_with_a_clear_error() {
    let many: Vec<(String, String)> = (0..=metadata::MAX_ENTRIES)
        .map(|i| (format!("key{i}"), "v".to_owned()))
        .collect();
    let err = metadata::scope(many, || unreachable!("not run past a limit")).unwrap_err();
    assert!(matches!(err, Error::InvalidMetadata { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("33 entries, more than the 32 allowed"),
        "{err}"
    );

    let big = "x".repeat(metadata::MAX_BYTES);
    let err = Metadata::new().with("blob", &big).unwrap_err().to_string();
    assert!(
        err.contains("bytes of keys and values, more than the 4096 allowed"),
        "{err}"
    );
    let err = Metadata::new()
        .with("has space", "v")
        .unwrap_err()
        .to_string();
    assert!(err.contains("key `has space`"), "{err}");
}
