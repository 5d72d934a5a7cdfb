//! A producer that Redis refuses for good (an ACL without permission on
//! the stream key, a wrong password, an unknown user, the stream key
//! holding a string) gives the events up at once: `shutdown` returns
//! promptly with every one of them dropped, and a person sees a few
//! aggregated lines on standard error (no logger installed), not one per
//! event.

use std::time::Duration;

use eventlib_redis_tests::{args, xlen, Process, RedisServer, TempDir};

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");
const STREAM: &str = "eventlib:events";
const EVENTS: u64 = 2_000;

/// What the producer process printed.
struct Outcome {
    output: String,
}

impl Outcome {
    fn value(&self, key: &str) -> String {
        let prefix = format!("{key}=");
        self.output
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
            .unwrap_or_else(|| panic!("no {key}= in the producer's output:\n{}", self.output))
    }

    fn number(&self, key: &str) -> u64 {
        self.value(key).parse().expect("a number")
    }

    /// The lines eventlib wrote to standard error.
    fn notices(&self) -> Vec<&str> {
        self.output
            .lines()
            .filter(|line| line.starts_with("eventlib"))
            .collect()
    }
}

/// Runs a producer with every default that logs [`EVENTS`] events to `url`
/// and shuts down with a 30 s timeout.
fn refused_producer(url: &str, label: &str) -> Outcome {
    let dir = TempDir::new(label);
    let pairs = [
        ("count", EVENTS.to_string()),
        ("shutdown_secs", "30".to_owned()),
    ];
    let mut producer = Process::node(NODE, label, &dir.0, &args("refused_producer", url, &pairs));
    producer.wait(Duration::from_secs(60));
    Outcome {
        output: producer.output(),
    }
}

/// Every event given up, promptly, in the report and in a few lines.
fn assert_given_up(outcome: &Outcome, reply: &str) {
    let output = &outcome.output;
    assert_eq!(
        outcome.number("REFUSED"),
        0,
        "log! kept returning Ok:\n{output}"
    );
    assert_eq!(outcome.number("EMITTED"), EVENTS, "{output}");
    assert_eq!(outcome.number("DROPPED"), EVENTS, "{output}");
    assert_eq!(outcome.number("ABANDONED"), 0, "{output}");
    assert_eq!(outcome.value("CLEAN"), "false", "{output}");
    let took = outcome.number("SHUTDOWN_MS");
    assert!(took < 5_000, "shutdown took {took} ms:\n{output}");
    let notices = outcome.notices();
    assert!(
        notices.iter().any(|line| line.contains(reply)),
        "no line tells `{reply}`:\n{output}"
    );
    assert!(
        (1..=12).contains(&notices.len()),
        "{} lines for {EVENTS} events given up:\n{output}",
        notices.len()
    );
}

#[test]
fn an_acl_without_permission_on_the_stream_key_gives_every_event_up_at_once() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    redis::cmd("ACL")
        .arg(&["SETUSER", "limited", "on", ">pw", "~other:*", "+@all"])
        .exec(&mut conn)
        .expect("ACL SETUSER");
    let url = format!("redis://limited:pw@127.0.0.1:{}/", redis.port);
    let outcome = refused_producer(&url, "noperm");
    assert_given_up(&outcome, "NOPERM");
    assert_eq!(xlen(&mut conn, STREAM), 0);
}

#[test]
fn a_wrong_password_gives_every_event_up_at_once() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    redis::cmd("ACL")
        .arg(&["SETUSER", "shop", "on", ">right", "~*", "+@all"])
        .exec(&mut conn)
        .expect("ACL SETUSER");
    let url = format!("redis://shop:wrong@127.0.0.1:{}/", redis.port);
    let outcome = refused_producer(&url, "wrongpass");
    assert_given_up(&outcome, "refuses the producer");
    assert_eq!(xlen(&mut conn, STREAM), 0);
}

#[test]
fn a_password_fixed_on_the_server_is_picked_up_by_the_next_try() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    redis::cmd("ACL")
        .arg(&["SETUSER", "shop", "on", ">old", "~*", "+@all"])
        .exec(&mut conn)
        .expect("ACL SETUSER");
    let url = format!("redis://shop:new@127.0.0.1:{}/", redis.port);
    let dir = TempDir::new("fixed");
    let pairs = [
        ("count", "300".to_owned()),
        ("then_after_ms", "6000".to_owned()),
        ("then_count", "200".to_owned()),
    ];
    let mut producer = Process::node(
        NODE,
        "fixed",
        &dir.0,
        &args("refused_producer", &url, &pairs),
    );
    eventlib_redis_tests::wait_for_telling(
        "the first round to be given up",
        Duration::from_secs(30),
        || producer.reported("WAITING").is_some(),
        || producer.output(),
    );
    assert_eq!(
        producer.reported("FIRST_DROPPED").as_deref(),
        Some("300"),
        "{}",
        producer.output()
    );
    // The operator fixes the password while the producer runs.
    redis::cmd("ACL")
        .arg(&["SETUSER", "shop", "resetpass", ">new"])
        .exec(&mut conn)
        .expect("ACL SETUSER");
    producer.wait(Duration::from_secs(60));
    let outcome = Outcome {
        output: producer.output(),
    };
    assert_eq!(outcome.number("DROPPED"), 300, "{}", outcome.output);
    assert_eq!(outcome.number("EMITTED"), 500, "{}", outcome.output);
    assert_eq!(outcome.number("ABANDONED"), 0, "{}", outcome.output);
    assert_eq!(xlen(&mut conn, STREAM), 200);
}

#[test]
fn an_unknown_user_gives_every_event_up_at_once() {
    let redis = RedisServer::start();
    let url = format!("redis://nobody:pw@127.0.0.1:{}/", redis.port);
    let outcome = refused_producer(&url, "nouser");
    assert_given_up(&outcome, "refuses the producer");
}

#[test]
fn a_stream_key_holding_a_string_gives_every_event_up_at_once() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    redis::cmd("SET")
        .arg(STREAM)
        .arg("not a stream")
        .exec(&mut conn)
        .expect("SET");
    let outcome = refused_producer(&redis.url(), "wrongtype");
    assert_given_up(&outcome, "WRONGTYPE");
    let value: String = redis::cmd("GET").arg(STREAM).query(&mut conn).unwrap();
    assert_eq!(value, "not a stream");
}

#[test]
fn a_server_that_is_down_keeps_the_events_waiting() {
    // The transient counterpart: nothing is given up, the events are still
    // waiting when the shutdown's timeout ends.
    let mut redis = RedisServer::start();
    let url = redis.url();
    redis.kill9();
    let dir = TempDir::new("down");
    let pairs = [
        ("count", "500".to_owned()),
        ("shutdown_secs", "2".to_owned()),
    ];
    let mut producer = Process::node(
        NODE,
        "down",
        &dir.0,
        &args("refused_producer", &url, &pairs),
    );
    producer.wait(Duration::from_secs(60));
    let outcome = Outcome {
        output: producer.output(),
    };
    assert_eq!(outcome.number("DROPPED"), 0, "{}", outcome.output);
    assert_eq!(outcome.number("ABANDONED"), 500, "{}", outcome.output);
}

#[test]
fn a_server_demoted_to_replica_keeps_the_events_until_it_accepts_writes_again() {
    // READONLY, as after a failover: transient, the events wait.
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(1)
        .exec(&mut conn)
        .expect("REPLICAOF");
    let dir = TempDir::new("readonly");
    let pairs = [
        ("count", "500".to_owned()),
        ("shutdown_secs", "30".to_owned()),
    ];
    let mut producer = Process::node(
        NODE,
        "readonly",
        &dir.0,
        &args("refused_producer", &redis.url(), &pairs),
    );
    std::thread::sleep(Duration::from_millis(1500));
    redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .exec(&mut conn)
        .expect("REPLICAOF NO ONE");
    producer.wait(Duration::from_secs(60));
    let outcome = Outcome {
        output: producer.output(),
    };
    assert_eq!(outcome.number("DROPPED"), 0, "{}", outcome.output);
    assert_eq!(outcome.number("ABANDONED"), 0, "{}", outcome.output);
    assert_eq!(outcome.value("CLEAN"), "true", "{}", outcome.output);
    assert!(outcome.number("SHUTDOWN_MS") >= 1000, "{}", outcome.output);
    assert_eq!(xlen(&mut conn, STREAM), 500);
}
