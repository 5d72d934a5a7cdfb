//! The figures every worker publishes to Redis over time, read back as an
//! operator's tools read them: exact counts per handler, run times, which
//! processes are alive. Against a real redis-server and real worker
//! processes.

use std::time::Duration;

use eventlib::redis::{live_processes, timeline, Count, Span};
use eventlib_redis_tests::{
    args, pending, wait_for, xadd_envelopes, Process, RedisServer, TempDir,
};

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");
const STREAM: &str = "eventlib:events";
const LIMIT: Duration = Duration::from_secs(60);

fn worker(redis: &RedisServer, dir: &TempDir, consumer: &str) -> Process {
    let pairs = [
        ("consumer", consumer.to_owned()),
        ("backoff_ms", "10".to_owned()),
        ("backoff_max_ms", "20".to_owned()),
        ("max_attempts", "3".to_owned()),
    ];
    Process::node(
        NODE,
        consumer,
        &dir.0,
        &args("worker", &redis.url(), &pairs),
    )
}

#[test]
fn two_workers_figures_add_up_per_handler_and_the_live_ones_are_listed() {
    let redis = RedisServer::start();
    let dir = TempDir::new("timeline");
    let mut conn = redis.connection();
    eventlib::redis::declare_groups(redis.url(), STREAM, &["default"]).unwrap();
    let mut one = worker(&redis, &dir, "one");
    let mut two = worker(&redis, &dir, "two");
    wait_for("both workers listed as alive", LIMIT, || {
        live_processes(redis.url(), STREAM)
            .map(|live| live.contains_key("one") && live.contains_key("two"))
            .unwrap_or(false)
    });
    let live = live_processes(redis.url(), STREAM).unwrap();
    assert_eq!(live["one"].kind, "worker");
    assert_eq!(live["one"].group, "default");
    assert!(live["one"].pid > 0);
    // 100 orders: `flaky` fails once on the first 30 (a retry each) and
    // three times on the last 10 (out of attempts: dead-lettered).
    const N: u64 = 100;
    xadd_envelopes(
        &mut conn,
        STREAM,
        (0..N).map(|seq| {
            let fail_times = match seq {
                0..30 => 1,
                90.. => 3,
                _ => 0,
            };
            format!(
                r#"{{"v":1,"name":"rt.Order","data":{{"seq":{seq},"fail_times":{fail_times}}}}}"#
            )
        }),
    );
    wait_for("nothing pending", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    for process in [&mut one, &mut two] {
        process.terminate();
        assert!(process.wait(LIMIT), "{}", process.output());
    }
    let minutes = timeline(redis.url(), STREAM, Span::Minutes(10)).unwrap();
    assert_eq!(minutes.len(), 10);
    let sum = |handler: &str, count: Count| -> u64 {
        minutes
            .iter()
            .map(|m| m.handler(handler, Some("default")).get(count))
            .sum()
    };
    let record = "eventlib_redis_node::Order::record";
    let flaky = "eventlib_redis_node::Order::flaky";
    assert_eq!(sum(record, Count::Handled), N);
    assert_eq!(sum(flaky, Count::Handled), 90);
    assert_eq!(sum(flaky, Count::Failed), 30 + 10 * 3);
    assert_eq!(sum(flaky, Count::Retried), 30 + 10 * 2);
    assert_eq!(sum(flaky, Count::DeadLettered), 10);
    assert_eq!(sum(flaky, Count::Panicked), 0);
    let hours = timeline(redis.url(), STREAM, Span::Hours(2)).unwrap();
    let all_hours: u64 = hours
        .iter()
        .map(|h| h.event("rt.Order").get(Count::Handled))
        .sum();
    assert_eq!(all_hours, N + 90);
    let runs: u64 = minutes
        .iter()
        .map(|m| m.handler(record, None).run_times.iter().sum::<u64>())
        .sum();
    assert_eq!(runs, N, "every run has its run time");
    let last = minutes
        .iter()
        .rev()
        .find(|m| m.handler(record, None).runs() > 0)
        .unwrap();
    assert!(last.handler(record, None).run_time_quantile(0.99).is_some());
    assert_eq!(last.pending.get("default").copied().unwrap_or(0), 0);
    // Stopped cleanly: no longer listed.
    assert!(live_processes(redis.url(), STREAM).unwrap().is_empty());
}

#[test]
fn a_producer_publishes_what_it_sent_and_says_it_is_alive_until_it_shuts_down() {
    let redis = RedisServer::start();
    let dir = TempDir::new("timeline-producer");
    // 40 orders over about 0.4 s, `flush`, then `shutdown` and an
    // immediate exit: what the producer sent is published by then, and its
    // line among the live processes is withdrawn.
    const N: u64 = 40;
    let pairs = [
        ("name", "shop".to_owned()),
        ("count", N.to_string()),
        ("pace_us", "10000".to_owned()),
        ("end", "shutdown".to_owned()),
    ];
    let mut producer = Process::node(
        NODE,
        "producer",
        &dir.0,
        &args("producer", &redis.url(), &pairs),
    );
    assert!(producer.wait(LIMIT), "{}", producer.output());
    assert!(
        producer.output().contains("SHUTDOWN_CLEAN=true"),
        "{}",
        producer.output()
    );
    let minutes = timeline(redis.url(), STREAM, Span::Minutes(5)).unwrap();
    let sent: u64 = minutes
        .iter()
        .map(|m| m.produced(Some("rt.Order")).sent)
        .sum();
    let given_up: u64 = minutes.iter().map(|m| m.produced(None).dropped).sum();
    assert_eq!((sent, given_up), (N, 0), "{minutes:?}");
    // No handler figures: a producer runs none.
    assert!(minutes.iter().all(|m| m.handlers.is_empty()));
    // Shut down: no longer listed.
    assert!(live_processes(redis.url(), STREAM).unwrap().is_empty());

    // A producer that runs: listed while it sends, as a producer.
    let pairs = [
        ("name", "slow".to_owned()),
        ("count", "300".to_owned()),
        ("pace_us", "20000".to_owned()),
    ];
    let mut slow = Process::node(
        NODE,
        "slow",
        &dir.0,
        &args("producer", &redis.url(), &pairs),
    );
    wait_for("the producer listed as alive", LIMIT, || {
        live_processes(redis.url(), STREAM)
            .map(|live| live.values().any(|p| p.kind == "producer"))
            .unwrap_or(false)
    });
    let live = live_processes(redis.url(), STREAM).unwrap();
    let producer = live.values().find(|p| p.kind == "producer").unwrap();
    assert!(producer.pid > 0 && producer.group.is_empty(), "{live:?}");
    slow.terminate();
    slow.wait(LIMIT);
}

#[test]
fn a_spooling_producer_publishes_what_it_sent_too() {
    let redis = RedisServer::start();
    let dir = TempDir::new("timeline-spool");
    let spool = dir.0.join("spool");
    let pairs = [
        ("name", "spooled".to_owned()),
        ("count", "200".to_owned()),
        ("dir", spool.display().to_string()),
        ("shutdown_ms", "30000".to_owned()),
    ];
    let mut producer = Process::node(
        NODE,
        "spooled",
        &dir.0,
        &args("spool_producer", &redis.url(), &pairs),
    );
    assert!(producer.wait(LIMIT), "{}", producer.output());
    assert!(
        producer.output().contains("CLEAN=true"),
        "{}",
        producer.output()
    );
    let minutes = timeline(redis.url(), STREAM, Span::Minutes(5)).unwrap();
    let sent: u64 = minutes
        .iter()
        .map(|m| m.produced(Some("rt.Order")).sent)
        .sum();
    assert_eq!(sent, 200, "{minutes:?}");
}
