//! `eventlib pause`, `resume`, `top` and what `status` says of the live
//! system, against a real redis-server: the figures are written as workers
//! write them (the layout in docs/wire-format.md).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{eventlib, json};
use eventlib_redis_tests::RedisServer;

const STREAM: &str = "shop:events";

fn text(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn pause_and_resume_are_said_everywhere_and_report_what_they_did() {
    let redis = RedisServer::start();
    let url = redis.url();
    let pause = eventlib(
        &url,
        STREAM,
        &[
            "pause",
            "default",
            "--handler",
            "shop::send_mail",
            "--by",
            "on call",
        ],
    );
    assert!(pause.status.success(), "{pause:?}");
    assert!(text(&pause).contains("handler `shop::send_mail` of group `default` paused"));
    let again = eventlib(
        &url,
        STREAM,
        &["pause", "default", "--handler", "shop::send_mail"],
    );
    assert!(text(&again).contains("was paused already"), "{again:?}");
    let whole = json(&eventlib(&url, STREAM, &["--json", "pause", "audit"]));
    assert_eq!(whole["paused"], true);

    let status = json(&eventlib(&url, STREAM, &["--json", "status"]));
    let paused = status["paused"].as_array().unwrap();
    assert_eq!(paused.len(), 2, "{status}");
    assert!(paused.iter().any(|p| p["group"] == "default"
        && p["handler"] == "shop::send_mail"
        && p["by"] == "on call"));
    assert!(paused
        .iter()
        .any(|p| p["group"] == "audit" && p["handler"].is_null()));
    let table = text(&eventlib(&url, STREAM, &["status"]));
    assert!(
        table.contains("PAUSED: handler `shop::send_mail` of group `default` (by on call)"),
        "{table}"
    );
    assert!(table.contains("PAUSED: group `audit`"), "{table}");

    let resume = eventlib(
        &url,
        STREAM,
        &["resume", "default", "--handler", "shop::send_mail"],
    );
    assert!(text(&resume).contains("resumed"), "{resume:?}");
    let twice = eventlib(
        &url,
        STREAM,
        &["resume", "default", "--handler", "shop::send_mail"],
    );
    assert_eq!(twice.status.code(), Some(1), "{twice:?}");
    assert!(String::from_utf8_lossy(&twice.stderr).contains("was not paused"));
    let bad = eventlib(&url, STREAM, &["pause", "no spaces allowed"]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    let status = json(&eventlib(&url, STREAM, &["--json", "status"]));
    assert_eq!(status["paused"].as_array().unwrap().len(), 1);
}

#[test]
fn top_and_status_show_what_the_workers_published() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (last, this) = (now / 60 - 1, now / 60);
    let field = |what: &str| format!("default|shop.Paid|shop::send_mail|{what}");
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg(format!("{STREAM}:stats:m:{last}"))
        .arg(field("handled"))
        .arg(118)
        .arg(field("failed"))
        .arg(2)
        .arg(field("dead"))
        .arg(1)
        .arg(field("t10"))
        .arg(120)
        .cmd("HSET")
        .arg(format!("{STREAM}:stats:m:{this}"))
        .arg(field("handled"))
        .arg(7)
        .cmd("HSET")
        .arg(format!("{STREAM}:processes"))
        .arg("host-1")
        .arg(format!(
            r#"{{"kind":"worker","group":"default","host":"host","pid":1,"started_ms":1,"seen_ms":{}}}"#,
            now * 1000
        ))
        .arg("gone-2")
        .arg(r#"{"kind":"worker","group":"default","seen_ms":1}"#)
        .cmd("HSET")
        .arg(format!("{STREAM}:relays"))
        .arg("shop-relay")
        .arg(r#"{"backlog":12,"moved":340,"failed":1,"unsendable":0,"relinked":2,"handled_nowhere":3,"at_ms":1}"#)
        .arg("spare-relay")
        .arg(r#"{"backlog":12,"moved":0,"failed":0,"unsendable":0,"standing_by_for":"shop-relay (host:7#0)","at_ms":1}"#)
        .query(&mut conn)
        .unwrap();
    let frame = eventlib(&url, STREAM, &["top", "--count", "1"]);
    assert!(frame.status.success(), "{frame:?}");
    let frame = text(&frame);
    assert!(
        frame.contains("processes alive: 1 worker of default"),
        "{frame}"
    );
    let row = frame
        .lines()
        .find(|l| l.starts_with("shop::send_mail"))
        .unwrap_or_else(|| panic!("no row for the handler:\n{frame}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    // handler, group, runs, failed, dead, p50, p99, this minute
    assert_eq!(
        cells[..5],
        ["shop::send_mail", "default", "120", "2", "1"],
        "{row}"
    );
    // p50 and p99: the 2^10 µs bucket; then this minute's runs so far.
    assert_eq!(cells[5..], ["1", "ms", "1", "ms", "7"], "{row}");

    let status = json(&eventlib(&url, STREAM, &["--json", "status"]));
    assert_eq!(
        status["processes"].as_object().unwrap().len(),
        1,
        "{status}"
    );
    assert_eq!(status["last_minute"]["default"]["runs"], 120, "{status}");
    assert_eq!(status["last_minute"]["default"]["failed"], 2);
    assert_eq!(status["last_minute"]["default"]["dead_lettered"], 1);
    assert_eq!(status["relays"]["shop-relay"]["relinked"], 2, "{status}");
    assert_eq!(status["relays"]["shop-relay"]["handled_nowhere"], 3);
    assert!(status["relays"]["shop-relay"]["standing_by_for"].is_null());
    assert_eq!(
        status["relays"]["spare-relay"]["standing_by_for"],
        "shop-relay (host:7#0)"
    );
    let table = text(&eventlib(&url, STREAM, &["status"]));
    assert!(
        table.contains("group `default`, last minute: 120 run(s), 2 failed, 1 dead-lettered"),
        "{table}"
    );
    assert!(
        table.contains(
            "outbox relay `shop-relay`: backlog 12, moved 340, failed 1, unsendable 0, \
             relinked 2, HANDLED NOWHERE 3"
        ),
        "{table}"
    );
    assert!(
        table.contains(
            "outbox relay `spare-relay`: backlog 12, moved 0, failed 0, unsendable 0, \
             standing by for shop-relay (host:7#0)"
        ),
        "{table}"
    );
}
