//! 100,000 dead letters: `dead list` reads one page of them, not the whole
//! stream (counted with Redis' own command statistics); and the time of
//! replaying 10,000 of them at full speed (a measurement, run by hand:
//! `cargo test -p eventlib-cli --release --test scale -- --ignored --nocapture`).

use std::process::{Command, Output};
use std::time::Instant;

use eventlib_redis_tests::RedisServer;
use serde_json::Value;

const STREAM: &str = "scale:events";

/// `count` dead letters of handler `scale::charge` written as a worker
/// writes them, in pipelines of 1,000.
fn fill(conn: &mut redis::Connection, count: usize) {
    let dead = format!("{STREAM}:dead");
    for chunk in 0..count.div_ceil(1000) {
        let mut pipe = redis::pipe();
        for n in chunk * 1000..((chunk + 1) * 1000).min(count) {
            let envelope = format!(r#"{{"v":1,"name":"scale.Paid","data":{{"n":{n}}}}}"#);
            pipe.cmd("XADD")
                .arg(&dead)
                .arg("*")
                .arg("source_id")
                .arg(format!("1700000000000-{n}"))
                .arg("group")
                .arg("default")
                .arg("handler")
                .arg("scale::charge")
                .arg("reason")
                .arg(if n % 10 == 0 {
                    "timeout"
                } else {
                    "card refused"
                })
                .arg("attempts")
                .arg(5)
                .arg("failed_at")
                .arg(1_700_000_000_000u64)
                .arg("worker")
                .arg("w-1")
                .arg("name")
                .arg("scale.Paid")
                .arg("event")
                .arg(envelope)
                .ignore();
        }
        pipe.query::<()>(conn).unwrap();
    }
}

fn eventlib(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventlib"))
        .args(["--url", url, "--stream", STREAM])
        .args(args)
        .output()
        .unwrap()
}

/// How many times Redis ran `command` so far.
fn calls(conn: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[test]
fn listing_100000_dead_letters_reads_one_page() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    fill(&mut conn, 100_000);

    let before = calls(&mut conn, "xrange");
    let output = eventlib(&url, &["dead", "list", "--limit", "50", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let page: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(page.as_array().unwrap().len(), 50);
    assert_eq!(
        calls(&mut conn, "xrange") - before,
        1,
        "one page read, not the stream"
    );

    // The next page starts after the last id, again one read.
    let last = page[49]["id"].as_str().unwrap().to_owned();
    let before = calls(&mut conn, "xrange");
    let next = eventlib(
        &url,
        &["dead", "list", "--limit", "50", "--after", &last, "--json"],
    );
    let next: Value = serde_json::from_slice(&next.stdout).unwrap();
    assert_eq!(next[0]["envelope"]["data"]["n"], 50);
    assert_eq!(calls(&mut conn, "xrange") - before, 1);

    // A filter that matches one letter in ten reads pages until it has
    // enough: 50 matches in the first 500 letters, one page.
    let before = calls(&mut conn, "xrange");
    let timeouts = eventlib(
        &url,
        &[
            "dead", "list", "--reason", "timeout", "--limit", "50", "--json",
        ],
    );
    let timeouts: Value = serde_json::from_slice(&timeouts.stdout).unwrap();
    assert_eq!(timeouts.as_array().unwrap().len(), 50);
    assert_eq!(calls(&mut conn, "xrange") - before, 1);

    let status: Value =
        serde_json::from_slice(&eventlib(&url, &["status", "--json"]).stdout).unwrap();
    assert_eq!(status["dead_letters"], 100_000);
}

#[test]
#[ignore = "a measurement, not a check: run it with --ignored --nocapture in release mode"]
fn replay_10000_dead_letters_at_full_speed() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    fill(&mut conn, 10_000);
    let started = Instant::now();
    let output = eventlib(&url, &["dead", "replay", "--all", "--json"]);
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["done"], 10_000);
    let entries: u64 = redis::cmd("XLEN").arg(STREAM).query(&mut conn).unwrap();
    assert_eq!(entries, 10_000);
    println!(
        "replayed 10,000 dead letters in {:.2} s ({:.0} letters/s), the command's own start included",
        took.as_secs_f64(),
        10_000.0 / took.as_secs_f64()
    );
}
