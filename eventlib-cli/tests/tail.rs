//! `eventlib tail` against a real redis-server: one connection for every
//! read, and a server restart said once on standard error, the tail going
//! on after it.

use std::io::{BufRead as _, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use eventlib_redis_tests::{connections_received, wait_for, xadd_envelope, RedisServer};
use serde_json::Value;

const STREAM: &str = "tail:events";

/// `eventlib tail --json --count COUNT`, its output piped.
fn tail(url: &str, count: usize) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlib"))
        .args(["--url", url, "--stream", STREAM, "tail", "--json"])
        .args(["--count", &count.to_string()])
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start eventlib tail");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// The id of the client blocked in `XREAD` (the tail waiting for entries),
/// once there is one.
fn blocked_reader(conn: &mut redis::Connection) -> String {
    let mut id = None;
    wait_for("the tail to wait in XREAD", Duration::from_secs(20), || {
        let clients: String = redis::cmd("CLIENT").arg("LIST").query(conn).unwrap();
        id = clients
            .lines()
            .find(|client| client.contains(" cmd=xread") && client.contains(" flags=b"))
            .and_then(|client| client.split(' ').find_map(|f| f.strip_prefix("id=")))
            .map(str::to_owned);
        id.is_some()
    });
    id.unwrap()
}

fn emit(conn: &mut redis::Connection, n: u64) -> String {
    let envelope = format!(r#"{{"v":1,"name":"tail.Seen","data":{{"n":{n}}}}}"#);
    xadd_envelope(conn, STREAM, envelope.as_bytes())
}

fn next(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = lines.next().expect("a line from the tail").unwrap();
    serde_json::from_str(&line).unwrap()
}

#[test]
fn tail_reads_on_one_connection() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let (child, mut lines) = tail(&redis.url(), 4);
    let reader = blocked_reader(&mut conn);
    let before = connections_received(&mut conn);
    for n in 0..4 {
        let id = emit(&mut conn, n);
        let printed = next(&mut lines);
        assert_eq!(printed["id"], id.as_str());
        assert_eq!(printed["envelope"]["data"]["n"], n);
        if n < 3 {
            // The next read: the same client, waiting again.
            assert_eq!(blocked_reader(&mut conn), reader);
        }
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        connections_received(&mut conn),
        before,
        "the tail opened no connection after its first"
    );
}

#[test]
fn tail_says_once_that_redis_went_away_and_goes_on() {
    let mut redis = RedisServer::start();
    let mut conn = redis.connection();
    let (child, mut lines) = tail(&redis.url(), 2);
    blocked_reader(&mut conn);
    let first = emit(&mut conn, 1);
    assert_eq!(next(&mut lines)["id"], first.as_str());

    // Killed under the tail's waiting read, then started again a few
    // seconds later on its port (its AOF loaded).
    redis.kill9();
    std::thread::sleep(Duration::from_secs(3));
    redis.restart();
    let mut conn = redis.connection();
    let second = emit(&mut conn, 2);
    let printed = lines.next().map(|line| line.unwrap());

    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let printed: Value = serde_json::from_str(&printed.expect(&stderr)).unwrap();
    assert_eq!(printed["id"], second.as_str());
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("trying again").count(),
        1,
        "said once per outage: {stderr}"
    );
    assert_eq!(stderr.matches("connected again").count(), 1, "{stderr}");
    assert!(stderr.contains(&redis.url()), "{stderr}");
}
