//! What the ingestion router answers when eventlib's queue is full, with
//! the default overflow policy (wait up to a second, then drop): `503` with
//! `Retry-After` at once, never a `202` for an event that was not queued;
//! the refusals are counted as dropped, the accepted events are handled
//! once each, and the server keeps serving.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use axum::Router;
use eventlib::{event, Dispatcher};
use eventlib_axum::{Ingest, RequestMetadataLayer};
use serde::{Deserialize, Serialize};

/// Capacity of the queue: a handler thread holds one event, the queue the rest.
const CAPACITY: usize = 4;

static HANDLED: AtomicU32 = AtomicU32::new(0);
/// Whether the handler may finish; it waits for it.
static OPEN: Mutex<bool> = Mutex::new(false);
static OPENED: Condvar = Condvar::new();

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tapped {
    n: u32,
}

#[event(name = "web.Tapped")]
impl Tapped {
    #[handler]
    fn count(&self) {
        let open = OPEN.lock().unwrap();
        drop(OPENED.wait_while(open, |open| !*open).unwrap());
        HANDLED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_full_queue_answers_503_with_retry_after_never_202() {
    Dispatcher::builder()
        .capacity(CAPACITY)
        .threads(1)
        .install()
        .unwrap();
    let app = Router::new()
        .merge(Ingest::new().allow(["web.Tapped"]).router().unwrap())
        .layer(RequestMetadataLayer::new());
    let addr = common::serve(app);

    let (mut accepted, mut refused) = (0, 0);
    for n in 0..(CAPACITY as u32 + 6) {
        let answer = common::post_json(addr, "/events/web.Tapped", &format!(r#"{{"n":{n}}}"#));
        match answer.status {
            202 => accepted += 1,
            503 => {
                refused += 1;
                assert_eq!(answer.header("retry-after"), Some("1"), "{answer:?}");
                let error = answer.json()["error"].as_str().unwrap().to_owned();
                assert!(error.contains("queue is full"), "{error}");
            }
            _ => panic!("unexpected answer: {answer:?}"),
        }
    }
    // The pool thread holds at most one event and the queue CAPACITY more.
    assert!(
        accepted <= CAPACITY as u32 + 1,
        "{accepted} accepted with room for {}",
        CAPACITY + 1
    );
    assert!(refused >= 5, "only {refused} refused");
    let stats = eventlib::stats();
    let tapped = stats.event("web.Tapped").unwrap();
    assert_eq!(
        tapped.dropped, refused as u64,
        "every 503 counted as dropped"
    );

    *OPEN.lock().unwrap() = true;
    OPENED.notify_all();
    let report = eventlib::flush_timeout(Duration::from_secs(30));
    assert_eq!(HANDLED.load(Ordering::SeqCst), accepted, "{report}");

    // The queue has room again: the server took no harm.
    let answer = common::post_json(addr, "/events/web.Tapped", r#"{"n":99}"#);
    assert_eq!(answer.status, 202, "{answer:?}");
    eventlib::flush_timeout(Duration::from_secs(30));
    assert_eq!(HANDLED.load(Ordering::SeqCst), accepted + 1);
}
