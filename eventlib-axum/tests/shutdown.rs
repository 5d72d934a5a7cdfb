//! Graceful shutdown the axum way, and what the ingestion router answers
//! once eventlib is shut down: `503` with a JSON error, never a `500`, and
//! the server keeps serving its pages.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use eventlib::event;
use eventlib_axum::{Ingest, RequestMetadataLayer};
use serde::{Deserialize, Serialize};

static HANDLED: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Clicked {
    n: u32,
}

#[event(name = "web.Clicked")]
impl Clicked {
    #[handler]
    fn count(&self) {
        std::thread::sleep(Duration::from_millis(5));
        HANDLED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn after_shutdown_ingestion_answers_503_and_pages_still_serve() {
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .merge(Ingest::new().allow(["web.Clicked"]).router().unwrap())
        .layer(RequestMetadataLayer::new());
    let addr = common::serve(app);
    for n in 0..20 {
        let answer = common::post_json(addr, "/events/web.Clicked", &format!(r#"{{"n":{n}}}"#));
        assert_eq!(answer.status, 202, "{answer:?}");
    }
    // What a service does after `with_graceful_shutdown` returns.
    let report = eventlib::shutdown(Duration::from_secs(30));
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        HANDLED.load(Ordering::SeqCst),
        20,
        "shutdown waited for every handler"
    );

    let answer = common::post_json(addr, "/events/web.Clicked", r#"{"n":99}"#);
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("shut down"),
        "{answer:?}"
    );
    assert_eq!(common::request(addr, "GET", "/", &[], b"").status, 200);
}
