//! A worker group runs an event's handlers once per event id with
//! `once_per_event_id`: the same envelope (one event id) written twice to
//! the stream, as a relay killed between sending and deleting does, is
//! handled once and counted as a duplicate; without the option it runs
//! twice; a replay of a dead letter still runs. A read that mixes events
//! finished before with new ones runs the new ones alone. A worker whose
//! Redis user may not write the markers still acknowledges what it handled.

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

static BILLED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Billed {
    order: u64,
}

#[event(name = "once.Billed")]
impl Billed {
    #[handler]
    fn count(&self) {
        BILLED.fetch_add(1, Ordering::SeqCst);
    }
}

static SHIPPED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Shipped {
    order: u64,
}

#[event(name = "once.Shipped")]
impl Shipped {
    #[handler]
    fn count(&self) {
        SHIPPED.fetch_add(1, Ordering::SeqCst);
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
    drain_within(url, stream, once.then_some(Duration::from_secs(600)))
}

fn drain_within(url: &str, stream: &str, window: Option<Duration>) -> WorkerStats {
    let mut builder = Worker::builder(url)
        .stream(stream)
        .consumer("once-worker")
        .handle_signals(false)
        .stop_when_idle(Duration::from_millis(300));
    if let Some(window) = window {
        builder = builder.once_per_event_id(window);
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

    // A window under a millisecond is a millisecond: its markers are
    // written (a `PX 0` would be refused), and kept that long.
    declare_groups(&url, "brief:events", &["default"]).unwrap();
    xadd_envelope(
        &mut conn,
        "brief:events",
        &envelope("cccccccccccccccc0000000000000001", 7),
    );
    let stats = drain_within(&url, "brief:events", Some(Duration::from_micros(500)));
    assert_eq!(
        (stats.acked, stats.markers_unwritten, stats.ack_failures),
        (1, 0, 0),
        "{stats}"
    );
    assert_eq!(CHARGED.load(Ordering::SeqCst), 4, "{stats}");

    // Without it: both copies run.
    declare_groups(&url, "twice:events", &["default"]).unwrap();
    let id = "bbbbbbbbbbbbbbbb0000000000000001";
    xadd_envelope(&mut conn, "twice:events", &envelope(id, 9));
    xadd_envelope(&mut conn, "twice:events", &envelope(id, 9));
    let stats = drain(&url, "twice:events", false);
    assert_eq!(CHARGED.load(Ordering::SeqCst), 6, "{stats}");
    assert_eq!(stats.duplicates, 0, "{stats}");
}

/// One read of entries of which some events were finished before (by an
/// earlier worker of the group) and some not, in any order: the worker
/// looks the read's markers up together, finds some, and runs exactly the
/// new events, each once.
#[test]
fn a_read_mixing_finished_and_new_events_runs_only_the_new_ones() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    declare_groups(&url, "mixed:events", &["default"]).unwrap();
    let id = |n: u64| format!("dddddddddddddddd{n:016}");
    // Led by the version and the id, as eventlib's producers write it: the
    // shape whose markers the reading thread looks up for the whole read.
    let shipped = |n: u64| {
        format!(
            r#"{{"v":1,"id":"{}","name":"once.Shipped","data":{{"order":{n}}}}}"#,
            id(n)
        )
        .into_bytes()
    };
    for n in [1, 2, 3] {
        xadd_envelope(&mut conn, "mixed:events", &shipped(n));
    }
    let stats = drain(&url, "mixed:events", true);
    assert_eq!(
        (SHIPPED.load(Ordering::SeqCst), stats.duplicates),
        (3, 0),
        "{stats}"
    );
    // Finished before: 2, 3 and 1; new: 4, 5, 6 (and 5 twice in the read).
    for n in [2, 4, 3, 5, 6, 1, 5] {
        xadd_envelope(&mut conn, "mixed:events", &shipped(n));
    }
    let stats = drain(&url, "mixed:events", true);
    assert_eq!(SHIPPED.load(Ordering::SeqCst), 6, "{stats}");
    assert_eq!((stats.acked, stats.duplicates), (7, 4), "{stats}");
    for n in 1..=6 {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(format!("mixed:events:done:default:{}", id(n)))
            .query(&mut conn)
            .unwrap();
        assert!(ttl > 500_000, "event {n}'s marker: {ttl} ms left");
    }
}

/// A worker's Redis user without `+set` cannot write the markers: the
/// acknowledgement that carries them is refused as a whole. The worker
/// acknowledges without them (rather than trying the same transaction for
/// ever, which would leave every entry it handled pending, to be handled
/// again by whoever took it over), and counts both.
#[test]
fn a_worker_whose_user_may_not_write_markers_still_acknowledges_and_counts_it() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("nomarks")
        .arg("on")
        .arg(">nomarks-secret")
        .arg("~*")
        .arg("+@all")
        .arg("-set")
        .exec(&mut conn)
        .unwrap();
    declare_groups(redis.url(), "nomarks:events", &["default"]).unwrap();
    for n in 0..5_u64 {
        let id = format!("cccccccccccccccc{n:016}");
        let data = serde_json::json!({
            "v": 1, "id": id, "name": "once.Billed", "data": {"order": n}
        });
        xadd_envelope(&mut conn, "nomarks:events", data.to_string().as_bytes());
    }
    let url = format!("redis://nomarks:nomarks-secret@127.0.0.1:{}/", redis.port);
    let (done, stats) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(drain(&url, "nomarks:events", true));
    });
    let stats = stats
        .recv_timeout(Duration::from_secs(30))
        .expect("the worker acknowledges what it handled and stops when idle");
    assert_eq!(BILLED.load(Ordering::SeqCst), 5, "{stats}");
    assert_eq!((stats.acked, stats.markers_unwritten), (5, 5), "{stats}");
    assert!(stats.ack_failures >= 1, "{stats}");
    let pending: (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg("nomarks:events")
        .arg("default")
        .query(&mut conn)
        .unwrap();
    assert_eq!(pending.0, 0, "nothing left pending");
    let markers: Vec<String> = redis::cmd("KEYS")
        .arg("nomarks:events:done:*")
        .query(&mut conn)
        .unwrap();
    assert!(markers.is_empty(), "{markers:?}");
}
