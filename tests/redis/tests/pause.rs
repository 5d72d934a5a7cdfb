//! Pausing and resuming a handler, then a whole group, while workers run:
//! the paused handler's entries wait (nothing dead-lettered, nothing lost,
//! nothing run twice) and run once resumed; the pause is visible in the
//! workers' output and stats. Against a real redis-server and real worker
//! processes.

use std::time::Duration;

use eventlib::redis::{pause, pauses, resume};
use eventlib_redis_tests::{
    args, pending, wait_for, xadd_envelopes, Handled, Process, RedisServer, TempDir,
};

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");
const STREAM: &str = "eventlib:events";
const LIMIT: Duration = Duration::from_secs(60);
const FLAKY: &str = "eventlib_redis_node::Order::flaky";

fn orders(conn: &mut redis::Connection, seqs: std::ops::Range<u64>) {
    xadd_envelopes(
        conn,
        STREAM,
        seqs.map(|seq| format!(r#"{{"v":1,"name":"rt.Order","data":{{"seq":{seq}}}}}"#)),
    );
}

fn ran(dir: &TempDir, handler: &str, seqs: std::ops::Range<u64>) -> usize {
    let handled = Handled::read(&dir.0);
    seqs.filter(|&seq| handled.count(handler, seq) > 0).count()
}

#[test]
fn a_paused_handler_and_a_paused_group_wait_and_resume_where_they_stopped() {
    let redis = RedisServer::start();
    let dir = TempDir::new("pause");
    let mut conn = redis.connection();
    let url = redis.url();
    eventlib::redis::declare_groups(&url, STREAM, &["default"]).unwrap();
    let pairs = [
        ("consumer", "w".to_owned()),
        ("backoff_ms", "10".to_owned()),
    ];
    let mut worker = Process::node(NODE, "w", &dir.0, &args("worker", &url, &pairs));

    // One handler paused: the other runs, the entries wait for it.
    assert!(pause(&url, STREAM, "default", Some(FLAKY), "test").unwrap());
    assert!(!pause(&url, STREAM, "default", Some(FLAKY), "test").unwrap());
    let listed = pauses(&url, STREAM).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].handler.as_deref(), Some(FLAKY));
    assert_eq!(listed[0].by, "test");
    wait_for("the worker saw the pause", LIMIT, || {
        worker.output().contains("paused by an operator")
    });
    wait_for("the worker's published line names the pause", LIMIT, || {
        eventlib::redis::live_processes(&url, STREAM)
            .ok()
            .and_then(|live| live.get("w").map(|p| p.paused == [FLAKY]))
            .unwrap_or(false)
    });
    orders(&mut conn, 0..50);
    wait_for("`record` ran for every entry", LIMIT, || {
        ran(&dir, "record", 0..50) == 50
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ran(&dir, "flaky", 0..50), 0, "a paused handler ran");
    assert_eq!(
        pending(&mut conn, STREAM, "default"),
        50,
        "the entries wait"
    );
    assert!(resume(&url, STREAM, "default", Some(FLAKY)).unwrap());
    wait_for("`flaky` ran for every entry once resumed", LIMIT, || {
        ran(&dir, "flaky", 0..50) == 50
    });
    wait_for("nothing pending", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });

    // The whole group paused: nothing is taken.
    assert!(pause(&url, STREAM, "default", None, "test").unwrap());
    wait_for("the worker saw the group paused", LIMIT, || {
        worker
            .output()
            .contains("taking nothing until it is resumed")
    });
    orders(&mut conn, 50..70);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        ran(&dir, "record", 50..70),
        0,
        "a paused group took entries"
    );
    assert!(resume(&url, STREAM, "default", None).unwrap());
    assert!(!resume(&url, STREAM, "default", None).unwrap());
    assert!(pauses(&url, STREAM).unwrap().is_empty());
    wait_for("every entry handled once resumed", LIMIT, || {
        ran(&dir, "record", 50..70) == 20 && ran(&dir, "flaky", 50..70) == 20
    });
    wait_for("nothing pending", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    worker.terminate();
    assert!(worker.wait(LIMIT), "{}", worker.output());
    let handled = Handled::read(&dir.0);
    assert_eq!(handled.loss_and_duplicates("record", 0..70), (0, 0));
    assert_eq!(handled.loss_and_duplicates("flaky", 0..70), (0, 0));
    let stats = worker.reported("STATS").unwrap_or_default();
    // 50 set aside for the paused handler, and any the group pause caught
    // in flight (read just before the worker saw it).
    let paused: u64 = stats
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("paused="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!((50..=70).contains(&paused), "{stats}");
    assert!(stats.contains("dead_lettered=0"), "{stats}");
    let out = worker.output();
    assert!(
        out.contains(&format!("handler `{FLAKY}` of group `default` resumed")),
        "{out}"
    );
    assert!(out.contains("group `default` resumed"), "{out}");
}

/// A pause set while the stream is split 6 ways reaches the workers of a
/// count recorded after it (the stream split 12 ways): they copy the
/// stream's pauses to their partitions before reading, so nothing runs
/// until the group is resumed.
#[test]
fn a_pause_reaches_a_partition_count_recorded_after_it() {
    let redis = RedisServer::start();
    let dir = TempDir::new("pause-recount");
    let url = redis.url();
    let mut conn = redis.connection();
    let produce = |name: &str, start: u64, partitions: &str| {
        let pairs = [
            ("name", name.to_owned()),
            ("start", start.to_string()),
            ("count", "24".to_owned()),
            ("partitions", partitions.to_owned()),
        ];
        let mut producer = Process::node(NODE, name, &dir.0, &args("producer", &url, &pairs));
        assert!(producer.wait(LIMIT), "{}", producer.output());
    };
    produce("six", 0, "6");
    assert!(pause(url.as_str(), STREAM, "default", None, "the recount test").unwrap());
    produce("twelve", 24, "12");
    let pairs = [
        ("consumer", "w".to_owned()),
        ("partitions", "12".to_owned()),
        ("idle_ms", "3000".to_owned()),
    ];
    let mut worker = Process::node(NODE, "w", &dir.0, &args("worker", &url, &pairs));
    let keys = eventlib::redis::partition_keys(STREAM, 12).unwrap();
    wait_for("the new partitions to be paused", LIMIT, || {
        keys.iter().all(|key| {
            redis::cmd("HEXISTS")
                .arg(format!("{key}:paused"))
                .arg("default")
                .query::<bool>(&mut conn)
                .unwrap()
        })
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ran(&dir, "record", 24..48), 0, "a paused group ran");
    assert!(resume(url.as_str(), STREAM, "default", None).unwrap());
    assert!(worker.wait(LIMIT), "{}", worker.output());
    assert_eq!(ran(&dir, "record", 24..48), 24);
    assert!(pauses(url.as_str(), STREAM).unwrap().is_empty());
}
