//! A worker over RESP2 and over RESP3 (`?protocol=resp3` in the URL): the
//! replies a worker reads differ in shape between the two (RESP3 sends
//! maps, and a different nil). Each run meets its own pending entries at
//! start, one of them deleted while pending; entries a dead worker left,
//! one of them deleted meanwhile; a retry; a foreign entry whose field name
//! is not UTF-8; trimming; and stopping by itself once drained.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use eventlib::event;
use eventlib::redis::Worker;
use eventlib_redis_tests::{pending, wait_for, xadd_envelope, xlen, RedisServer};
use redis::streams::StreamRangeReply;
use serde::{Deserialize, Serialize};

const GROUP: &str = "steps";
/// The step whose handler fails once.
const FLAKY: u64 = 8;
const LIMIT: Duration = Duration::from_secs(60);

/// Successful runs by protocol and step.
static HANDLED: Mutex<BTreeMap<(String, u64), u32>> = Mutex::new(BTreeMap::new());
/// Failed runs by protocol.
static FAILED: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    protocol: String,
    n: u64,
}

#[event(name = "protocols.Step")]
impl Step {
    #[handler(group = "steps")]
    fn record(&self) -> anyhow::Result<()> {
        if self.n == FLAKY {
            let mut failed = FAILED.lock().unwrap();
            let runs = failed.entry(self.protocol.clone()).or_default();
            if *runs == 0 {
                *runs += 1;
                anyhow::bail!("step {FLAKY} fails once");
            }
        }
        *HANDLED
            .lock()
            .unwrap()
            .entry((self.protocol.clone(), self.n))
            .or_default() += 1;
        Ok(())
    }
}

fn step(conn: &mut redis::Connection, stream: &str, protocol: &str, n: u64) -> String {
    let envelope = serde_json::json!({
        "v": 1, "name": "protocols.Step", "data": {"protocol": protocol, "n": n}
    });
    xadd_envelope(conn, stream, envelope.to_string().as_bytes())
}

/// Delivers up to `count` new entries to `consumer`, as a worker of that
/// name that then died would have taken them.
fn deliver(conn: &mut redis::Connection, stream: &str, consumer: &str, count: usize) {
    redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(GROUP)
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(stream)
        .arg(">")
        .exec(conn)
        .expect("XREADGROUP");
}

fn delete(conn: &mut redis::Connection, stream: &str, id: &str) {
    let deleted: u64 = redis::cmd("XDEL")
        .arg(stream)
        .arg(id)
        .query(conn)
        .expect("XDEL");
    assert_eq!(deleted, 1);
}

/// Whether a client connected with RESP3 (`resp=3` in `CLIENT LIST`).
fn resp3_client(conn: &mut redis::Connection) -> bool {
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(conn)
        .expect("CLIENT LIST");
    clients
        .lines()
        .any(|client| client.split_whitespace().any(|field| field == "resp=3"))
}

fn run_over(protocol: &str) {
    let redis = RedisServer::start();
    let url = match protocol {
        "resp3" => format!("{}?protocol=resp3", redis.url()),
        _ => redis.url(),
    };
    let stream = format!("{protocol}:events");
    let mut conn = redis.connection();
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg(GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .exec(&mut conn)
        .expect("XGROUP CREATE");
    let ids: Vec<String> = (0..7)
        .map(|n| step(&mut conn, &stream, protocol, n))
        .collect();
    // Steps 0-3 are pending for the worker's own name (a restart), step 1
    // deleted meanwhile; steps 4-6 are pending for a worker that died,
    // step 5 deleted meanwhile.
    deliver(&mut conn, &stream, "w", 4);
    deliver(&mut conn, &stream, "gone", 3);
    delete(&mut conn, &stream, &ids[1]);
    delete(&mut conn, &stream, &ids[5]);
    // A foreign producer's entry: no envelope, a field name not UTF-8.
    redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg(&b"\xffname"[..])
        .arg("x")
        .exec(&mut conn)
        .expect("XADD");
    for n in 7..13 {
        step(&mut conn, &stream, protocol, n);
    }

    let worker = Worker::builder(url.as_str())
        .stream(&stream)
        .group(GROUP)
        .consumer("w")
        .concurrency(2)
        .handle_signals(false)
        // Steps 4 and 6 are taken over after this; the retry of the flaky
        // step waits longer than a heartbeat period.
        .visibility_timeout(Duration::from_millis(600))
        .backoff(Duration::from_millis(400), Duration::from_millis(400))
        .trim_interval(Some(Duration::from_millis(100)))
        .stop_when_idle(Duration::from_secs(1))
        .build()
        .unwrap();
    let start = Instant::now();
    let running = {
        let worker = worker.clone();
        std::thread::spawn(move || worker.run_blocking())
    };
    if protocol == "resp3" {
        wait_for("the worker's RESP3 connections", LIMIT, || {
            resp3_client(&mut conn)
        });
    }
    // Bounded: a worker that never stops fails the test instead of hanging.
    while !running.is_finished() {
        assert!(
            start.elapsed() < LIMIT,
            "the worker over {protocol} did not stop: {}",
            worker.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running.join().unwrap().unwrap();
    let stats = worker.stats();

    let handled: Vec<(u64, u32)> = HANDLED
        .lock()
        .unwrap()
        .iter()
        .filter(|((p, _), _)| p == protocol)
        .map(|((_, n), runs)| (*n, *runs))
        .collect();
    let once = |steps: &[u64]| steps.iter().map(|&n| (n, 1)).collect::<Vec<_>>();
    assert_eq!(
        handled,
        once(&[0, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]),
        "over {protocol}: {stats}"
    );
    assert_eq!(FAILED.lock().unwrap().get(protocol), Some(&1));
    // Step 1 is acknowledged unhandled; step 5 is dropped by Redis itself.
    assert_eq!(pending(&mut conn, &stream, GROUP), 0, "{stats}");
    // The one dead letter is the foreign entry (a deleted entry read as an
    // entry without fields would be one too).
    let dead: StreamRangeReply = redis::cmd("XRANGE")
        .arg(format!("{stream}:dead"))
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .expect("XRANGE");
    assert_eq!(dead.ids.len(), 1, "over {protocol}: {dead:?}");
    let reason: String = dead.ids[0].get("reason").unwrap_or_default();
    assert!(
        reason.contains("has no `event` field (it has: \u{fffd}name)"),
        "{reason}"
    );
    assert_eq!(
        (stats.poison, stats.dead_lettered, stats.retried),
        (1, 1, 1),
        "over {protocol}: {stats}"
    );
    assert_eq!(stats.reclaimed, 2, "over {protocol}: {stats}");
    // 0-3 (1 deleted), 4 and 6, the foreign entry, 7-12.
    assert_eq!(stats.acked, 13, "over {protocol}: {stats}");
    assert_eq!(
        xlen(&mut conn, &stream),
        0,
        "trimmed over {protocol}: {stats}"
    );
    assert!(stats.trimmed > 0, "over {protocol}: {stats}");
}

#[test]
fn a_worker_over_resp2_reads_every_reply() {
    run_over("resp2");
}

#[test]
fn a_worker_over_resp3_reads_every_reply() {
    run_over("resp3");
}
