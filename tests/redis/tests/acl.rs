//! The ACL users of `docs/security.md` ("Security of the Redis stream"), read
//! from the page and created on a real redis-server: a producer, workers
//! (two groups, retries, dead letters, handler sets, consumer cleanup,
//! trimming, `stop_when_idle`, once per event id) and the dashboard
//! (read-write and read-only, over a real socket) run under them, every
//! event is handled, and `ACL LOG` stays empty until the read-only user
//! tries to write; the same on a stream split into partitions, and on
//! another, hash-tagged stream key split into partitions under the lines
//! rewritten as the page says.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use eventlib::redis::{dead_letters, declare_groups, DEFAULT_STREAM};
use eventlib_axum::Dashboard;
use eventlib_redis_tests::acl::{
    acl_log, create_documented_users, create_documented_users_for, AclUser,
};
use eventlib_redis_tests::xlen;
use eventlib_redis_tests::{args, produced, Handled, Process, RedisServer, TempDir};

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");

/// The line a producer prints when its user may not declare groups.
const UNDECLARED: &str = "does not let this producer declare";

fn url(redis: &RedisServer, user: &str) -> String {
    AclUser::named(user).url(redis.port)
}

/// Runs a producer node under the documented producer user to its end.
fn produce(redis: &RedisServer, dir: &TempDir, name: &str, pairs: &[(&str, String)]) -> Process {
    let mut pairs = pairs.to_vec();
    pairs.push(("name", name.to_owned()));
    let mut producer = Process::node(
        NODE,
        name,
        &dir.0,
        &args("producer", &url(redis, "eventlib-producer"), &pairs),
    );
    assert!(
        producer.wait(Duration::from_secs(60)),
        "{name} did not deliver everything: {}",
        producer.output()
    );
    producer
}

/// Waits for `workers` to end on their own (at most `limit` each), and
/// fails with the output of one that did not, or failed.
fn finish(workers: &mut [Process], limit: Duration) {
    for worker in workers {
        assert!(
            worker.wait(limit),
            "{} failed: {}",
            worker.name,
            worker.output()
        );
    }
}

#[test]
fn the_documented_users_run_producer_workers_and_dashboard_with_nothing_denied() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let users = create_documented_users(&mut conn);
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "eventlib-producer",
            "eventlib-worker",
            "eventlib-operator",
            "eventlib-viewer"
        ]
    );
    let dir = TempDir::new("acl");

    // The producer declares the groups it links (the default), then sends
    // 100 events whose `flaky` handler fails once, 10 whose fails for good.
    let retried = produce(
        &redis,
        &dir,
        "retried",
        &[("count", "100".into()), ("fail_times", "1".into())],
    );
    let doomed = produce(
        &redis,
        &dir,
        "doomed",
        &[
            ("start", "100".into()),
            ("count", "10".into()),
            ("fail_times", "100".into()),
        ],
    );
    for producer in [&retried, &doomed] {
        let stats = producer.reported("STATS").expect("the producer's stats");
        assert!(
            stats.contains("undelivered=0") && stats.contains("groups_undeclared=0"),
            "{}",
            producer.output()
        );
    }
    assert_eq!(produced(&dir.0, "retried").len(), 100);
    assert_eq!(produced(&dir.0, "doomed").len(), 10);

    // A consumer gone long ago, with nothing pending: cleanup removes it.
    redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(DEFAULT_STREAM)
        .arg("default")
        .arg("ghost")
        .exec(&mut conn)
        .unwrap();

    let worker_url = url(&redis, "eventlib-worker");
    let mut workers: Vec<Process> = [("w1", "default"), ("w2", "default"), ("w3", "audit")]
        .into_iter()
        .map(|(consumer, group)| {
            let pairs = [
                ("consumer", consumer.to_owned()),
                ("group", group.to_owned()),
                ("max_attempts", "3".into()),
                ("backoff_ms", "20".into()),
                ("backoff_max_ms", "100".into()),
                ("cleanup_ms", "1000".into()),
                // Short, so that heartbeats (`XCLAIM ... JUSTID`) run too.
                ("visibility_ms", "3000".into()),
                ("idle_ms", "3000".into()),
                // The default group runs each event id once: its markers
                // are looked up and written under the same user.
                (
                    "once_ms",
                    if group == "default" { "600000" } else { "0" }.into(),
                ),
            ];
            Process::node(NODE, consumer, &dir.0, &args("worker", &worker_url, &pairs))
        })
        .collect();
    // `stop_when_idle` ends each worker on its own once its group is drained.
    finish(&mut workers, Duration::from_secs(60));

    let handled = Handled::read(&dir.0);
    assert_eq!(handled.loss_and_duplicates("record", 0..110), (0, 0));
    assert_eq!(markers(&mut conn, "default"), 110);
    assert_eq!(markers(&mut conn, "audit"), 0);
    assert_eq!(handled.loss_and_duplicates("flaky", 0..100), (0, 0));
    assert_eq!(handled.loss_and_duplicates("audit", 0..110), (0, 0));
    assert!((0..100).all(|seq| handled.failed("flaky", seq) == 1));
    assert!((100..110).all(|seq| handled.failed("flaky", seq) == 3));
    let mut dead = dead_letters(url(&redis, "eventlib-operator")).unwrap();
    assert_eq!(dead.len().unwrap(), 10);
    let consumers: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(DEFAULT_STREAM)
        .arg("default")
        .query(&mut conn)
        .unwrap();
    let ghost = redis::Value::BulkString(b"ghost".to_vec());
    assert!(
        consumers.iter().all(|c| c.get("name") != Some(&ghost)),
        "the idle consumer was not removed: {consumers:?}"
    );
    let published: usize = redis::cmd("HLEN")
        .arg(format!("{DEFAULT_STREAM}:handlers:default"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        published, 0,
        "the stopped workers withdraw their handler sets"
    );
    assert_eq!(acl_log(&mut conn), Vec::<String>::new());
    // The figures the workers published, read by the read-only user.
    let viewer = url(&redis, "eventlib-viewer");
    let minutes =
        eventlib::redis::timeline(&viewer, DEFAULT_STREAM, eventlib::redis::Span::Minutes(10))
            .unwrap();
    let handled: u64 = minutes
        .iter()
        .map(|m| m.event("rt.Order").get(eventlib::redis::Count::Handled))
        .sum();
    assert_eq!(handled, 110 + 100 + 110, "record, flaky and audit runs");
    // The stopped workers withdrew their lines; the producer, which
    // exited after `flush` without `shutdown`, is listed until its line
    // goes stale.
    let live = eventlib::redis::live_processes(&viewer, DEFAULT_STREAM).unwrap();
    assert!(live.values().all(|p| p.kind == "producer"), "{live:?}");
    let sent: u64 = minutes.iter().map(|m| m.produced(None).sent).sum();
    assert!(sent > 0, "the producer published what it sent: {minutes:?}");
    assert_eq!(acl_log(&mut conn), Vec::<String>::new());

    dashboard(&redis);
    assert_eq!(acl_log(&mut conn), Vec::<String>::new());

    // The read-only user cannot write: a purge is refused by Redis.
    let mut viewer = dead_letters(url(&redis, "eventlib-viewer")).unwrap();
    let letter = viewer.list(1).unwrap().remove(0);
    let refused = viewer
        .remove(&letter)
        .expect_err("the viewer may not purge");
    assert!(refused.to_string().contains("no permissions"), "{refused}");
    let log = acl_log(&mut conn);
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0].contains("eventlib-viewer") && log[0].contains("xdel"),
        "{log:?}"
    );
}

/// How many events group `group` marked finished (`once_per_event_id`),
/// over the stream and its partitions.
fn markers(conn: &mut redis::Connection, group: &str) -> usize {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("*:done:{group}:*"))
        .query(conn)
        .expect("KEYS");
    keys.len()
}

/// The dashboard under the operator's user (pages, a replay) and under the
/// viewer's (`read_only`, pages), over a real socket.
fn dashboard(redis: &RedisServer) {
    let app = axum::Router::new()
        .merge(
            Dashboard::new("/ops")
                .redis(url(redis, "eventlib-operator"), DEFAULT_STREAM)
                .router(),
        )
        .merge(
            Dashboard::new("/view")
                .redis(url(redis, "eventlib-viewer"), DEFAULT_STREAM)
                .read_only()
                .router(),
        );
    let addr = serve(app);
    let mut dead = dead_letters(url(redis, "eventlib-operator")).unwrap();
    let id = dead.list(1).unwrap().remove(0).id;
    for prefix in ["/ops", "/view"] {
        let (status, overview) = get(addr, prefix, &[]);
        assert_eq!(status, 200, "{overview}");
        assert!(
            overview.contains("10 dead letter(s)") && overview.contains("audit"),
            "{overview}"
        );
        let (status, list) = get(addr, &format!("{prefix}/dead"), &[]);
        assert_eq!(status, 200, "{list}");
        assert!(list.contains(&id), "{list}");
        let (status, shown) = get(addr, &format!("{prefix}/dead/{id}"), &[]);
        assert_eq!(status, 200, "{shown}");
        assert!(shown.contains("rt.Order"), "{shown}");
    }

    // The operator replays one letter with the page's form.
    let (_, list, cookie) = request(addr, "GET", "/ops/dead", &[], b"");
    let token = list
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form token");
    let id = list
        .split("name=\"id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a letter in the form");
    let cookie = format!("Cookie: {}", cookie.expect("a session cookie"));
    let form = format!("csrf={token}&id={id}");
    let (status, body, _) = request(
        addr,
        "POST",
        "/ops/dead/replay",
        &[
            "Content-Type: application/x-www-form-urlencoded",
            cookie.as_str(),
        ],
        form.as_bytes(),
    );
    assert_eq!(status, 303, "{body}");
    assert_eq!(dead.len().unwrap(), 9);
}

/// Serves `app` on a free loopback port from a runtime of its own.
fn serve(app: axum::Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn get(addr: SocketAddr, path: &str, headers: &[&str]) -> (u16, String) {
    let (status, body, _) = request(addr, "GET", path, headers, b"");
    (status, body)
}

/// One HTTP/1.1 request on a fresh connection: status, body, and the
/// `name=value` of the `Set-Cookie` header if any.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> (u16, String, Option<String>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cookie = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("set-cookie")
            .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
    });
    (status, body.to_owned(), cookie)
}

/// Without `+xgroup|create`, as the page allows, the producer still
/// delivers every event: it tries to declare its groups once, says so
/// once, counts them, and sends.
#[test]
fn a_producer_that_may_not_create_groups_still_delivers_every_event() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_documented_users(&mut conn);
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("eventlib-producer")
        .arg("-xgroup|create")
        .exec(&mut conn)
        .unwrap();
    // At deploy, as the page says: the groups, under the worker's user.
    declare_groups(
        url(&redis, "eventlib-worker"),
        DEFAULT_STREAM,
        &["default", "audit"],
    )
    .expect("the worker's user declares the groups");
    let dir = TempDir::new("acl-undeclared");
    let producer = produce(&redis, &dir, "p", &[("count", "300".into())]);
    let output = producer.output();
    let stats = producer.reported("STATS").expect("the producer's stats");
    assert!(
        stats.contains("delivered=300")
            && stats.contains("undelivered=0")
            && stats.contains("groups_undeclared=2"),
        "{output}"
    );
    assert_eq!(output.matches(UNDECLARED).count(), 1, "{output}");
    assert_eq!(produced(&dir.0, "p").len(), 300);
    assert_eq!(xlen(&mut conn, DEFAULT_STREAM), 300);
    let log = acl_log(&mut conn);
    assert_eq!(
        log,
        ["user `eventlib-producer` denied command `xgroup|create` (toplevel, 1 time(s))"]
    );
}

#[test]
fn a_producer_that_may_not_publish_its_figures_still_delivers_every_event() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_documented_users(&mut conn);
    // A producer user from before producers published figures: the
    // stream alone.
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("eventlib-producer")
        .arg("resetkeys")
        .arg("~eventlib:events")
        .exec(&mut conn)
        .unwrap();
    let dir = TempDir::new("acl-no-figures");
    let producer = produce(
        &redis,
        &dir,
        "p",
        &[("count", "300".into()), ("end", "shutdown".into())],
    );
    let output = producer.output();
    let stats = producer.reported("STATS").expect("the producer's stats");
    assert!(
        stats.contains("delivered=300") && stats.contains("undelivered=0"),
        "{output}"
    );
    assert!(output.contains("SHUTDOWN_CLEAN=true"), "{output}");
    assert_eq!(
        output.matches("refuses this producer's figures").count(),
        1,
        "said once: {output}"
    );
    assert_eq!(produced(&dir.0, "p").len(), 300);
    assert_eq!(xlen(&mut conn, DEFAULT_STREAM), 300);
    // One transaction denied (a line per key it named), then not tried
    // again, at shutdown neither.
    let log = acl_log(&mut conn);
    assert!(!log.is_empty(), "{log:?}");
    assert!(
        log.iter().all(
            |line| line.starts_with("user `eventlib-producer` denied key")
                && line.ends_with("(multi, 1 time(s))")
        ),
        "{log:?}"
    );
}

/// A stream split into 6 partitions, under the same documented users: the
/// producer records the count and writes each partition, two workers share
/// the partitions through their leases (retries and dead letters beside
/// each partition), and the operator and the viewer read and act across
/// them, with nothing denied.
#[test]
fn the_documented_users_run_a_partitioned_stream_with_nothing_denied() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_documented_users(&mut conn);
    let dir = TempDir::new("acl-partitions");
    let parts = ("partitions", "6".to_owned());
    let producer = produce(
        &redis,
        &dir,
        "p",
        &[
            ("count", "120".into()),
            ("fail_times", "100".into()),
            ("keys", "12".into()),
            parts.clone(),
        ],
    );
    let stats = producer.reported("STATS").expect("the producer's stats");
    assert!(
        stats.contains("delivered=120") && stats.contains("undelivered=0"),
        "{}",
        producer.output()
    );
    assert_eq!(produced(&dir.0, "p").len(), 120);
    let worker_url = url(&redis, "eventlib-worker");
    let mut workers: Vec<Process> = ["w1", "w2"]
        .into_iter()
        .map(|consumer| {
            let pairs = [
                ("consumer", consumer.to_owned()),
                ("max_attempts", "2".into()),
                ("backoff_ms", "20".into()),
                ("backoff_max_ms", "50".into()),
                ("idle_ms", "3000".into()),
                ("once_ms", "600000".into()),
                parts.clone(),
            ];
            Process::node(NODE, consumer, &dir.0, &args("worker", &worker_url, &pairs))
        })
        .collect();
    finish(&mut workers, Duration::from_secs(90));
    let handled = Handled::read(&dir.0);
    assert_eq!(handled.loss_and_duplicates("record", 0..120), (0, 0));
    // Every event failed for good in `flaky`: a dead-lettered event is
    // finished too, so each has its marker.
    assert_eq!(markers(&mut conn, "default"), 120);
    assert_eq!(acl_log(&mut conn), Vec::<String>::new());

    // The operator across the partitions: status, dead letters (every
    // `flaky` run failed for good), a pause and a replay.
    let mut op = eventlib::redis::Operator::new(url(&redis, "eventlib-operator").as_str())
        .unwrap()
        .stream(DEFAULT_STREAM);
    let status = op.status().unwrap();
    assert_eq!(status.partitions.len(), 6, "{status:?}");
    assert_eq!(status.dead_letters, 120);
    assert!(op.pause("default", None, "acl test").unwrap());
    assert_eq!(op.pauses().unwrap().len(), 1);
    assert!(op.resume("default", None).unwrap());
    let mut dead = op.dead_letters();
    let letter = dead.list(1).unwrap().remove(0);
    assert!(letter.partition.is_some());
    dead.replay(&letter).unwrap();
    assert_eq!(dead.len().unwrap(), 119);
    assert_eq!(acl_log(&mut conn), Vec::<String>::new());

    // The viewer reads the same, and may not replay.
    let mut viewer = eventlib::redis::Operator::new(url(&redis, "eventlib-viewer").as_str())
        .unwrap()
        .stream(DEFAULT_STREAM);
    assert_eq!(viewer.status().unwrap().partitions.len(), 6);
    let mut dead = viewer.dead_letters();
    assert_eq!(dead.len().unwrap(), 119);
    let letter = dead.list(1).unwrap().remove(0);
    assert!(dead.replay(&letter).is_err());
    let log = acl_log(&mut conn);
    assert!(!log.is_empty(), "the viewer's replay was not refused");
    assert!(
        log.iter()
            .all(|line| line.contains("eventlib-viewer") && line.contains("(multi,")),
        "{log:?}"
    );
}

/// Another stream key, hash-tagged and split into partitions, under the
/// documented users rewritten as the page says for another key: the
/// producer writes every partition, two workers handle everything, and
/// nothing is denied.
#[test]
fn the_documented_users_for_another_hash_tagged_key_run_its_partitions_with_nothing_denied() {
    const STREAM: &str = "{shop}:events";
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    for user in create_documented_users_for(&mut conn, STREAM) {
        assert!(
            !user.args.iter().any(|a| a.contains("eventlib:events")),
            "{:?}",
            user.args
        );
    }
    let dir = TempDir::new("acl-tagged-partitions");
    let common = [
        ("stream", STREAM.to_owned()),
        ("partitions", "4".to_owned()),
    ];
    let mut pairs = common.to_vec();
    pairs.extend([("count", "80".into()), ("keys", "8".into())]);
    let producer = produce(&redis, &dir, "p", &pairs);
    assert!(
        producer
            .reported("STATS")
            .is_some_and(|s| s.contains("delivered=80") && s.contains("undelivered=0")),
        "{}",
        producer.output()
    );
    let keys = eventlib::redis::partition_keys(STREAM, 4).unwrap();
    let written: i64 = keys.iter().map(|key| xlen(&mut conn, key)).sum();
    assert_eq!(written, 80, "{keys:?}");
    let worker_url = url(&redis, "eventlib-worker");
    let mut workers: Vec<Process> = ["w1", "w2"]
        .into_iter()
        .map(|consumer| {
            let mut pairs = common.to_vec();
            pairs.extend([
                ("consumer", consumer.to_owned()),
                ("idle_ms", "3000".into()),
                ("once_ms", "600000".into()),
            ]);
            Process::node(NODE, consumer, &dir.0, &args("worker", &worker_url, &pairs))
        })
        .collect();
    finish(&mut workers, Duration::from_secs(90));
    let handled = Handled::read(&dir.0);
    assert_eq!(handled.loss_and_duplicates("record", 0..80), (0, 0));
    let mut op = eventlib::redis::Operator::new(url(&redis, "eventlib-operator").as_str())
        .unwrap()
        .stream(STREAM);
    assert_eq!(op.status().unwrap().partitions.len(), 4);
    assert!(op.pause("default", None, "acl test").unwrap());
    assert_eq!(op.pauses().unwrap().len(), 1);
    assert!(op.resume("default", None).unwrap());
    assert_eq!(acl_log(&mut conn), Vec::<String>::new());
}

/// A worker whose Redis user lacks a command it retries says so on
/// standard error (the node installs no logger), once per stretch of
/// failures rather than never: without `+xack` its acknowledgements are
/// refused (what it handles stays pending), without `+xreadgroup` it
/// reads nothing, without `+xtrim` the stream grows.
#[test]
fn a_worker_refused_a_command_it_retries_says_so_once() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_documented_users(&mut conn);
    let dir = TempDir::new("acl-refused");
    produce(&redis, &dir, "p", &[("count", "20".into())]);
    for (denied, told) in [
        ("-xack", "did not take the acknowledgement of"),
        ("-xreadgroup", "cannot read `eventlib:events`"),
        ("-xtrim", "cannot trim the stream"),
    ] {
        create_documented_users(&mut conn);
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg("eventlib-worker")
            .arg(denied)
            .exec(&mut conn)
            .unwrap();
        let name = format!("w{denied}");
        let worker = Process::node(
            NODE,
            &name,
            &dir.0,
            &args(
                "worker",
                &url(&redis, "eventlib-worker"),
                &[("consumer", name.clone()), ("group", "default".into())],
            ),
        );
        eventlib_redis_tests::wait_for(
            &format!("{name} to say it"),
            Duration::from_secs(20),
            || worker.output().contains(told),
        );
        // Several retries later, still one line.
        std::thread::sleep(Duration::from_secs(3));
        let output = worker.output();
        assert_eq!(output.matches(told).count(), 1, "{output}");
        assert!(output.contains("no permissions"), "{output}");
        drop(worker);
    }
}
