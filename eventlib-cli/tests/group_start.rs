//! Where consumer groups start, against a real redis-server: events
//! written with `eventlib emit` before any worker ran are all handled by
//! the first worker (none trimmed unhandled); a group deployed after the
//! stream filled up handles the backlog the stream holds; `groups create
//! --from oldest|now|ID` starts a group where it says.

mod common;

use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eventlib::event;
use eventlib::redis::{declare_groups, Worker};
use eventlib_redis_tests::RedisServer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Shipped {
    n: u64,
}

static DEFAULT_RUNS: AtomicU64 = AtomicU64::new(0);
static LATE_RUNS: AtomicU64 = AtomicU64::new(0);

#[event(name = "start.Shipped")]
impl Shipped {
    #[handler]
    fn count(&self) {
        DEFAULT_RUNS.fetch_add(1, Ordering::SeqCst);
    }

    #[handler(group = "late")]
    fn count_late(&self) {
        LATE_RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

fn eventlib(url: &str, stream: &str, args: &[&str]) -> Output {
    common::eventlib(url, stream, args)
}

fn run_worker(url: &str, stream: &str, group: &str) -> eventlib::redis::WorkerStats {
    let worker = Worker::builder(url)
        .stream(stream)
        .group(group)
        .consumer(format!("{group}-worker"))
        .handle_signals(false)
        .stop_when_idle(Duration::from_millis(500))
        .build()
        .unwrap();
    worker.run_blocking().unwrap();
    worker.stats()
}

fn xlen(conn: &mut redis::Connection, stream: &str) -> u64 {
    redis::cmd("XLEN").arg(stream).query(conn).unwrap()
}

/// `(name, last-delivered-id)` of each group of `stream`.
fn groups(conn: &mut redis::Connection, stream: &str) -> Vec<(String, String)> {
    let reply: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query(conn)
        .unwrap();
    reply
        .into_iter()
        .map(|group| {
            let fields: std::collections::HashMap<String, redis::Value> =
                redis::FromRedisValue::from_redis_value(group).unwrap();
            let text = |key: &str| -> String {
                redis::FromRedisValue::from_redis_value(fields[key].clone()).unwrap()
            };
            (text("name"), text("last-delivered-id"))
        })
        .collect()
}

#[test]
fn events_emitted_before_any_worker_are_handled_then_a_late_group_gets_the_backlog() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    const STREAM: &str = "start:emitted";

    // Written as a producer in another language writes, before any worker.
    for n in 0..3 {
        let out = eventlib(
            &url,
            STREAM,
            &["emit", "start.Shipped", &format!("{{\"n\":{n}}}")],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stats = run_worker(&url, STREAM, "default");
    assert_eq!(DEFAULT_RUNS.load(Ordering::SeqCst), 3, "{stats:?}");
    assert_eq!(stats.received, 3, "{stats:?}");

    // A rolling deploy: the producer declared the old group, whose workers
    // are down while 1,200 orders come in; a new group's worker starts.
    const BACKLOG: &str = "start:backlog";
    declare_groups(&url, BACKLOG, &["default"]).unwrap();
    let mut pipe = redis::pipe();
    for n in 0..1200 {
        let envelope = serde_json::json!({"v": 1, "name": "start.Shipped", "data": {"n": n}});
        pipe.cmd("XADD")
            .arg(BACKLOG)
            .arg("*")
            .arg("event")
            .arg(envelope.to_string())
            .ignore();
    }
    pipe.exec(&mut conn).unwrap();
    let stats = run_worker(&url, BACKLOG, "late");
    assert_eq!(LATE_RUNS.load(Ordering::SeqCst), 1200, "{stats:?}");
    // The old group has not read them: they are all still there for it.
    assert_eq!(xlen(&mut conn, BACKLOG), 1200);
    run_worker(&url, BACKLOG, "default");
    assert_eq!(DEFAULT_RUNS.load(Ordering::SeqCst), 1203);
}

#[test]
fn groups_create_starts_where_from_says() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    const STREAM: &str = "start:created";
    let ids: Vec<String> = (0..5)
        .map(|n| {
            redis::cmd("XADD")
                .arg(STREAM)
                .arg("*")
                .arg("event")
                .arg(format!("entry {n}"))
                .query(&mut conn)
                .unwrap()
        })
        .collect();

    let created = eventlib(&url, STREAM, &["--json", "groups", "create", "everything"]);
    assert!(created.status.success(), "{created:?}");
    let json: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(json["created"], true);
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(
        stderr.contains("the 5 entries the stream holds will be handled"),
        "{stderr}"
    );
    let now = eventlib(
        &url,
        STREAM,
        &["groups", "create", "fresh", "--from", "now"],
    );
    assert!(now.status.success(), "{now:?}");
    assert!(
        String::from_utf8_lossy(&now.stderr).contains("5 of the 5 entries"),
        "{now:?}"
    );
    let after = eventlib(
        &url,
        STREAM,
        &["groups", "create", "partial", "--from", &ids[1]],
    );
    assert!(after.status.success(), "{after:?}");
    assert!(
        String::from_utf8_lossy(&after.stderr).contains("2 of the 5 entries"),
        "{after:?}"
    );
    let again = eventlib(&url, STREAM, &["--json", "groups", "create", "fresh"]);
    let json: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(json["created"], false, "an existing group is left as it is");

    let mut found = groups(&mut conn, STREAM);
    found.sort();
    assert_eq!(
        found,
        [
            ("everything".to_owned(), "0-0".to_owned()),
            ("fresh".to_owned(), ids[4].clone()),
            ("partial".to_owned(), ids[1].clone()),
        ]
    );
    let bad = eventlib(
        &url,
        STREAM,
        &["groups", "create", "x", "--from", "yesterday"],
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
}
