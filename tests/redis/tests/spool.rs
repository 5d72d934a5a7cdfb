//! The producer's durable outbox (`RedisTransport::spool`) with real
//! processes: what `log!` accepted survives `kill -9` of the producer
//! while Redis is down, reaches the stream after a restart with its event
//! id, and leaves no confirmed segment behind; an unusable directory and a
//! full disk are clear errors.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use eventlib_redis_tests::{args, produced, wait_for, xlen, Process, RedisServer, TempDir};

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");
const STREAM: &str = "eventlib:events";
const LIMIT: Duration = Duration::from_secs(120);

fn spool_producer(url: &str, out: &TempDir, name: &str, pairs: &[(&str, String)]) -> Process {
    Process::node(NODE, name, &out.0, &args("spool_producer", url, pairs))
}

/// A stream entry as `XRANGE` returns it: id, then field-value pairs.
type Entry = (String, Vec<(String, Vec<u8>)>);

/// Every envelope in the stream: (event id, seq).
fn stream_events(conn: &mut redis::Connection) -> Vec<(String, u64)> {
    let entries: Vec<Entry> = redis::cmd("XRANGE")
        .arg(STREAM)
        .arg("-")
        .arg("+")
        .query(conn)
        .expect("XRANGE");
    entries
        .into_iter()
        .map(|(_, fields)| {
            let (_, envelope) = fields.into_iter().next().expect("one field per entry");
            let envelope: serde_json::Value =
                serde_json::from_slice(&envelope).expect("a JSON envelope");
            (
                envelope["id"].as_str().expect("an id").to_owned(),
                envelope["data"]["seq"].as_u64().expect("a seq"),
            )
        })
        .collect()
}

/// The segment files of a spool directory that still hold something.
fn non_empty_segments(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read the spool directory")
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".seg"))
        .filter(|entry| entry.metadata().is_ok_and(|m| m.len() > 0))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_producer_killed_while_redis_is_down_sends_everything_after_a_restart() {
    const N: u64 = 10_000;
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill9();
    let out = TempDir::new("spool-kill9");
    let spool = out.0.join("spool");
    let spool_arg = spool.to_string_lossy().into_owned();
    let pairs = [
        ("dir", spool_arg.clone()),
        ("count", N.to_string()),
        ("segment", (256 * 1024).to_string()),
    ];
    let mut first = spool_producer(&url, &out, "first", &pairs);
    wait_for("the first producer to log every event", LIMIT, || {
        first.reported("LOGGED").is_some()
    });
    assert_eq!(
        first.reported("REFUSED").as_deref(),
        Some("0"),
        "{}",
        first.output()
    );
    first.kill9();
    assert!(
        non_empty_segments(&spool).len() > 1,
        "the events are in several segments"
    );

    redis.restart();
    let mut second = spool_producer(
        &url,
        &out,
        "second",
        &[("dir", spool_arg), ("count", "0".to_owned())],
    );
    assert!(second.wait(LIMIT), "{}", second.output());
    assert_eq!(
        second.reported("BACKLOG").as_deref(),
        Some("0"),
        "{}",
        second.output()
    );
    assert_eq!(
        second.reported("RESENT"),
        Some(N.to_string()),
        "{}",
        second.output()
    );

    let mut conn = redis.connection();
    let events = stream_events(&mut conn);
    let ids: HashSet<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
    let seqs: BTreeSet<u64> = events.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(ids.len() as u64, N, "distinct event ids in the stream");
    assert_eq!(seqs, (0..N).collect::<BTreeSet<u64>>(), "every seq");
    // Redis was down the whole time the first producer ran: nothing could
    // have been sent twice.
    assert_eq!(xlen(&mut conn, STREAM), N as i64);
    assert_eq!(non_empty_segments(&spool), Vec::<String>::new());
}

#[test]
fn a_producer_killed_while_sending_loses_nothing_and_repeats_only_with_the_same_ids() {
    const N: u64 = 30_000;
    let redis = RedisServer::start();
    let out = TempDir::new("spool-midway");
    let spool = out.0.join("spool");
    let spool_arg = spool.to_string_lossy().into_owned();
    let pairs = [
        ("dir", spool_arg.clone()),
        ("name", "first".to_owned()),
        ("count", N.to_string()),
        ("segment", (64 * 1024).to_string()),
    ];
    let mut first = spool_producer(&redis.url(), &out, "first", &pairs);
    let mut conn = redis.connection();
    wait_for("the first producer to send some events", LIMIT, || {
        xlen(&mut conn, STREAM) > 0
    });
    first.kill9();
    let sent_before = xlen(&mut conn, STREAM);
    let logged = produced(&out.0, "first");
    assert!(
        (logged.len() as i64) >= sent_before && logged.len() < N as usize,
        "killed while logging and sending: {} logged, {sent_before} sent",
        logged.len()
    );

    let mut second = spool_producer(
        &redis.url(),
        &out,
        "second",
        &[
            ("dir", spool_arg),
            ("name", "second".to_owned()),
            ("start", N.to_string()),
            ("count", "100".to_owned()),
        ],
    );
    assert!(second.wait(LIMIT), "{}", second.output());
    assert_eq!(second.reported("BACKLOG").as_deref(), Some("0"));

    let events = stream_events(&mut conn);
    let mut seq_of: HashMap<&str, u64> = HashMap::new();
    let mut id_of: HashMap<u64, &str> = HashMap::new();
    for (id, seq) in &events {
        let previous = seq_of.insert(id.as_str(), *seq);
        assert!(
            previous.is_none_or(|p| p == *seq),
            "one id for two events: {id}"
        );
        let previous = id_of.insert(*seq, id.as_str());
        assert!(
            previous.is_none_or(|p| p == id),
            "seq {seq} sent with two ids"
        );
    }
    let accepted: Vec<u64> = logged
        .iter()
        .copied()
        .chain(produced(&out.0, "second"))
        .collect();
    let missing: Vec<u64> = accepted
        .iter()
        .copied()
        .filter(|seq| !id_of.contains_key(seq))
        .collect();
    assert!(
        missing.is_empty(),
        "{} accepted events lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    let duplicates = events.len() - id_of.len();
    println!(
        "logged before the kill: {}, in the stream at the kill: {sent_before}, sent twice \
         (same id): {duplicates}",
        logged.len()
    );
    assert_eq!(non_empty_segments(&spool), Vec::<String>::new());
}

#[test]
fn four_threads_through_a_spool_deliver_every_event_once() {
    const N: u64 = 100_000;
    let redis = RedisServer::start();
    let out = TempDir::new("spool-threads");
    let spool = out.0.join("spool");
    let pairs = [
        ("outbox", "never".to_owned()),
        ("dir", spool.to_string_lossy().into_owned()),
        ("count", N.to_string()),
        ("threads", "4".to_owned()),
    ];
    let mut producer = Process::node(
        NODE,
        "threads",
        &out.0,
        &args("bench_producer", &redis.url(), &pairs),
    );
    assert!(producer.wait(LIMIT), "{}", producer.output());
    let output = producer.output();
    assert!(
        output.contains("abandoned=0"),
        "flush saw every event confirmed: {output}"
    );
    let mut conn = redis.connection();
    let events = stream_events(&mut conn);
    let ids: HashSet<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
    let seqs: BTreeSet<u64> = events.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(events.len() as u64, N, "entries in the stream");
    assert_eq!(ids.len() as u64, N, "distinct ids");
    assert_eq!(seqs, (0..N).collect::<BTreeSet<u64>>());
    // The spool records a confirmation before `flush` hears of it.
    assert_eq!(non_empty_segments(&spool), Vec::<String>::new());
}

#[test]
fn spooled_events_redis_refuses_for_good_are_given_up_and_leave_the_spool() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    redis::cmd("SET")
        .arg(STREAM)
        .arg("not a stream")
        .exec(&mut conn)
        .expect("SET");
    let out = TempDir::new("spool-refused");
    let spool = out.0.join("spool");
    let mut producer = spool_producer(
        &redis.url(),
        &out,
        "refused",
        &[
            ("dir", spool.to_string_lossy().into_owned()),
            ("count", "1000".to_owned()),
            ("drain_secs", "20".to_owned()),
        ],
    );
    assert!(producer.wait(LIMIT), "{}", producer.output());
    let output = producer.output();
    assert_eq!(
        producer.reported("DROPPED").as_deref(),
        Some("1000"),
        "{output}"
    );
    assert_eq!(
        producer.reported("ABANDONED").as_deref(),
        Some("0"),
        "{output}"
    );
    assert_eq!(
        producer.reported("CLEAN").as_deref(),
        Some("false"),
        "{output}"
    );
    assert_eq!(
        producer.reported("BACKLOG").as_deref(),
        Some("0"),
        "{output}"
    );
    assert!(output.contains("WRONGTYPE"), "{output}");
    assert_eq!(non_empty_segments(&spool), Vec::<String>::new());
}

#[test]
fn an_unusable_spool_directory_is_a_configuration_error() {
    let redis = RedisServer::start();
    let out = TempDir::new("spool-unusable");
    let file = out.0.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let below_a_file = file.join("spool").to_string_lossy().into_owned();
    let mut producer = spool_producer(
        &redis.url(),
        &out,
        "unusable",
        &[("dir", below_a_file), ("count", "10".to_owned())],
    );
    assert!(!producer.wait(LIMIT), "{}", producer.output());
    assert_eq!(
        producer.reported("CONFIG_ERROR").as_deref(),
        Some("true"),
        "{}",
        producer.output()
    );
    let error = producer.reported("SPOOL_ERROR").unwrap_or_default();
    assert!(error.contains("spool"), "{error}");
    assert!(error.contains("unusable"), "{error}");
}

/// Needs root: mounts a 1 MiB tmpfs as the spool directory and fills it.
#[test]
#[ignore = "needs root (mounts a tmpfs); run with --ignored"]
fn a_full_disk_refuses_events_with_a_transport_error() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut redis = redis;
    redis.kill9();
    let out = TempDir::new("spool-full");
    let spool = out.0.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&spool)
        .status()
        .expect("run mount");
    assert!(status.success(), "mount a tmpfs (needs root)");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&spool);
    let mut producer = spool_producer(
        &url,
        &out,
        "full",
        &[
            ("dir", spool.to_string_lossy().into_owned()),
            ("count", "20000".to_owned()),
            ("drain_secs", "1".to_owned()),
        ],
    );
    producer.wait(LIMIT);
    let output = producer.output();
    let refused: u64 = producer
        .reported("REFUSED")
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{output}"));
    assert!(refused > 0 && refused < 20_000, "{output}");
    assert_eq!(
        producer.reported("TRANSPORT_ERROR").as_deref(),
        Some("true"),
        "{output}"
    );
    let error = producer.reported("LOG_ERROR").unwrap_or_default();
    assert!(error.contains("spool write failed"), "{error}");
    assert!(error.contains("No space left"), "{error}");
}

/// The cost of the spool on `log!`: each fsync policy against the
/// in-memory outbox, 1 and 4 logging threads, a live Redis. Prints one
/// line per configuration; run it in release mode:
/// `cargo test -p eventlib-redis-tests --release --test spool -- --ignored --nocapture fsync_costs`
#[test]
#[ignore = "a measurement, not a check: run it with --ignored --nocapture in release mode"]
fn fsync_costs() {
    let redis = RedisServer::start();
    let out = TempDir::new("spool-bench");
    for threads in ["1", "4"] {
        for (outbox, count) in [
            ("memory", 200_000),
            ("never", 200_000),
            ("100", 200_000),
            ("always", 20_000),
        ] {
            let _ = redis::cmd("DEL").arg(STREAM).exec(&mut redis.connection());
            let name = format!("bench-{outbox}-{threads}");
            let dir = out.0.join(&name).to_string_lossy().into_owned();
            let pairs = [
                ("outbox", outbox.to_owned()),
                ("dir", dir),
                ("count", count.to_string()),
                ("threads", threads.to_owned()),
            ];
            let mut bench = Process::node(
                NODE,
                &name,
                &out.0,
                &args("bench_producer", &redis.url(), &pairs),
            );
            assert!(bench.wait(LIMIT * 5), "{}", bench.output());
            let line = bench
                .output()
                .lines()
                .find(|line| line.starts_with("BENCH"))
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("{}", bench.output()));
            println!("{line}");
        }
    }
}

/// A producer restarted on a spool an earlier run left full, and shut down
/// before it logs anything: `shutdown` waits for the earlier run's events
/// as for its own (all sent, a clean report); with Redis down and a short
/// timeout, the report is not clean and says how many events remain in
/// the spool (not lost: the next start sends them).
#[test]
fn shutdown_waits_for_an_earlier_runs_spool_and_says_what_remains() {
    const N: u64 = 2_000;
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill9();
    let out = TempDir::new("spool-earlier");
    let spool = out.0.join("spool");
    let spool_arg = spool.to_string_lossy().into_owned();
    let mut first = spool_producer(
        &url,
        &out,
        "first",
        &[("dir", spool_arg.clone()), ("count", N.to_string())],
    );
    wait_for("the first producer to log every event", LIMIT, || {
        first.reported("LOGGED").is_some()
    });
    first.kill9();

    // Redis still down: a short shutdown gives up and says what remains.
    let mut down = spool_producer(
        &url,
        &out,
        "down",
        &[
            ("dir", spool_arg.clone()),
            ("count", "0".to_owned()),
            ("shutdown_ms", "1000".to_owned()),
        ],
    );
    assert!(down.wait(LIMIT), "{}", down.output());
    assert_eq!(
        down.reported("EARLIER_BACKLOG"),
        Some(N.to_string()),
        "{}",
        down.output()
    );
    assert_eq!(
        down.reported("CLEAN").as_deref(),
        Some("false"),
        "{}",
        down.output()
    );
    let report = down.reported("REPORT").unwrap_or_default();
    assert!(
        report.contains(&format!(
            "{N} event(s) of an earlier run still in the spool"
        )),
        "{report}"
    );

    // Redis up: shutdown waits until every earlier event is confirmed.
    redis.restart();
    let mut up = spool_producer(
        &url,
        &out,
        "up",
        &[
            ("dir", spool_arg),
            ("count", "0".to_owned()),
            ("shutdown_ms", "60000".to_owned()),
        ],
    );
    assert!(up.wait(LIMIT), "{}", up.output());
    assert_eq!(
        up.reported("EARLIER_BACKLOG").as_deref(),
        Some("0"),
        "{}",
        up.output()
    );
    assert_eq!(
        up.reported("CLEAN").as_deref(),
        Some("true"),
        "{}",
        up.output()
    );
    assert_eq!(
        up.reported("RESENT"),
        Some(N.to_string()),
        "{}",
        up.output()
    );
    let mut conn = redis.connection();
    assert_eq!(xlen(&mut conn, STREAM), N as i64);
    assert_eq!(non_empty_segments(&spool), Vec::<String>::new());
}
