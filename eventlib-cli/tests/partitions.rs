//! The `eventlib` command on a stream split into 6 partitions, against a
//! real redis-server, with events produced and handled by eventlib itself:
//! `status`, `dead list` (paged with `--after`), `dead show`, `dead
//! replay`, `pause` and `resume`, `tail`, and the library's timeline and
//! live processes, each across every partition.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventlib::redis::{declare_groups, partition_keys, Count, RedisTransport, Span, Worker};
use eventlib::{event, log, Dispatcher};
use eventlib_redis_tests::RedisServer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const STREAM: &str = "parts:events";
const PARTITIONS: usize = 6;
const CHARGE: &str = "partitions::Paid::charge";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Paid {
    n: u64,
}

static RECORDED: AtomicU64 = AtomicU64::new(0);
static CHARGED: AtomicU64 = AtomicU64::new(0);
static FIXED: AtomicBool = AtomicBool::new(false);

#[event(name = "parts.Paid")]
impl Paid {
    #[handler]
    fn record(&self) {
        RECORDED.fetch_add(1, Ordering::SeqCst);
    }

    #[handler]
    fn charge(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            FIXED.load(Ordering::SeqCst) || self.n.is_multiple_of(2),
            "card {} refused",
            self.n
        );
        CHARGED.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn eventlib(url: &str, args: &[&str]) -> std::process::Output {
    common::eventlib(url, STREAM, args)
}

fn json(output: &std::process::Output) -> Value {
    common::json(output)
}

fn worker(url: &str) -> Worker {
    Worker::builder(url)
        .stream(STREAM)
        .partitions(PARTITIONS)
        .consumer("parts-worker")
        .max_attempts(1)
        .handle_signals(false)
        .build()
        .unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Logs `range`, two events a batch: events without a partition key go
/// to the partitions in turn, a batch at a time.
fn produce(range: std::ops::Range<u64>) {
    for n in range {
        log!(Paid { n }).unwrap();
        if n % 2 == 1 {
            assert_eq!(
                eventlib::flush_timeout(Duration::from_secs(30)).abandoned,
                0
            );
        }
    }
}

/// Every dead letter, a page of `limit` at a time through `--after`.
fn every_letter(url: &str, limit: usize) -> Vec<Value> {
    let limit = limit.to_string();
    let mut all: Vec<Value> = Vec::new();
    loop {
        let mut args = vec!["dead", "list", "--json", "--limit", &limit];
        let after = all.last().map(|l| l["id"].as_str().unwrap().to_owned());
        if let Some(after) = &after {
            args.extend(["--after", after]);
        }
        let page = json(&eventlib(url, &args));
        let page = page.as_array().unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page.iter().cloned());
    }
}

#[test]
fn the_command_sees_and_acts_on_every_partition() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    declare_groups(&url, STREAM, &["default"]).unwrap();
    Dispatcher::builder()
        .transport(
            RedisTransport::new(&url)
                .unwrap()
                .stream(STREAM)
                .partitions(PARTITIONS)
                .unwrap(),
        )
        .install()
        .unwrap();
    produce(0..60);
    let worker = worker(&url);
    let running = worker.clone();
    let thread = std::thread::spawn(move || running.run_blocking());
    wait_for("every event recorded", || {
        RECORDED.load(Ordering::SeqCst) == 60
    });
    wait_for("the odd ones dead-lettered", || {
        eventlib::redis::dead_letters(url.as_str())
            .unwrap()
            .stream(STREAM)
            .len()
            .unwrap()
            == 30
    });

    // The status: totals and each partition.
    let status = json(&eventlib(&url, &["status", "--json"]));
    assert_eq!(status["length"], 60, "{status}");
    assert_eq!(status["dead_letters"], 30, "{status}");
    let parts = status["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), PARTITIONS);
    assert_eq!(
        parts
            .iter()
            .map(|p| p["dead_letters"].as_u64().unwrap())
            .sum::<u64>(),
        30
    );

    // The dead letters of every partition, paged (pages smaller than a
    // partition's share, so that a page spans partitions and a cursor
    // lands in the middle of one), each once, in id order.
    let letters = every_letter(&url, 4);
    let ids: Vec<&str> = letters.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(letters.len(), 30, "{ids:?}");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 30, "{ids:?}");
    let labels: BTreeSet<&str> = letters
        .iter()
        .map(|l| l["partition"].as_str().unwrap())
        .collect();
    assert!(labels.len() > 1, "{labels:?}");
    let keys = partition_keys(STREAM, PARTITIONS).unwrap();
    for letter in &letters {
        let id = letter["id"].as_str().unwrap();
        let (label, raw) = id.split_once('/').expect("`<partition>/<id>`");
        assert_eq!(label, letter["partition"].as_str().unwrap());
        assert!(label.ends_with("-of-6"), "{id}");
        assert!(keys.contains(&letter["stream"].as_str().unwrap().to_owned()));
        assert!(raw.contains('-'), "{id}");
    }
    let seen: BTreeSet<u64> = letters
        .iter()
        .map(|l| l["envelope"]["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(seen, (0..60).filter(|n| n % 2 == 1).collect());
    let shown = json(&eventlib(&url, &["dead", "show", ids[7], "--json"]));
    assert_eq!(shown["id"], ids[7]);
    let missing = eventlib(&url, &["dead", "show", "9-of-6/1-0"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("not a partition"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    // The same id in two partitions: a bare id is refused, not guessed.
    for key in &keys[..2] {
        redis::cmd("XADD")
            .arg(format!("{key}:dead"))
            .arg("99999999999999-1")
            .arg("group")
            .arg("default")
            .arg("reason")
            .arg("by hand")
            .exec(&mut conn)
            .unwrap();
    }
    let twice = eventlib(&url, &["dead", "show", "99999999999999-1"]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("name one as"),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
    json(&eventlib(
        &url,
        &["dead", "purge", "--reason", "by hand", "--yes", "--json"],
    ));
    assert_eq!(every_letter(&url, 50).len(), 30);

    // The workers' figures, added up over the partitions they publish on.
    wait_for("the timeline counts every dead letter", || {
        eventlib::redis::timeline(url.as_str(), STREAM, Span::Minutes(5))
            .unwrap()
            .iter()
            .map(|m| m.total(None).get(Count::DeadLettered))
            .sum::<u64>()
            == 30
    });
    let live = eventlib::redis::live_processes(url.as_str(), STREAM).unwrap();
    assert!(live.contains_key("parts-worker"), "{live:?}");

    // A pause reaches every partition's worker: the replayed letters wait.
    let paused = eventlib(&url, &["pause", "default", "--handler", CHARGE]);
    assert!(paused.status.success());
    for key in &keys {
        let fields: Vec<String> = redis::cmd("HKEYS")
            .arg(format!("{key}:paused"))
            .query(&mut conn)
            .unwrap();
        assert_eq!(fields, [format!("default|{CHARGE}")], "{key}");
    }
    wait_for("the worker applies the pause", || {
        eventlib::redis::live_processes(url.as_str(), STREAM)
            .unwrap()
            .get("parts-worker")
            .is_some_and(|p| p.paused == [CHARGE])
    });
    FIXED.store(true, Ordering::SeqCst);
    let charged = CHARGED.load(Ordering::SeqCst);
    let replayed = json(&eventlib(&url, &["dead", "replay", "--all", "--json"]));
    assert_eq!(replayed["done"], 30, "{replayed}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        CHARGED.load(Ordering::SeqCst),
        charged,
        "a paused handler ran"
    );
    let waiting = json(&eventlib(&url, &["status", "--json"]));
    assert_eq!(waiting["groups"][0]["pending"], 30, "{waiting}");
    assert!(eventlib(&url, &["resume", "default", "--handler", CHARGE])
        .status
        .success());
    wait_for("every replayed letter charged once resumed", || {
        CHARGED.load(Ordering::SeqCst) == charged + 30
    });
    assert!(eventlib::redis::pauses(url.as_str(), STREAM)
        .unwrap()
        .is_empty());
    assert_eq!(every_letter(&url, 50).len(), 0);

    // `tail` follows every partition.
    let mut tail = Command::new(env!("CARGO_BIN_EXE_eventlib"))
        .args([
            "--url", &url, "--stream", STREAM, "tail", "--count", "12", "--json",
        ])
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    // Events every half second until the tail has its 12 (it starts at
    // the end of each partition once it has looked: on a busy machine that
    // can take a while), for at most a minute.
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let producing = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut n = 100;
            while !done.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
                produce(n..n + 12);
                n += 12;
                std::thread::sleep(Duration::from_millis(500));
            }
            n
        })
    };
    // A tail that never has its 12 is ended, and the test fails, not hangs.
    {
        let (done, pid) = (std::sync::Arc::clone(&done), tail.id().to_string());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(90));
            if !done.load(Ordering::SeqCst) {
                let _ = Command::new("kill").args(["-9", &pid]).status();
            }
        });
    }
    let lines: Vec<Value> = BufReader::new(stdout)
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    done.store(true, Ordering::SeqCst);
    let last = producing.join().unwrap();
    assert!(tail.wait().unwrap().success());
    let tailed: BTreeSet<u64> = lines
        .iter()
        .map(|l| l["envelope"]["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(tailed.len(), 12, "{lines:?}");
    assert!(tailed.iter().all(|n| (100..last).contains(n)), "{tailed:?}");
    let partitions: BTreeSet<&str> = lines
        .iter()
        .map(|l| l["partition"].as_str().unwrap())
        .collect();
    assert!(partitions.len() > 1, "{partitions:?}");

    worker.shutdown();
    thread.join().unwrap().unwrap();
}
