//! `dead replay` and `dead purge` do exactly what they say, against a real
//! redis-server: `--limit` bounds every action and its `--dry-run`, the
//! count is said before acting, `--json` gives one JSON document for every
//! command, and a replay with nothing selected, or with letters selected
//! two ways at once, is bad usage (exit 2).

mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use eventlib_redis_tests::{xadd_dead_letter, DeadLetterFields, RedisServer};
use serde_json::Value;

const STREAM: &str = "acts:events";

fn eventlib(url: &str, args: &[&str]) -> Output {
    common::eventlib(url, STREAM, args)
}

/// Ten letters: five `panicked` ones of `acts.Paid`, five `timeout` ones of
/// `acts.Shipped`, alternating.
fn fill(conn: &mut redis::Connection) {
    let mut pipe = redis::pipe();
    for n in 0..10 {
        let (name, reason) = if n % 2 == 0 {
            ("acts.Paid", "panicked: boom")
        } else {
            ("acts.Shipped", "timeout after 5 s")
        };
        let letter = DeadLetterFields {
            n,
            name,
            group: "default",
            handler: "acts::handle",
            reason,
        };
        xadd_dead_letter(&mut pipe, STREAM, &letter);
    }
    pipe.exec(conn).unwrap();
}

fn letters(url: &str, filter: &[&str]) -> Vec<Value> {
    let mut args = vec!["--json", "dead", "list", "--limit", "100"];
    args.extend_from_slice(filter);
    let out = eventlib(url, &args);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn one_json(out: &Output) -> Value {
    common::json(out)
}

fn stream_len(conn: &mut redis::Connection) -> u64 {
    redis::cmd("XLEN").arg(STREAM).query(conn).unwrap()
}

#[test]
fn limit_bounds_every_action_and_its_dry_run() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    fill(&mut conn);

    // A dry run of a purge with a filter and --limit lists the limit alone.
    let dry = one_json(&eventlib(
        &url,
        &[
            "--json",
            "dead",
            "purge",
            "--reason",
            "panicked",
            "--limit",
            "2",
            "--dry-run",
        ],
    ));
    assert_eq!(dry["count"], 2, "{dry}");
    assert_eq!(dry["letters"].as_array().unwrap().len(), 2);
    let text = eventlib(
        &url,
        &[
            "dead",
            "purge",
            "--reason",
            "panicked",
            "--limit",
            "2",
            "--dry-run",
        ],
    );
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("2 letter(s) would be purged"), "{text}");
    assert!(!text.contains("purgeed"), "{text}");

    // The purge itself: two of the five panicked letters, the oldest two.
    let panicked: Vec<String> = letters(&url, &["--reason", "panicked"])
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(panicked.len(), 5);
    let purged = one_json(&eventlib(
        &url,
        &[
            "--json", "dead", "purge", "--reason", "panicked", "--limit", "2", "--yes",
        ],
    ));
    assert_eq!(
        (purged["selected"].clone(), purged["done"].clone()),
        (2.into(), 2.into())
    );
    let left: Vec<String> = letters(&url, &[])
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left.len(), 8, "{left:?}");
    assert!(!left.contains(&panicked[0]) && !left.contains(&panicked[1]));
    assert!(panicked[2..].iter().all(|id| left.contains(id)));

    // A replay by event with --limit 3 replays three letters.
    let replayed = eventlib(
        &url,
        &["dead", "replay", "--event", "acts.Shipped", "--limit", "3"],
    );
    assert!(replayed.status.success(), "{replayed:?}");
    let said = String::from_utf8_lossy(&replayed.stdout).into_owned();
    assert!(said.contains("3 letter(s) selected to replay"), "{said}");
    assert!(said.contains("replayed 3 of 3"), "{said}");
    assert_eq!(stream_len(&mut conn), 3);
    assert_eq!(letters(&url, &["--event", "acts.Shipped"]).len(), 2);

    // --limit 0 touches nothing; a limit above the matches takes them all.
    let none = one_json(&eventlib(
        &url,
        &[
            "--json",
            "dead",
            "replay",
            "--event",
            "acts.Shipped",
            "--limit",
            "0",
        ],
    ));
    assert_eq!(none["done"], 0);
    let rest = one_json(&eventlib(
        &url,
        &[
            "--json",
            "dead",
            "replay",
            "--event",
            "acts.Shipped",
            "--limit",
            "99",
        ],
    ));
    assert_eq!(rest["done"], 2);
    assert_eq!(
        letters(&url, &[]).len(),
        3,
        "the three panicked letters left"
    );
}

#[test]
fn an_unconfirmed_purge_touches_nothing_and_misuse_is_exit_2() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    fill(&mut conn);

    // Standard input is not a terminal and says "y": still not confirmed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlib"))
        .args(["--url", &url, "--stream", STREAM, "dead", "purge", "--all"])
        .env_remove("REDIS_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("10 letter(s) selected to purge"));
    assert_eq!(letters(&url, &[]).len(), 10);

    for args in [
        &["dead", "replay"][..],
        &["dead", "purge", "--yes"],
        &["dead", "replay", "1700000000000-0", "--limit", "1"],
    ] {
        let out = eventlib(&url, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
    assert_eq!(letters(&url, &[]).len(), 10);
}

#[test]
fn every_command_gives_one_json_document() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    fill(&mut conn);
    let id = letters(&url, &[])[0]["id"].as_str().unwrap().to_owned();
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(STREAM)
        .arg("old")
        .arg("0")
        .arg("MKSTREAM")
        .exec(&mut conn)
        .unwrap();
    for args in [
        &["--json", "status"][..],
        &["--json", "groups"],
        &["--json", "groups", "create", "new"],
        &["--json", "groups", "destroy", "old", "--yes"],
        &["--json", "dead", "list"],
        &["--json", "dead", "show", &id],
        &["--json", "dead", "replay", &id, "--dry-run"],
        &[
            "--json",
            "dead",
            "purge",
            "--event",
            "acts.Paid",
            "--dry-run",
        ],
        &["--json", "dead", "replay", &id],
        &["--json", "emit", "acts.Paid", "{\"n\":1}"],
    ] {
        let out = eventlib(&url, args);
        one_json(&out);
    }
}

/// Letters selected two ways at once (ids and a filter, or `--all` and
/// anything) are bad usage: nothing is replayed or purged, where a filter
/// beside ids was ignored.
#[test]
fn ids_beside_filters_or_all_beside_anything_are_refused() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    fill(&mut conn);
    let paid: Vec<String> = letters(&url, &["--event", "acts.Paid"])
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    for args in [
        vec![
            "dead",
            "purge",
            &paid[0],
            "--event",
            "acts.Shipped",
            "--yes",
        ],
        vec!["dead", "replay", &paid[0], "--reason", "timeout"],
        vec!["dead", "purge", &paid[0], "--all", "--yes"],
        vec!["dead", "purge", "--all", "--event", "acts.Paid", "--yes"],
        vec!["dead", "replay", "--all", "--since", "1h"],
    ] {
        let out = eventlib(&url, &args);
        assert_eq!(out.status.code(), Some(2), "bad usage: {args:?} {out:?}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("not with") || said.contains("not both"),
            "{said}"
        );
    }
    assert_eq!(letters(&url, &[]).len(), 10, "nothing purged");
    assert_eq!(stream_len(&mut conn), 0, "nothing replayed");
}
