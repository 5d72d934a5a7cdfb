//! A worker group runs an event's handlers once per event id with
//! `once_per_event_id`: the same envelope (one event id) written twice to
//! the stream, as a relay killed between sending and deleting does, is
//! handled once and counted as a duplicate; without the option it runs
//! twice; a replay of a dead letter still runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eventlib::event;
use eventlib::redis::{declare_groups, Worker, WorkerStats};
use eventlib_redis_tests::{xadd_envelope, RedisServer};
use serde::{Deserialize, Serialize};

static CHARGED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Charged {
    order: u64,
}

#[event(name = "once.Charged")]
impl Charged {
    #[handler]
    fn count(&self) {
        CHARGED.fetch_add(1, Ordering::SeqCst);
    }
}

fn envelope(event_id: &str, order: u64) -> Vec<u8> {
    serde_json::json!({
        "v": 1, "id": event_id, "name": "once.Charged", "data": {"order": order}
    })
    .to_string()
    .into_bytes()
}

fn drain(url: &str, stream: &str, once: bool) -> WorkerStats {
    let mut builder = Worker::builder(url)
        .stream(stream)
        .consumer("once-worker")
        .handle_signals(false)
        .stop_when_idle(Duration::from_millis(300));
    if once {
        builder = builder.once_per_event_id(Duration::from_secs(600));
    }
    let worker = builder.build().unwrap();
    worker.run_blocking().unwrap();
    worker.stats()
}

#[test]
fn the_same_event_id_twice_runs_once_with_the_option_and_twice_without() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();

    // With the option: 3 events, each written twice (one of them much
    // later, after the first copy was acknowledged).
    declare_groups(&url, "once:events", &["default"]).unwrap();
    let ids = [
        "aaaaaaaaaaaaaaaa0000000000000001",
        "aaaaaaaaaaaaaaaa0000000000000002",
        "aaaaaaaaaaaaaaaa0000000000000003",
    ];
    for (n, id) in ids.iter().enumerate() {
        xadd_envelope(&mut conn, "once:events", &envelope(id, n as u64));
        xadd_envelope(&mut conn, "once:events", &envelope(id, n as u64));
    }
    let stats = drain(&url, "once:events", true);
    assert_eq!(CHARGED.load(Ordering::SeqCst), 3, "{stats}");
    assert_eq!((stats.duplicates, stats.acked), (3, 6), "{stats}");
    xadd_envelope(&mut conn, "once:events", &envelope(ids[0], 0));
    let stats = drain(&url, "once:events", true);
    assert_eq!(CHARGED.load(Ordering::SeqCst), 3, "{stats}");
    assert_eq!(stats.duplicates, 1, "{stats}");
    let marker: u64 = redis::cmd("PTTL")
        .arg(format!("once:events:done:default:{}", ids[0]))
        .query(&mut conn)
        .unwrap();
    assert!(
        marker > 500_000,
        "the marker expires after the window: {marker} ms left"
    );

    // Without it: both copies run.
    declare_groups(&url, "twice:events", &["default"]).unwrap();
    let id = "bbbbbbbbbbbbbbbb0000000000000001";
    xadd_envelope(&mut conn, "twice:events", &envelope(id, 9));
    xadd_envelope(&mut conn, "twice:events", &envelope(id, 9));
    let stats = drain(&url, "twice:events", false);
    assert_eq!(CHARGED.load(Ordering::SeqCst), 5, "{stats}");
    assert_eq!(stats.duplicates, 0, "{stats}");
}
