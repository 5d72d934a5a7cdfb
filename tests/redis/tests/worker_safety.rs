//! What workers must never do, against a real redis-server and real worker
//! processes: acknowledge what a correctly linked build would have handled,
//! let a group miss what was written after it was declared, acknowledge an
//! entry with nothing run and no trace, hold a thread for a waiting retry,
//! keep dead consumers in the group for ever.
//!
//! Every count is exact; every wait has a deadline.

use std::time::{Duration, Instant};

use eventlib_redis_tests::{
    args, consumers, pending, wait_for, xadd_envelope, xadd_envelopes, xlen, Handled, Process,
    RedisServer, TempDir,
};

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");
const BARE: &str = env!("CARGO_BIN_EXE_eventlib-redis-bare");
const STREAM: &str = "eventlib:events";
const LIMIT: Duration = Duration::from_secs(60);

fn node_worker(
    redis: &RedisServer,
    dir: &TempDir,
    consumer: &str,
    pairs: &[(&str, String)],
) -> Process {
    let mut all = vec![("consumer", consumer.to_owned())];
    all.extend(pairs.iter().cloned());
    Process::node(NODE, consumer, &dir.0, &args("worker", &redis.url(), &all))
}

fn bare_worker(
    redis: &RedisServer,
    dir: &TempDir,
    consumer: &str,
    pairs: &[(&str, String)],
) -> Process {
    let mut all = vec![
        format!("url={}", redis.url()),
        format!("consumer={consumer}"),
    ];
    all.extend(pairs.iter().map(|(k, v)| format!("{k}={v}")));
    Process::node(BARE, consumer, &dir.0, &all)
}

/// Writes `n` `rt.Split` entries and waits until both its handlers ran for
/// each and nothing is pending; returns how long that took.
fn split_entries_handled(conn: &mut redis::Connection, dir: &TempDir, n: u64) -> Duration {
    let started = Instant::now();
    xadd_envelopes(
        conn,
        STREAM,
        (0..n).map(|seq| format!(r#"{{"v":1,"name":"rt.Split","data":{{"seq":{seq}}}}}"#)),
    );
    wait_for("both handlers ran for every entry", LIMIT, || {
        let handled = Handled::read(&dir.0);
        handled.all("first", 0..n) && handled.all("second", 0..n)
    });
    wait_for("nothing pending", LIMIT, || {
        pending(conn, STREAM, "default") == 0
    });
    started.elapsed()
}

/// Both handlers of `rt.Split` ran once for each of the `n` entries.
fn split_handled_once(dir: &TempDir, n: u64) {
    let handled = Handled::read(&dir.0);
    assert_eq!(handled.loss_and_duplicates("first", 0..n), (0, 0));
    assert_eq!(handled.loss_and_duplicates("second", 0..n), (0, 0));
}

/// Waits until `n` workers of `default` published their handler sets.
fn sets_published(conn: &mut redis::Connection, n: i64) {
    wait_for(&format!("{n} handler set(s) published"), LIMIT, || {
        redis::cmd("HLEN")
            .arg(format!("{STREAM}:handlers:default"))
            .query::<i64>(conn)
            .unwrap_or(0)
            == n
    });
}

fn declare(redis: &RedisServer, groups: &[&str]) {
    eventlib::redis::declare_groups(redis.url(), STREAM, groups).expect("declare the groups");
}

fn order(seq: u64, fail_times: u32) -> Vec<u8> {
    format!(r#"{{"v":1,"name":"rt.Order","data":{{"seq":{seq},"fail_times":{fail_times}}}}}"#)
        .into_bytes()
}

fn stop(process: &mut Process) {
    process.terminate();
    assert!(
        process.wait(LIMIT),
        "{} failed:\n{}",
        process.name,
        process.output()
    );
}

/// The `last-delivered-id` of `group`.
fn last_delivered(conn: &mut redis::Connection, group: &str) -> String {
    let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(STREAM)
        .query(conn)
        .expect("XINFO GROUPS");
    groups
        .iter()
        .find(|g| {
            g.get("name")
                .is_some_and(|n| redis::from_redis_value_ref::<String>(n).is_ok_and(|n| n == group))
        })
        .and_then(|g| g.get("last-delivered-id"))
        .and_then(|id| redis::from_redis_value_ref::<String>(id).ok())
        .unwrap_or_default()
}

fn stat(process: &Process, name: &str) -> u64 {
    process.stat(name).unwrap_or_else(|| {
        panic!(
            "{} printed no `{name}`:\n{}",
            process.name,
            process.output()
        )
    })
}

#[test]
fn a_worker_without_the_handler_crate_leaves_every_entry_to_one_that_has_it() {
    let redis = RedisServer::start();
    let dir = TempDir::new("unlinked-handlers");
    let mut conn = redis.connection();
    declare(&redis, &["default"]);
    let fast = [
        ("visibility_ms", "1000".to_owned()),
        ("block_ms", "200".to_owned()),
    ];
    let mut capable = node_worker(&redis, &dir, "capable", &fast);
    wait_for("the capable worker's handlers published", LIMIT, || {
        redis::cmd("HEXISTS")
            .arg(format!("{STREAM}:handlers:default"))
            .arg("capable")
            .query::<bool>(&mut conn)
            .unwrap_or(false)
    });
    let mut bare = bare_worker(&redis, &dir, "bare", &fast);
    let bare_started = Instant::now();
    wait_for("both workers reading", LIMIT, || {
        consumers(&mut conn, STREAM, "default") == 2
    });
    const ORDERS: u64 = 1000;
    const NOTES: u64 = 100;
    // Notes: an event the bare worker does not even know by name.
    let notes = (0..NOTES)
        .map(|seq| format!(r#"{{"v":1,"name":"rt.Note","data":{{"seq":{seq}}}}}"#).into_bytes());
    xadd_envelopes(
        &mut conn,
        STREAM,
        (0..ORDERS).map(|seq| order(seq, 0)).chain(notes),
    );
    wait_for("every entry handled by the capable worker", LIMIT, || {
        let handled = Handled::read(&dir.0);
        handled.all("record", 0..ORDERS)
            && handled.all("flaky", 0..ORDERS)
            && handled.all("noted", 0..NOTES)
    });
    wait_for("nothing pending", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    stop(&mut bare);
    stop(&mut capable);
    let handled = Handled::read(&dir.0);
    for (handler, n) in [("record", ORDERS), ("flaky", ORDERS), ("noted", NOTES)] {
        assert_eq!(
            handled.loss_and_duplicates(handler, 0..n),
            (0, 0),
            "{handler}"
        );
    }
    let left = stat(&bare, "left_for_others");
    println!(
        "unlinked handlers: the bare worker received {} and left {left} for the capable one; \
         capable: {}",
        stat(&bare, "received"),
        capable.reported("STATS").unwrap_or_default()
    );
    assert!(
        left > 0,
        "the bare worker received nothing to leave: {}",
        bare.output()
    );
    assert_eq!(stat(&bare, "acked"), 0, "acknowledged unhandled");
    assert_eq!(stat(&bare, "handled"), 0);
    assert_eq!(stat(&bare, "dead_lettered"), 0);
    assert_eq!(stat(&bare, "no_handler"), 0);
    assert_eq!(stat(&capable, "dead_lettered"), 0, "{}", capable.output());
    assert_eq!(
        eventlib::redis::dead_letters(redis.url())
            .unwrap()
            .len()
            .unwrap(),
        0
    );
    // Told in full at most once a second per event, the repeats summed up
    // once a second: at most two lines a second for each of the two events
    // (however long a loaded machine makes the test), never a line per entry.
    let seconds = bare_started.elapsed().as_secs() as usize + 2;
    let lines = bare
        .output()
        .lines()
        .filter(|l| l.contains("handed to other workers"))
        .count();
    assert!(
        lines >= 1 && lines <= 2 * 2 * seconds && (lines as u64) < left,
        "{lines} lines in {seconds} s for {left} entries left:\n{}",
        bare.output()
    );
}

#[test]
fn a_worker_with_no_handler_of_its_group_refuses_to_start_unless_allowed() {
    let redis = RedisServer::start();
    let dir = TempDir::new("empty-group");
    let mut conn = redis.connection();
    let mut refused = bare_worker(&redis, &dir, "refused", &[("group", "audit".into())]);
    assert!(!refused.wait(LIMIT), "started:\n{}", refused.output());
    let error = refused.reported("ERROR").unwrap_or_default();
    assert!(
        error.contains("`group`") || error.contains("group"),
        "{error}"
    );
    assert!(error.contains("no handler of group `audit`"), "{error}");
    assert!(error.contains("use that_crate as _;"), "{error}");
    assert!(error.contains("allow_empty_group(true)"), "{error}");
    assert_eq!(consumers(&mut conn, STREAM, "audit"), 0);

    // Allowed, with no worker of the group anywhere that has a handler:
    // entries are acknowledged as having none, counted and told.
    declare(&redis, &["audit"]);
    let mut last = String::new();
    for seq in 0..10 {
        last = xadd_envelope(&mut conn, STREAM, &order(seq, 0));
    }
    let mut allowed = bare_worker(
        &redis,
        &dir,
        "allowed",
        &[("group", "audit".into()), ("allow_empty", "1".into())],
    );
    wait_for("the entries acknowledged", LIMIT, || {
        last_delivered(&mut conn, "audit") == last && pending(&mut conn, STREAM, "audit") == 0
    });
    stop(&mut allowed);
    assert_eq!(stat(&allowed, "received"), 10, "{}", allowed.output());
    assert_eq!(stat(&allowed, "acked"), 10);
    assert_eq!(stat(&allowed, "no_handler"), 10);
    assert_eq!(stat(&allowed, "handled"), 0);
    assert!(
        allowed
            .output()
            .contains("no live worker of group `audit` has a handler"),
        "{}",
        allowed.output()
    );
}

/// `audit` runs and acknowledges everything before any `default` worker
/// starts; `default` was declared by the producer before the events were
/// written.
#[test]
fn a_group_declared_before_the_events_sees_them_all_though_its_worker_starts_late() {
    let redis = RedisServer::start();
    let dir = TempDir::new("late-group");
    let mut conn = redis.connection();
    const N: u64 = 1000;
    // The producer declares the groups of the handlers linked into it.
    let mut producer = Process::node(
        NODE,
        "producer",
        &dir.0,
        &args("producer", &redis.url(), &[("count", N.to_string())]),
    );
    assert!(producer.wait(LIMIT), "{}", producer.output());
    let mut audit = node_worker(&redis, &dir, "audit", &[("group", "audit".into())]);
    wait_for("audit handled every event", LIMIT, || {
        Handled::read(&dir.0).all("audit", 0..N)
    });
    wait_for("audit acknowledged every event", LIMIT, || {
        pending(&mut conn, STREAM, "audit") == 0
    });
    // Trimming runs every second: give it a few rounds.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        xlen(&mut conn, STREAM),
        N as i64,
        "trimmed before `default` ran"
    );
    let mut default = node_worker(&redis, &dir, "default", &[]);
    wait_for("default handled every event", LIMIT, || {
        let handled = Handled::read(&dir.0);
        handled.all("record", 0..N) && handled.all("flaky", 0..N)
    });
    wait_for(
        "the stream trimmed once both groups are done",
        LIMIT,
        || xlen(&mut conn, STREAM) == 0,
    );
    stop(&mut default);
    stop(&mut audit);
    let handled = Handled::read(&dir.0);
    for handler in ["record", "flaky", "audit"] {
        assert_eq!(
            handled.loss_and_duplicates(handler, 0..N),
            (0, 0),
            "{handler}"
        );
    }
}

/// The other side: a group created after the events were written (by its
/// first worker) starts at the stream's oldest entry and handles what the
/// stream still holds (the audit group kept it from trimming), then what
/// comes after.
#[test]
fn a_group_created_after_the_events_handles_what_the_stream_still_holds() {
    let redis = RedisServer::start();
    let dir = TempDir::new("undeclared-group");
    let mut conn = redis.connection();
    declare(&redis, &["audit"]);
    for seq in 0..100 {
        xadd_envelope(&mut conn, STREAM, &order(seq, 0));
    }
    let mut default = node_worker(&redis, &dir, "default", &[]);
    wait_for("default reading", LIMIT, || {
        consumers(&mut conn, STREAM, "default") == 1
    });
    for seq in 100..150 {
        xadd_envelope(&mut conn, STREAM, &order(seq, 0));
    }
    wait_for(
        "default handled the backlog and what came after",
        LIMIT,
        || Handled::read(&dir.0).all("record", 0..150),
    );
    stop(&mut default);
    assert_eq!(Handled::read(&dir.0).count_handler("record"), 150);
}

/// A worker of `default` running on a fresh server, 20 orders written
/// and each handled and acknowledged.
fn a_worker_that_handled_twenty(name: &str) -> (RedisServer, TempDir, redis::Connection, Process) {
    let redis = RedisServer::start();
    let dir = TempDir::new(name);
    let mut conn = redis.connection();
    let worker = node_worker(&redis, &dir, "w1", &[]);
    wait_for("the worker reading", LIMIT, || {
        consumers(&mut conn, STREAM, "default") == 1
    });
    for seq in 0..20 {
        xadd_envelope(&mut conn, STREAM, &order(seq, 0));
    }
    wait_for("the first entries handled", LIMIT, || {
        Handled::read(&dir.0).all("record", 0..20) && pending(&mut conn, STREAM, "default") == 0
    });
    (redis, dir, conn, worker)
}

/// Stops `worker` and checks it said why it made its group again.
fn stopped_saying_nogroup(worker: &mut Process) {
    stop(worker);
    assert!(
        worker.output().contains("NOGROUP"),
        "the worker did not say why it made the group again:\n{}",
        worker.output()
    );
}

/// The stream deleted under a running worker (its group goes with it):
/// the worker's next read is refused with `NOGROUP`, it makes the group
/// again and handles what is written after.
#[test]
fn a_stream_deleted_under_a_running_worker_is_read_again_once_remade() {
    let (_redis, dir, mut conn, mut worker) = a_worker_that_handled_twenty("deleted-stream");
    let deleted: u64 = redis::cmd("DEL").arg(STREAM).query(&mut conn).unwrap();
    assert_eq!(deleted, 1);
    wait_for("the group made again", LIMIT, || {
        consumers(&mut conn, STREAM, "default") == 1
    });
    for seq in 20..40 {
        xadd_envelope(&mut conn, STREAM, &order(seq, 0));
    }
    wait_for("the later entries handled", LIMIT, || {
        Handled::read(&dir.0).all("record", 20..40)
    });
    stopped_saying_nogroup(&mut worker);
    assert_eq!(
        Handled::read(&dir.0).loss_and_duplicates("record", 0..40),
        (0, 0)
    );
}

/// The group destroyed under a running worker (its stream kept): the
/// worker makes it again at the oldest entry, as documented, so what the
/// stream still holds runs a second time, and says so.
#[test]
fn a_group_destroyed_under_a_running_worker_is_made_again_and_reads_the_stream_again() {
    let (_redis, dir, mut conn, mut worker) = a_worker_that_handled_twenty("destroyed-group");
    let destroyed: u64 = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg(STREAM)
        .arg("default")
        .query(&mut conn)
        .unwrap();
    assert_eq!(destroyed, 1);
    wait_for("the entries handled a second time", LIMIT, || {
        Handled::read(&dir.0).count_handler("record") == 40
    });
    stopped_saying_nogroup(&mut worker);
    assert_eq!(
        Handled::read(&dir.0).loss_and_duplicates("record", 0..20),
        (0, 20)
    );
}

/// Writes `count` copies of `envelope` (a group `default` declared first),
/// runs one worker until each is dead-lettered, and returns it stopped.
fn dead_lettered(
    label: &str,
    envelope: &[u8],
    count: u64,
    reason: &str,
) -> (String, Vec<eventlib::redis::DeadLetter>) {
    let redis = RedisServer::start();
    let dir = TempDir::new(label);
    let mut conn = redis.connection();
    declare(&redis, &["default"]);
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(xadd_envelope(&mut conn, STREAM, envelope));
    }
    let mut worker = node_worker(&redis, &dir, "w", &[]);
    let mut dead = eventlib::redis::dead_letters(redis.url()).expect("url");
    wait_for("every entry dead-lettered", LIMIT, || {
        dead.len().unwrap_or(0) == count
    });
    wait_for("nothing pending", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    stop(&mut worker);
    let letters = dead.list(100).expect("list the dead letters");
    for id in &ids {
        let letter = letters
            .iter()
            .find(|l| &l.source_id == id)
            .unwrap_or_else(|| panic!("no dead letter for {id}"));
        assert!(
            letter.reason.contains(reason),
            "`{}` does not say `{reason}`",
            letter.reason
        );
        assert_eq!(letter.group, "default");
    }
    assert_eq!(stat(&worker, "received"), count);
    assert_eq!(stat(&worker, "dead_lettered"), count);
    assert_eq!(stat(&worker, "acked"), count);
    assert_eq!(stat(&worker, "handled"), 0);
    assert_eq!(stat(&worker, "skipped"), 0);
    assert_eq!(Handled::read(&dir.0).runs.len(), 0);
    (worker.reported("STATS").unwrap_or_default(), letters)
}

/// A counter of a `STATS=` line.
fn counter(stats: &str, name: &str) -> u64 {
    let prefix = format!("{name}=");
    stats
        .split_whitespace()
        .map(|pair| pair.trim_matches(['(', ')']))
        .find_map(|pair| pair.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or_else(|| panic!("no `{name}` in {stats}"))
}

#[test]
fn a_replay_naming_no_linked_handler_is_dead_lettered() {
    let envelope = br#"{"v":1,"name":"rt.Order","data":{"seq":1},"handlers":["nope::x"]}"#;
    let (stats, _) = dead_lettered("replay-handler", envelope, 5, "names handler(s) `nope::x`");
    assert_eq!(counter(&stats, "misdirected"), 5);
}

#[test]
fn a_replay_for_a_group_that_does_not_exist_is_dead_lettered() {
    let envelope = br#"{"v":1,"name":"rt.Order","data":{"seq":1},"group":"nope"}"#;
    let (stats, _) = dead_lettered("replay-group", envelope, 5, "meant for group `nope`");
    assert_eq!(counter(&stats, "misdirected"), 5);
}

#[test]
fn a_json_array_is_not_an_envelope() {
    let envelope =
        br#"[1,"0123456789abcdef0123456789abcdef","rt.Order",1700000000000,{"seq":1},null,null]"#;
    let (stats, _) = dead_lettered("array", envelope, 5, "not a JSON object");
    assert_eq!(counter(&stats, "poison"), 5);
}

#[test]
fn an_emit_time_far_in_the_future_is_dead_lettered() {
    let envelope = format!(
        r#"{{"v":1,"name":"rt.Order","data":{{"seq":1}},"emitted_at":{}}}"#,
        u64::MAX
    );
    let (stats, _) = dead_lettered(
        "future",
        envelope.as_bytes(),
        5,
        "more than a day in the future",
    );
    assert_eq!(counter(&stats, "poison"), 5);
}

#[test]
fn an_entry_over_the_size_limit_is_dead_lettered_without_a_copy() {
    // 3 MiB of data in a valid envelope, over the default 1 MiB.
    let big = format!(
        r#"{{"v":1,"name":"rt.Order","data":{{"seq":1,"tag":"{}"}}}}"#,
        "x".repeat(3 << 20)
    );
    let (stats, letters) = dead_lettered(
        "oversized",
        big.as_bytes(),
        3,
        "over the worker's `max_entry_bytes`",
    );
    assert_eq!(counter(&stats, "oversized"), 3);
    for letter in &letters {
        assert_eq!(letter.envelope, None, "copied whole");
        assert_eq!(letter.fields, None, "copied whole");
        assert!(
            letter.reason.contains(&letter.source_id),
            "{}",
            letter.reason
        );
    }
}

#[test]
fn a_retry_waiting_for_its_backoff_holds_no_thread() {
    let redis = RedisServer::start();
    let dir = TempDir::new("backoff");
    let mut conn = redis.connection();
    declare(&redis, &["default"]);
    const OTHERS: u64 = 1000;
    // Entry 0 fails once; its retry waits 4 to 8 s (8 s, jittered).
    let others = (1..=OTHERS).map(|seq| order(seq, 0));
    xadd_envelopes(
        &mut conn,
        STREAM,
        std::iter::once(order(0, 1)).chain(others),
    );
    let mut worker = node_worker(
        &redis,
        &dir,
        "w",
        &[
            ("concurrency", "1".into()),
            ("backoff_ms", "8000".into()),
            ("backoff_max_ms", "8000".into()),
        ],
    );
    let start = Instant::now();
    let (mut failed_at, mut others_at, mut retried_at) = (None, None, None);
    while retried_at.is_none() {
        assert!(start.elapsed() < LIMIT, "timed out:\n{}", worker.output());
        let handled = Handled::read(&dir.0);
        let now = start.elapsed();
        if failed_at.is_none() && handled.failed("flaky", 0) > 0 {
            failed_at = Some(now);
        }
        if others_at.is_none()
            && handled.all("record", 1..=OTHERS)
            && handled.all("flaky", 1..=OTHERS)
        {
            others_at = Some(now);
        }
        if handled.count("flaky", 0) > 0 {
            retried_at = Some(now);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (failed_at, retried_at) = (
        failed_at.unwrap_or_default(),
        retried_at.unwrap_or_default(),
    );
    println!(
        "backoff: entry 0 failed at {failed_at:?}, the {OTHERS} others were done at \
         {others_at:?}, entry 0 retried at {retried_at:?}"
    );
    let others_at = others_at.expect("the others finished after the retry");
    assert!(others_at < retried_at, "the others waited for the retry");
    assert!(
        retried_at - failed_at >= Duration::from_millis(3800),
        "retried before its backoff: {:?}",
        retried_at - failed_at
    );
    wait_for("nothing pending", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    stop(&mut worker);
    let handled = Handled::read(&dir.0);
    assert_eq!(handled.loss_and_duplicates("record", 0..=OTHERS), (0, 0));
    assert_eq!(handled.loss_and_duplicates("flaky", 0..=OTHERS), (0, 0));
    assert_eq!(handled.failed("flaky", 0), 1);
    assert_eq!(stat(&worker, "deferred"), 1);
    assert_eq!(stat(&worker, "retried"), 1);
    assert_eq!(stat(&worker, "acked"), OTHERS + 1);
    assert_eq!(stat(&worker, "handled"), 2 * (OTHERS + 1));
}

#[test]
fn idle_consumers_with_nothing_pending_are_removed() {
    let redis = RedisServer::start();
    let dir = TempDir::new("cleanup");
    let mut conn = redis.connection();
    for name in ["gone1", "gone2", "gone3"] {
        let mut short = node_worker(&redis, &dir, name, &[]);
        wait_for("the short-lived worker reading", LIMIT, || {
            redis::cmd("XINFO")
                .arg("CONSUMERS")
                .arg(STREAM)
                .arg("default")
                .query::<redis::Value>(&mut conn)
                .map(|v| format!("{v:?}").contains(name))
                .unwrap_or(false)
        });
        stop(&mut short);
    }
    assert_eq!(consumers(&mut conn, STREAM, "default"), 3);
    let mut live = node_worker(&redis, &dir, "live", &[("cleanup_ms", "1500".into())]);
    let took = wait_for("the group down to the live consumer", LIMIT, || {
        let value: redis::Value = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(STREAM)
            .arg("default")
            .query(&mut conn)
            .expect("XINFO CONSUMERS");
        consumers(&mut conn, STREAM, "default") == 1 && format!("{value:?}").contains("live")
    });
    println!("cleanup: 3 idle consumers removed within {took:?}");
    stop(&mut live);
    assert_eq!(stat(&live, "consumers_removed"), 3);
}

/// A rolling deploy that adds a handler to an event that has one: the old
/// build runs the handler it has, then leaves the entry to a new worker,
/// which runs only the added one.
#[test]
fn an_old_build_leaves_the_handler_it_lacks_to_a_new_one_and_nothing_runs_twice() {
    let redis = RedisServer::start();
    let dir = TempDir::new("added-handler");
    let mut conn = redis.connection();
    declare(&redis, &["default"]);
    let fast = [
        ("visibility_ms", "1000".to_owned()),
        ("block_ms", "200".to_owned()),
    ];
    let mut new = node_worker(&redis, &dir, "new", &fast);
    let mut old = bare_worker(&redis, &dir, "old", &fast);
    sets_published(&mut conn, 2);
    // The old worker reads the sets on its heartbeat (a third of 1 s).
    std::thread::sleep(Duration::from_millis(700));
    const N: u64 = 300;
    split_entries_handled(&mut conn, &dir, N);
    stop(&mut old);
    stop(&mut new);
    split_handled_once(&dir, N);
    println!(
        "added handler: the old build ran `first` {} times and left {} entries; new: {}",
        stat(&old, "handled"),
        stat(&old, "left_for_others"),
        new.reported("STATS").unwrap_or_default()
    );
    assert_eq!(stat(&old, "acked"), 0, "the old build acknowledged entries");
    assert_eq!(stat(&old, "left_for_others"), stat(&old, "received"));
}

/// A rolling deploy on the default visibility timeout (60 s): the entries
/// an old build hands to a new worker are taken by it within about a
/// second each, not after the visibility timeout, and the old build says
/// what is happening.
#[test]
fn entries_an_old_build_leaves_reach_a_new_worker_without_waiting_for_the_visibility_timeout() {
    let redis = RedisServer::start();
    let dir = TempDir::new("handed-over");
    let mut conn = redis.connection();
    declare(&redis, &["default"]);
    let mut new = node_worker(&redis, &dir, "new", &[]);
    sets_published(&mut conn, 1);
    // Started second, the old build reads the new worker's set at start.
    let mut old = bare_worker(&redis, &dir, "old", &[]);
    sets_published(&mut conn, 2);
    const N: u64 = 215;
    let drained = split_entries_handled(&mut conn, &dir, N);
    stop(&mut old);
    stop(&mut new);
    split_handled_once(&dir, N);
    let left = stat(&old, "left_for_others");
    println!("handed over: {left} of {N} entries left by the old build; all done in {drained:?}");
    assert!(left > 0, "the old build left nothing: {}", old.output());
    assert!(
        drained < Duration::from_secs(20),
        "{left} entries handed over took {drained:?}: they waited for the visibility timeout"
    );
    assert_eq!(stat(&new, "dead_lettered"), 0, "{}", new.output());
    // Stopped by a signal that cut a blocked read: not a reconnection.
    assert_eq!(stat(&new, "reconnects"), 0, "{}", new.output());
    assert_eq!(stat(&old, "reconnects"), 0, "{}", old.output());
    let told = old.output();
    assert!(told.contains("handed to other workers"), "{told}");
    assert!(told.contains("rolling deploy"), "{told}");
    assert!(!told.contains("use that_crate"), "{told}");
}

/// A replay naming a handler that exists (and fails once) and one that does
/// not: one dead letter for the missing one, however many deliveries the
/// retry takes; the other runs alone.
#[test]
fn a_replay_naming_a_missing_handler_next_to_a_retried_one_is_dead_lettered_once() {
    let redis = RedisServer::start();
    let dir = TempDir::new("replay-mixed");
    let mut conn = redis.connection();
    declare(&redis, &["default"]);
    let envelope = br#"{"v":1,"name":"rt.Order","data":{"seq":7,"fail_times":2},
        "handlers":["eventlib_redis_node::Order::flaky","nope::x"]}"#;
    xadd_envelope(&mut conn, STREAM, envelope);
    let mut worker = node_worker(
        &redis,
        &dir,
        "w",
        &[
            ("backoff_ms", "100".into()),
            ("backoff_max_ms", "100".into()),
        ],
    );
    wait_for("flaky to succeed", LIMIT, || {
        Handled::read(&dir.0).count("flaky", 7) == 1
    });
    wait_for("nothing pending", LIMIT, || {
        pending(&mut conn, STREAM, "default") == 0
    });
    stop(&mut worker);
    let letters = eventlib::redis::dead_letters(redis.url())
        .unwrap()
        .list(10)
        .unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0].reason.contains("`nope::x`"),
        "{}",
        letters[0].reason
    );
    assert!(
        !letters[0].reason.contains("flaky"),
        "{}",
        letters[0].reason
    );
    let handled = Handled::read(&dir.0);
    assert_eq!(handled.failed("flaky", 7), 2);
    assert_eq!(
        handled.count("record", 7),
        0,
        "a sibling the replay did not name ran"
    );
    assert_eq!(stat(&worker, "misdirected"), 1);
    assert_eq!(stat(&worker, "dead_lettered"), 1);
    assert_eq!(stat(&worker, "deferred"), 2);
    assert_eq!(stat(&worker, "acked"), 1);
    assert_eq!(stat(&worker, "handled"), 1);
}
