//! The `eventlib` command under the ACL users of
//! `docs/security.md` ("Security of the Redis stream"), read from the page and
//! created on a real redis-server: the operator's user runs every command
//! (emit, status, groups, tail, dead list/show/replay/purge, groups
//! destroy) with nothing denied; the read-only user reads, and every
//! writing command of its is refused by Redis.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use eventlib::event;
use eventlib::redis::{declare_groups, Worker, DEFAULT_STREAM};
use eventlib_redis_tests::acl::{acl_log, create_documented_users, AclUser};
use eventlib_redis_tests::RedisServer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Refund {
    n: u64,
}

#[event(name = "acl.Refund")]
impl Refund {
    #[handler]
    fn pay_back(&self) -> anyhow::Result<()> {
        anyhow::bail!("the bank refuses refund {}", self.n)
    }
}

fn eventlib(url: &str, args: &[&str]) -> Output {
    common::eventlib(url, DEFAULT_STREAM, args)
}

/// The command's JSON output, after checking that it succeeded.
fn json(output: &Output) -> Value {
    common::json(output)
}

fn succeeds(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Under `url`, the commands that only read: status, groups, dead letters,
/// and a tail that sees an entry the operator emits.
fn reads(url: &str, operator: &str, letters: usize) -> Vec<String> {
    let status = json(&eventlib(url, &["status", "--json"]));
    assert_eq!(status["dead_letters"], letters, "{status}");
    assert_eq!(status["groups"][0]["name"], "default", "{status}");
    let groups = json(&eventlib(url, &["groups", "--json"]));
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
    let list = json(&eventlib(url, &["dead", "list", "--json"]));
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), letters, "{list}");
    let shown = succeeds(&eventlib(url, &["dead", "show", &ids[0]]));
    assert!(shown.contains("acl.Refund"), "{shown}");

    let mut tail = Command::new(env!("CARGO_BIN_EXE_eventlib"))
        .args(["--url", url, "tail", "--count", "1"])
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start eventlib tail");
    let mut lines = BufReader::new(tail.stdout.take().unwrap()).lines();
    // The tail starts from the last entry as it is now: emit until it
    // prints one (it may start after the first emit).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(lines.next());
    });
    let mut printed = None;
    for n in 100..150 {
        succeeds(&eventlib(
            operator,
            &["emit", "acl.Refund", &format!(r#"{{"n":{n}}}"#)],
        ));
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            printed = line;
            break;
        }
    }
    let printed = printed.expect("the tail printed an entry").unwrap();
    assert!(printed.contains("acl.Refund"), "{printed}");
    assert!(tail.wait().unwrap().success());
    ids
}

#[test]
fn the_operator_and_read_only_users_run_the_command_with_nothing_else_denied() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    create_documented_users(&mut conn);
    let user = |name: &str| AclUser::named(name).url(redis.port);
    let (operator, viewer, worker) = (
        user("eventlib-operator"),
        user("eventlib-viewer"),
        user("eventlib-worker"),
    );
    declare_groups(&worker, DEFAULT_STREAM, &["default"]).unwrap();

    // The operator emits; a worker under its own user dead-letters them.
    for n in 0..3 {
        succeeds(&eventlib(
            &operator,
            &["emit", "acl.Refund", &format!(r#"{{"n":{n}}}"#)],
        ));
    }
    Worker::builder(&worker)
        .max_attempts(1)
        .handle_signals(false)
        .stop_when_idle(Duration::from_millis(300))
        .build()
        .unwrap()
        .run_blocking()
        .unwrap();

    let ids = reads(&operator, &operator, 3);
    reads(&viewer, &operator, 3);
    assert_eq!(acl_log(&mut conn), Vec::<String>::new());

    // The read-only user may not write: each writing command is refused
    // by Redis (exit 1), and nothing changes.
    let length = json(&eventlib(&viewer, &["status", "--json"]))["length"].clone();
    for args in [
        &["dead", "purge", ids[0].as_str(), "--yes"][..],
        &["dead", "replay", ids[0].as_str()],
        &["emit", "acl.Refund", r#"{"n":7}"#],
        &["groups", "destroy", "default", "--yes"],
    ] {
        let refused = eventlib(&viewer, args);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{args:?}: {stderr}");
    }
    let status = json(&eventlib(&viewer, &["status", "--json"]));
    assert_eq!(status["dead_letters"], 3, "{status}");
    assert_eq!(status["length"], length, "{status}");
    assert_eq!(status["groups"][0]["name"], "default", "{status}");
    let log = acl_log(&mut conn);
    assert!(
        log.len() >= 3 && log.iter().all(|entry| entry.contains("eventlib-viewer")),
        "{log:?}"
    );
    for denied in ["xdel", "xadd", "xgroup|destroy"] {
        assert!(
            log.iter()
                .any(|entry| entry.contains(&format!("`{denied}`"))),
            "{denied}: {log:?}"
        );
    }
    redis::cmd("ACL")
        .arg("LOG")
        .arg("RESET")
        .exec(&mut conn)
        .unwrap();

    // The operator writes: replay, purge, and a group destroyed.
    succeeds(&eventlib(&operator, &["dead", "replay", &ids[0]]));
    succeeds(&eventlib(&operator, &["dead", "purge", &ids[1], "--yes"]));
    let left = json(&eventlib(&operator, &["dead", "list", "--json"]));
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    succeeds(&eventlib(
        &operator,
        &["groups", "destroy", "default", "--yes"],
    ));
    let groups = json(&eventlib(&operator, &["groups", "--json"]));
    assert_eq!(groups.as_array().unwrap().len(), 0, "{groups}");
    assert_eq!(acl_log(&mut conn), Vec::<String>::new());
}
