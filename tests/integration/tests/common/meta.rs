//! An event whose handlers note the request metadata they see: a sync and
//! an async handler, for the metadata test binaries.

use std::sync::Mutex;

use eventlib::{event, Context};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seen {
    pub n: u32,
}

/// What one handler saw: which handler, the event's `n`, the request id
/// and client IP in its metadata, and the thread it ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub handler: &'static str,
    pub n: u32,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub thread: String,
}

static SIGHTINGS: Mutex<Vec<Sighting>> = Mutex::new(Vec::new());

fn note(handler: &'static str, n: u32, ctx: &Context) {
    let metadata = ctx.metadata();
    SIGHTINGS.lock().unwrap().push(Sighting {
        handler,
        n,
        request_id: metadata.get("request_id").map(str::to_owned),
        client_ip: metadata.get("client_ip").map(str::to_owned),
        thread: std::thread::current().name().unwrap_or("?").to_owned(),
    });
}

#[event(name = "tests.meta.Seen")]
impl Seen {
    #[handler]
    fn sync_seen(&self, ctx: &Context) {
        note("sync", self.n, ctx);
    }

    #[handler]
    async fn async_seen(&self, ctx: &Context) {
        // Suspends once, so the handler resumes in a later poll.
        super::common::yield_now().await;
        note("async", self.n, ctx);
    }
}

/// What the handlers saw of event `n`, sorted by handler.
pub fn sightings(n: u32) -> Vec<Sighting> {
    let mut seen: Vec<Sighting> = SIGHTINGS
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.n == n)
        .cloned()
        .collect();
    seen.sort_by_key(|s| s.handler);
    seen
}

/// Asserts that both handlers saw event `n` with this request id and
/// client IP.
pub fn assert_seen(n: u32, request_id: Option<&str>, client_ip: Option<&str>) -> Vec<Sighting> {
    let seen = sightings(n);
    assert_eq!(seen.len(), 2, "event {n}: {seen:?}");
    for s in &seen {
        assert_eq!(s.request_id.as_deref(), request_id, "{s:?}");
        assert_eq!(s.client_ip.as_deref(), client_ip, "{s:?}");
    }
    seen
}
