//! The `eventlib` command against a real redis-server, on streams filled
//! through eventlib itself: a worker whose handler fails dead-letters
//! entries; `status`, `groups`, `dead list` (filters, paging) and `dead
//! show` read them back, with `--json` parsed and checked; bad input gets a
//! clear message and a non-zero exit, never a panic.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use eventlib::event;
use eventlib::redis::{declare_groups, Worker};
use eventlib_redis_tests::{xadd_envelope, RedisServer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const STREAM: &str = "cli:events";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    n: u64,
}

/// Runs of `record`, and of `fail_odd` once the bug is fixed.
static RECORDED: AtomicU64 = AtomicU64::new(0);
static FIXED_RUNS: AtomicU64 = AtomicU64::new(0);
static FIXED: AtomicBool = AtomicBool::new(false);

#[event(name = "cli.Order")]
impl Order {
    #[handler]
    fn record(&self) {
        RECORDED.fetch_add(1, Ordering::SeqCst);
    }

    #[handler]
    fn fail_odd(&self) -> anyhow::Result<()> {
        if FIXED.load(Ordering::SeqCst) {
            FIXED_RUNS.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        anyhow::ensure!(self.n.is_multiple_of(2), "card {} refused", self.n);
        Ok(())
    }
}

fn drain(url: &str) {
    Worker::builder(url)
        .stream(STREAM)
        .consumer("cli-worker")
        .max_attempts(1)
        .handle_signals(false)
        .stop_when_idle(Duration::from_millis(300))
        .build()
        .unwrap()
        .run_blocking()
        .unwrap();
}

fn eventlib(url: &str, args: &[&str]) -> Output {
    common::eventlib(url, STREAM, args)
}

fn json(output: &Output) -> Value {
    common::json(output)
}

fn fails_with(output: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn status_and_dead_letters_from_a_real_stream() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    declare_groups(&url, STREAM, &["default"]).unwrap();
    for n in 0..10 {
        let envelope = format!(r#"{{"v":1,"name":"cli.Order","data":{{"n":{n}}}}}"#);
        xadd_envelope(&mut conn, STREAM, envelope.as_bytes());
    }
    xadd_envelope(&mut conn, STREAM, b"{not json");
    drain(&url);
    assert_eq!(RECORDED.load(Ordering::SeqCst), 10);

    let status = json(&eventlib(&url, &["status", "--json"]));
    assert_eq!(status["stream"], STREAM);
    assert_eq!(status["length"], 11);
    assert_eq!(status["dead_letters"], 6, "{status}");
    let group = &status["groups"][0];
    assert_eq!(group["name"], "default");
    assert_eq!(group["pending"], 0);
    assert_eq!(group["consumers"][0]["name"], "cli-worker");
    let table = eventlib(&url, &["status"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("11 entries") && table.contains("6 dead letter(s)"),
        "{table}"
    );

    let groups = json(&eventlib(&url, &["groups", "--json"]));
    assert_eq!(groups.as_array().unwrap().len(), 1);

    // Filters: by handler (last segment), by reason, by event, a limit.
    let failed = json(&eventlib(
        &url,
        &["dead", "list", "--handler", "fail_odd", "--json"],
    ));
    let failed = failed.as_array().unwrap();
    assert_eq!(failed.len(), 5);
    assert!(failed
        .iter()
        .all(|l| l["envelope"]["data"]["n"].as_u64().unwrap() % 2 == 1));
    let poison = json(&eventlib(
        &url,
        &["dead", "list", "--reason", "malformed", "--json"],
    ));
    assert_eq!(poison.as_array().unwrap().len(), 1);
    assert!(poison[0]["handler"].is_null());
    let orders = json(&eventlib(
        &url,
        &["dead", "list", "--event", "cli.Order", "--json"],
    ));
    assert_eq!(orders.as_array().unwrap().len(), 5);
    assert_eq!(
        json(&eventlib(
            &url,
            &["dead", "list", "--since", "1h", "--json"]
        ))
        .as_array()
        .unwrap()
        .len(),
        6
    );

    // Paging: two at a time, no letter twice.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = vec!["dead", "list", "--limit", "2", "--json"];
        if let Some(id) = &after {
            args.extend(["--after", id.as_str()]);
        }
        let page = json(&eventlib(&url, &args));
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap()["id"].as_str().unwrap().to_owned());
        seen.extend(
            page.into_iter()
                .map(|l| l["id"].as_str().unwrap().to_owned()),
        );
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(seen.len(), 6);
    assert_eq!(unique, seen);

    // One letter, with its envelope.
    let id = failed[0]["id"].as_str().unwrap();
    let shown = json(&eventlib(&url, &["dead", "show", id, "--json"]));
    assert_eq!(shown["id"], id);
    assert!(
        shown["reason"].as_str().unwrap().contains("refused"),
        "{shown}"
    );
    assert_eq!(shown["group"], "default");

    // Bad input: clear messages, exit 1, no panic.
    fails_with(
        &eventlib(&url, &["dead", "show", "12-ab"]),
        "not a stream entry id",
    );
    fails_with(
        &eventlib(&url, &["dead", "show", "1-0"]),
        "no dead letter `1-0`",
    );
    fails_with(
        &eventlib("redis://127.0.0.1:1", &["status"]),
        "cannot connect",
    );
    fails_with(&eventlib("not a url", &["status"]), "url");
    redis::cmd("SET")
        .arg("plain")
        .arg("x")
        .query::<()>(&mut conn)
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_eventlib"))
        .args(["--url", &url, "--stream", "plain", "status"])
        .output()
        .unwrap();
    fails_with(&output, "is a string, not a stream");
    let usage = eventlib(&url, &["dead", "list", "--since", "soon"]);
    assert_eq!(usage.status.code(), Some(2));

    // Purge exactly what a filter matches: the letter of order 1 alone.
    fails_with(
        &eventlib(&url, &["dead", "purge", "--reason", "card 1 refused"]),
        "not confirmed",
    );
    let purged = json(&eventlib(
        &url,
        &[
            "dead",
            "purge",
            "--reason",
            "card 1 refused",
            "--yes",
            "--json",
        ],
    ));
    assert_eq!(purged["done"], 1, "{purged}");
    let left = json(&eventlib(&url, &["dead", "list", "--json"]));
    let mut left: Vec<Option<u64>> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["envelope"]["data"]["n"].as_u64())
        .collect();
    left.sort_unstable();
    assert_eq!(
        left,
        [None, Some(3), Some(5), Some(7), Some(9)],
        "the others stay"
    );

    // Replay: a dry run changes nothing; a filter with nothing else is
    // needed (or --all); then the fixed handler alone runs again.
    let dry = eventlib(
        &url,
        &["dead", "replay", "--handler", "fail_odd", "--dry-run"],
    );
    let dry = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.contains("dry run: 4 letter(s) would be replayed"),
        "{dry}"
    );
    let unselected = eventlib(&url, &["dead", "replay"]);
    assert_eq!(
        unselected.status.code(),
        Some(2),
        "bad usage: {unselected:?}"
    );
    assert!(String::from_utf8_lossy(&unselected.stderr).contains("name the letters"));
    fails_with(
        &eventlib(&url, &["dead", "replay", "1-0"]),
        "no dead letter `1-0`",
    );
    FIXED.store(true, Ordering::SeqCst);
    let replayed = json(&eventlib(
        &url,
        &[
            "dead",
            "replay",
            "--handler",
            "fail_odd",
            "--rate",
            "1000",
            "--json",
        ],
    ));
    assert_eq!(replayed["done"], 4, "{replayed}");
    drain(&url);
    assert_eq!(
        FIXED_RUNS.load(Ordering::SeqCst),
        4,
        "the replayed handler ran once each"
    );
    assert_eq!(
        RECORDED.load(Ordering::SeqCst),
        10,
        "its sibling did not run again"
    );
    let status = json(&eventlib(&url, &["status", "--json"]));
    assert_eq!(status["dead_letters"], 1, "{status}");

    // Purge: asks (and refuses without a terminal), or --yes.
    fails_with(
        &eventlib(&url, &["dead", "purge", "--reason", "malformed"]),
        "not confirmed",
    );
    let purged = json(&eventlib(
        &url,
        &["dead", "purge", "--reason", "malformed", "--yes", "--json"],
    ));
    assert_eq!(purged["done"], 1, "{purged}");
    assert_eq!(
        json(&eventlib(&url, &["status", "--json"]))["dead_letters"],
        0
    );

    // Emit and tail: a tail started first sees what emit writes.
    let mut tail = Command::new(env!("CARGO_BIN_EXE_eventlib"))
        .args([
            "--url", &url, "--stream", STREAM, "tail", "--count", "2", "--json",
        ])
        .args(["--name", "cli.Order"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let emitted = json(&eventlib(
        &url,
        &["emit", "cli.Order", r#"{"n":40}"#, "--json"],
    ));
    assert!(emitted["id"].as_str().unwrap().contains('-'), "{emitted}");
    json(&eventlib(
        &url,
        &["emit", "cli.Order", r#"{"n":42}"#, "--json"],
    ));
    let lines: Vec<Value> = BufReader::new(tail.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(tail.wait().unwrap().success());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["envelope"]["data"]["n"], 40);
    assert_eq!(lines[1]["name"], "cli.Order");
    fails_with(&eventlib(&url, &["emit", "cli.Order", "{n:"]), "not JSON");
    fails_with(&eventlib(&url, &["emit", "no dots", "{}"]), "no dots");

    // Groups: destroy asks, tells what it releases, then does it.
    declare_groups(&url, STREAM, &["other"]).unwrap();
    fails_with(
        &eventlib(&url, &["groups", "destroy", "other"]),
        "not confirmed",
    );
    let destroyed = eventlib(&url, &["groups", "destroy", "other", "--yes"]);
    assert!(destroyed.status.success());
    assert!(String::from_utf8_lossy(&destroyed.stdout).contains("will be released"));
    let groups = json(&eventlib(&url, &["groups", "--json"]));
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
    fails_with(
        &eventlib(&url, &["groups", "destroy", "nope", "--yes"]),
        "no group `nope`",
    );
}

/// A group whose worker runs is destroyed only with `--force`: the worker
/// would make it again and handle the whole stream again.
#[test]
fn destroying_a_group_whose_worker_runs_takes_force() {
    let redis = RedisServer::start();
    let url = redis.url();
    let worker = Worker::builder(&url)
        .stream(STREAM)
        .group("audit")
        .consumer("auditor")
        .allow_empty_group(true)
        .handle_signals(false)
        .build()
        .unwrap();
    let running = {
        let worker = worker.clone();
        std::thread::spawn(move || worker.run_blocking())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while json(&eventlib(&url, &["--json", "status"]))["processes"]
        .as_object()
        .is_none_or(|p| p.is_empty())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never showed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let refused = eventlib(&url, &["groups", "destroy", "audit", "--yes"]);
    fails_with(&refused, "group `audit` has 1 live worker(s)");
    fails_with(&refused, "nothing done");
    let groups = json(&eventlib(&url, &["groups", "--json"]));
    assert_eq!(groups[0]["name"], "audit", "{groups}");
    let forced = eventlib(&url, &["groups", "destroy", "audit", "--yes", "--force"]);
    assert!(forced.status.success(), "{forced:?}");
    worker.shutdown();
    running.join().unwrap().unwrap();
}
