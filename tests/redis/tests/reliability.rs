//! Reliability of the Redis transport and workers against a real
//! redis-server and real processes: `kill -9` of a worker and of Redis,
//! graceful SIGTERM, handler groups, poison entries, retries.
//!
//! Every event carries a unique `seq`; handlers write one line per run, so
//! loss and duplicates are counted exactly. Every wait has a deadline.

use std::time::{Duration, Instant};

use eventlib_redis_tests::{
    args, pending, produced, wait_for, xlen, Handled, Process, RedisServer, TempDir,
};

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");
const STREAM: &str = "eventlib:events";
const LIMIT: Duration = Duration::from_secs(60);

fn seqs(n: u64) -> std::ops::Range<u64> {
    0..n
}

fn produce(redis: &RedisServer, dir: &TempDir, name: &str, pairs: &[(&str, String)]) -> Process {
    Process::node(NODE, name, &dir.0, &args("producer", &redis.url(), pairs))
}

fn worker(redis: &RedisServer, dir: &TempDir, consumer: &str, pairs: &[(&str, String)]) -> Process {
    let mut all = vec![("consumer", consumer.to_owned())];
    all.extend(pairs.iter().cloned());
    Process::node(NODE, consumer, &dir.0, &args("worker", &redis.url(), &all))
}

/// Produces `count` events and waits until Redis has all of them.
fn produce_all(redis: &RedisServer, dir: &TempDir, count: u64, pairs: &[(&str, String)]) {
    let mut all = vec![("count", count.to_string())];
    all.extend(pairs.iter().cloned());
    let mut producer = produce(redis, dir, "producer", &all);
    assert!(
        producer.wait(LIMIT),
        "producer failed:\n{}",
        producer.output()
    );
}

#[test]
fn worker_kill_9_mid_batch_loses_nothing() {
    let redis = RedisServer::start();
    let dir = TempDir::new("kill9");
    const N: u64 = 600;
    // Only `default` runs here: a declared `audit` would hold the stream.
    produce_all(
        &redis,
        &dir,
        N,
        &[("sleep_ms", "10".into()), ("declare", "default".into())],
    );
    let opts = [
        ("concurrency", "4".to_owned()),
        ("visibility_ms", "1500".to_owned()),
    ];
    let mut first = worker(&redis, &dir, "first", &opts);
    wait_for("the first worker to handle 100 events", LIMIT, || {
        Handled::read(&dir.0).count_handler("record") >= 100
    });
    first.kill9();
    let killed_at = Instant::now();
    let handled_at_kill = Handled::read(&dir.0).count_handler("record");
    let mut conn = redis.connection();
    let in_flight_at_kill = pending(&mut conn, STREAM, "default");

    let mut second = worker(&redis, &dir, "second", &opts);
    wait_for("every event handled after the kill", LIMIT, || {
        Handled::read(&dir.0).all("record", seqs(N))
    });
    let recovery = killed_at.elapsed();
    let handled = Handled::read(&dir.0);
    let (lost, duplicates) = handled.loss_and_duplicates("record", seqs(N));
    wait_for("nothing pending", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    wait_for("the stream trimmed", LIMIT, || xlen(&mut conn, STREAM) == 0);
    second.terminate();
    assert!(second.wait(LIMIT), "second worker:\n{}", second.output());
    let reclaimed: u64 = second
        .reported("RECLAIMED")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    println!(
        "worker kill -9: {handled_at_kill} handled before the kill, {in_flight_at_kill} in flight \
         (pending), recovery (kill to last event handled) {:.2?} with a 1.5 s visibility \
         timeout, {reclaimed} reclaimed, lost {lost}, duplicates {duplicates}",
        recovery
    );
    assert_eq!(lost, 0);
    assert!(
        duplicates <= in_flight_at_kill as u64,
        "{duplicates} duplicates, more than the {in_flight_at_kill} entries in flight at the kill"
    );
    assert!(reclaimed > 0 || in_flight_at_kill == 0, "nothing reclaimed");
}

#[test]
fn redis_kill_9_and_restart_loses_no_confirmed_event() {
    let mut redis = RedisServer::start();
    let dir = TempDir::new("redis-kill");
    const N: u64 = 3000;
    let mut worker = worker(&redis, &dir, "w", &[("concurrency", "4".to_owned())]);
    let mut producer = produce(
        &redis,
        &dir,
        "producer",
        &[("count", N.to_string()), ("pace_us", "1000".into())],
    );
    wait_for("1000 events logged", LIMIT, || {
        produced(&dir.0, "producer").len() >= 1000
    });
    redis.kill9();
    let down_at = produced(&dir.0, "producer").len();
    std::thread::sleep(Duration::from_millis(1500));
    redis.restart();
    let up_at = produced(&dir.0, "producer").len();
    assert!(
        producer.wait(LIMIT * 2),
        "producer failed:\n{}",
        producer.output()
    );
    assert_eq!(
        producer.reported("FAILED").as_deref(),
        Some("0"),
        "a log! failed"
    );
    assert_eq!(producer.reported("FLUSHED").as_deref(), Some("true"));
    let reconnects: u64 = producer
        .reported("RECONNECTS")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let logged = produced(&dir.0, "producer");
    assert_eq!(logged.len() as u64, N, "every log! returned Ok");
    wait_for("every confirmed event handled", LIMIT * 2, || {
        Handled::read(&dir.0).all("record", logged.iter().copied())
    });
    let (lost, duplicates) =
        Handled::read(&dir.0).loss_and_duplicates("record", logged.iter().copied());
    println!(
        "redis kill -9: {down_at} logged before the kill, {} logged while Redis was down, \
         producer reconnects {reconnects}, lost {lost}, duplicates {duplicates}",
        up_at - down_at
    );
    assert_eq!(lost, 0);
    assert!(reconnects >= 1, "the producer never reconnected");
    worker.terminate();
    assert!(worker.wait(LIMIT), "worker:\n{}", worker.output());
}

#[test]
fn sigterm_under_load_loses_and_duplicates_nothing() {
    let redis = RedisServer::start();
    let dir = TempDir::new("sigterm");
    const N: u64 = 500;
    produce_all(&redis, &dir, N, &[("sleep_ms", "5".into())]);
    let mut first = worker(&redis, &dir, "first", &[("concurrency", "4".to_owned())]);
    wait_for("100 events handled", LIMIT, || {
        Handled::read(&dir.0).count_handler("record") >= 100
    });
    first.terminate();
    assert!(
        first.wait(Duration::from_secs(20)),
        "first worker:\n{}",
        first.output()
    );
    let mut conn = redis.connection();
    assert_eq!(
        pending(&mut conn, STREAM, "default"),
        0,
        "the stopped worker left entries pending"
    );
    let mut second = worker(&redis, &dir, "second", &[("concurrency", "4".to_owned())]);
    wait_for("every event handled", LIMIT, || {
        Handled::read(&dir.0).all("record", seqs(N))
    });
    second.terminate();
    assert!(second.wait(LIMIT));
    let handled = Handled::read(&dir.0);
    assert_eq!(handled.loss_and_duplicates("record", seqs(N)), (0, 0));
    assert_eq!(handled.loss_and_duplicates("flaky", seqs(N)), (0, 0));
}

#[test]
fn every_group_sees_every_event_and_workers_share_a_group() {
    let redis = RedisServer::start();
    let dir = TempDir::new("groups");
    const N: u64 = 300;
    let mut workers: Vec<Process> = ["w1", "w2", "w3"]
        .into_iter()
        .map(|name| worker(&redis, &dir, name, &[("concurrency", "2".to_owned())]))
        .collect();
    workers.push(worker(
        &redis,
        &dir,
        "audit1",
        &[("group", "audit".to_owned())],
    ));
    let mut conn = redis.connection();
    wait_for("all four consumers registered", LIMIT, || {
        let count = |group: &str, conn: &mut redis::Connection| -> usize {
            redis::cmd("XINFO")
                .arg("CONSUMERS")
                .arg(STREAM)
                .arg(group)
                .query::<Vec<redis::Value>>(conn)
                .map_or(0, |c| c.len())
        };
        count("default", &mut conn) == 3 && count("audit", &mut conn) == 1
    });
    produce_all(&redis, &dir, N, &[("sleep_ms", "5".into())]);
    wait_for("every group handled every event", LIMIT, || {
        let handled = Handled::read(&dir.0);
        handled.all("record", seqs(N))
            && handled.all("flaky", seqs(N))
            && handled.all("audit", seqs(N))
    });
    for worker in &workers {
        worker.terminate();
    }
    for worker in &mut workers {
        assert!(worker.wait(LIMIT), "{}:\n{}", worker.name, worker.output());
    }
    let handled = Handled::read(&dir.0);
    for handler in ["record", "flaky", "audit"] {
        assert_eq!(
            handled.loss_and_duplicates(handler, seqs(N)),
            (0, 0),
            "{handler}"
        );
    }
    for name in ["w1", "w2", "w3"] {
        let share = handled.by_node.get(name).copied().unwrap_or(0);
        println!("groups: {name} ran {share} handler runs of {}", 2 * N);
        assert!(share > 0, "{name} got no share of the load");
    }
    assert_eq!(handled.by_node.get("audit1").copied(), Some(N));
}

fn xadd(conn: &mut redis::Connection, fields: &[(&str, &str)]) -> String {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(STREAM).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    cmd.query(conn).expect("XADD")
}

#[test]
fn poison_entries_are_dead_lettered_and_the_rest_handled() {
    let redis = RedisServer::start();
    let dir = TempDir::new("poison");
    let mut conn = redis.connection();
    // Declared before the entries are written: a new group starts at the end.
    eventlib::redis::declare_groups(redis.url(), STREAM, &["default"]).expect("declare");
    let poison = [
        ("{not json", "malformed JSON"),
        (
            r#"{"v":1,"name":"rt.Nope","data":{}}"#,
            "unknown event `rt.Nope`",
        ),
        (
            r#"{"v":1,"name":"rt.Order","data":{"seq":"x"}}"#,
            "field `seq`",
        ),
        (
            r#"{"v":1,"name":"rt.Order","data":{"seq":1,"tag":"invalid"}}"#,
            "failed validation",
        ),
        (
            r#"{"v":2,"name":"rt.Order","data":{"seq":1}}"#,
            "unsupported envelope version",
        ),
        (r#"{"name":"rt.Order","data":{"seq":1}}"#, "no version"),
    ];
    let mut poison_ids = Vec::new();
    for (n, (envelope, _)) in poison.iter().enumerate() {
        poison_ids.push(xadd(&mut conn, &[("event", envelope)]));
        // A good entry, as a producer in another language writes it (no id,
        // no emitted_at), after each poison one.
        let good = format!(r#"{{"v":1,"name":"rt.Order","data":{{"seq":{n}}}}}"#);
        xadd(&mut conn, &[("event", &good)]);
    }
    poison_ids.push(xadd(&mut conn, &[("payload", "no event field")]));
    let good = format!(
        r#"{{"v":1,"name":"rt.Order","data":{{"seq":{}}}}}"#,
        poison.len()
    );
    xadd(&mut conn, &[("event", &good)]);
    let good_seqs = 0..poison.len() as u64 + 1;

    let mut w = worker(&redis, &dir, "w", &[]);
    wait_for("the good entries handled", LIMIT, || {
        Handled::read(&dir.0).all("record", good_seqs.clone())
    });
    let mut dead = eventlib::redis::dead_letters(redis.url()).expect("url");
    wait_for("seven dead letters", LIMIT, || dead.len().unwrap_or(0) == 7);
    let letters = dead.list(100).expect("list the dead letters");
    let expected: Vec<&str> = poison
        .iter()
        .map(|(_, reason)| *reason)
        .chain(["no `event` field (it has: payload)"])
        .collect();
    // Handled concurrently: dead letters come in any order.
    for (reason, source) in expected.iter().zip(&poison_ids) {
        let letter = letters
            .iter()
            .find(|l| &l.source_id == source)
            .unwrap_or_else(|| panic!("no dead letter for {source} ({reason})"));
        assert!(
            letter.reason.contains(reason),
            "`{}` does not say `{reason}`",
            letter.reason
        );
        assert_eq!(letter.handler, None);
        assert_eq!(letter.group, "default");
    }
    let no_envelope = letters
        .iter()
        .find(|l| l.envelope.is_none())
        .expect("the entry without envelope");
    assert_eq!(
        no_envelope.fields.as_deref(),
        Some(r#"{"payload":"no event field"}"#)
    );
    w.terminate();
    assert!(w.wait(LIMIT));
    assert_eq!(pending(&mut conn, STREAM, "default"), 0);
    assert_eq!(
        Handled::read(&dir.0).loss_and_duplicates("record", good_seqs),
        (0, 0)
    );
}

#[test]
fn a_failing_handler_is_retried_alone() {
    let redis = RedisServer::start();
    let dir = TempDir::new("retry");
    // seq 0: flaky fails twice then succeeds (max 5 attempts).
    produce_all(&redis, &dir, 1, &[("fail_times", "2".into())]);
    let mut w = worker(&redis, &dir, "w", &[("backoff_ms", "50".into())]);
    let mut audit = worker(&redis, &dir, "audit1", &[("group", "audit".into())]);
    wait_for("flaky to succeed", LIMIT, || {
        Handled::read(&dir.0).count("flaky", 0) == 1
    });
    let mut conn = redis.connection();
    wait_for("the entry acknowledged", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    wait_for("audit to run", LIMIT, || {
        Handled::read(&dir.0).count("audit", 0) == 1
    });
    let handled = Handled::read(&dir.0);
    assert_eq!(handled.failed("flaky", 0), 2);
    assert_eq!(handled.count("flaky", 0), 1);
    assert_eq!(handled.count("record", 0), 1, "a sibling ran again");
    assert_eq!(
        handled.count("audit", 0),
        1,
        "another group's handler ran again"
    );
    let progress: i64 = redis::cmd("HLEN")
        .arg("eventlib:events:progress:default")
        .query(&mut conn)
        .expect("HLEN");
    assert_eq!(progress, 0, "progress left behind");
    w.terminate();
    audit.terminate();
    assert!(w.wait(LIMIT) && audit.wait(LIMIT));
}

#[test]
fn a_worker_that_takes_over_a_retry_runs_only_what_is_left() {
    let redis = RedisServer::start();
    let dir = TempDir::new("takeover");
    produce_all(&redis, &dir, 1, &[("fail_times", "1".into())]);
    let opts = [
        ("backoff_ms", "30000".to_owned()),
        ("backoff_max_ms", "30000".to_owned()),
        ("visibility_ms", "1000".to_owned()),
    ];
    let mut first = worker(&redis, &dir, "first", &opts);
    wait_for("flaky's first failure", LIMIT, || {
        Handled::read(&dir.0).failed("flaky", 0) == 1
    });
    let mut conn = redis.connection();
    wait_for("the progress saved", LIMIT, || {
        redis::cmd("HLEN")
            .arg("eventlib:events:progress:default")
            .query::<i64>(&mut conn)
            .unwrap_or(0)
            == 1
    });
    first.kill9();
    let mut second = worker(&redis, &dir, "second", &opts);
    wait_for("flaky to succeed on the second worker", LIMIT, || {
        Handled::read(&dir.0).count("flaky", 0) == 1
    });
    wait_for("the entry acknowledged", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    let handled = Handled::read(&dir.0);
    assert_eq!(
        handled.count("record", 0),
        1,
        "record ran again on the second worker"
    );
    second.terminate();
    assert!(second.wait(LIMIT));
}

#[test]
fn exhausted_handlers_are_dead_lettered_and_replayed_alone() {
    let redis = RedisServer::start();
    let dir = TempDir::new("replay");
    produce_all(&redis, &dir, 1, &[("fail_times", "3".into())]);
    let mut w = worker(
        &redis,
        &dir,
        "w",
        &[("max_attempts", "2".into()), ("backoff_ms", "20".into())],
    );
    let mut dead = eventlib::redis::dead_letters(redis.url()).expect("url");
    wait_for("a dead letter", LIMIT, || dead.len().unwrap_or(0) == 1);
    let letter = dead.list(10).expect("list").remove(0);
    assert!(
        letter
            .handler
            .as_deref()
            .is_some_and(|h| h.ends_with("Order::flaky")),
        "{letter:?}"
    );
    assert_eq!(letter.attempts, 2);
    assert!(
        letter.reason.contains("flaky fails on attempt 2"),
        "{}",
        letter.reason
    );
    assert_eq!(letter.name.as_deref(), Some("rt.Order"));
    // Replayed: flaky alone runs again (attempt 1 and 2 fail again: it
    // fails 3 times), record does not.
    dead.replay(&letter).expect("replay");
    wait_for("the replayed dead letter", LIMIT, || {
        dead.list(10)
            .is_ok_and(|l| l.len() == 1 && l[0].id != letter.id)
    });
    let handled = Handled::read(&dir.0);
    assert_eq!(handled.failed("flaky", 0), 4);
    assert_eq!(handled.count("record", 0), 1, "record ran again on replay");
    w.terminate();
    assert!(w.wait(LIMIT));
}

#[test]
fn a_hundred_thousand_events_through_repeated_worker_kills_lose_nothing() {
    let redis = RedisServer::start();
    let dir = TempDir::new("kill9-100k");
    const N: u64 = 100_000;
    const KILLS: usize = 10;
    let started = Instant::now();
    produce_all(&redis, &dir, N, &[("declare", "default".into())]);
    let produced_in = started.elapsed();
    let opts = [
        ("visibility_ms", "1500".to_owned()),
        ("cleanup_ms", "5000".to_owned()),
    ];
    let mut steady = worker(&redis, &dir, "steady", &opts);
    let handled_now = |dir: &TempDir| Handled::read(&dir.0).count_handler("record");
    for kill in 0..KILLS {
        let mut victim = worker(&redis, &dir, &format!("victim{kill}"), &opts);
        let before = handled_now(&dir);
        let deadline = Instant::now() + LIMIT;
        // Killed once it has handled some: mid-batch, entries held.
        while handled_now(&dir) < before + 2000 && handled_now(&dir) < N {
            assert!(
                Instant::now() < deadline,
                "no progress:\n{}",
                victim.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        victim.kill9();
    }
    let deadline = Instant::now() + LIMIT * 3;
    loop {
        let handled = Handled::read(&dir.0);
        if handled.all("record", seqs(N)) && handled.all("flaky", seqs(N)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all handled: {} of {N}",
            handled.count_handler("record")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut conn = redis.connection();
    wait_for("nothing pending", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    steady.terminate();
    assert!(steady.wait(LIMIT), "{}", steady.output());
    let handled = Handled::read(&dir.0);
    let (lost, duplicates) = handled.loss_and_duplicates("record", seqs(N));
    let (flaky_lost, flaky_duplicates) = handled.loss_and_duplicates("flaky", seqs(N));
    println!(
        "100k with {KILLS} kills: produced in {produced_in:?}, all handled in {:?}; lost \
         {lost}/{flaky_lost}, duplicates {duplicates}/{flaky_duplicates}; steady: {}",
        started.elapsed(),
        steady.reported("STATS").unwrap_or_default()
    );
    assert_eq!((lost, flaky_lost), (0, 0));
    // At most what each killed worker held (its prefetch, 32) runs twice.
    assert!(duplicates <= (KILLS * 32) as u64, "{duplicates} duplicates");
    assert!(
        flaky_duplicates <= (KILLS * 32) as u64,
        "{flaky_duplicates} duplicates"
    );
}
