//! The operator's handle against a real redis-server: every call of one
//! handle on one connection, and the same handle working again, at its
//! next call, after the server is killed and started again on its port.

use std::time::Duration;

use eventlib::redis::{DeadLetterFilter, Operator};
use eventlib::Error;
use eventlib_redis_tests::{
    connections_received, xadd_dead_letter, xadd_envelope, DeadLetterFields, RedisServer,
};
use serde_json::json;

const STREAM: &str = "ops:events";

/// Three dead letters of `ops.Paid` in `STREAM`, the middle one for a
/// timeout.
fn fill_dead_letters(conn: &mut redis::Connection) {
    let mut pipe = redis::pipe();
    for (n, reason) in ["card refused", "timeout", "card refused"]
        .into_iter()
        .enumerate()
    {
        let letter = DeadLetterFields {
            n,
            name: "ops.Paid",
            group: "billing",
            handler: "shop::Paid::charge",
            reason,
        };
        xadd_dead_letter(&mut pipe, STREAM, &letter);
    }
    pipe.exec(conn).expect("XADD the dead letters");
}

#[test]
fn every_call_of_one_handle_goes_over_one_connection() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    fill_dead_letters(&mut conn);
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(STREAM)
        .arg("old")
        .arg("$")
        .arg("MKSTREAM")
        .exec(&mut conn)
        .unwrap();
    let before = connections_received(&mut conn);

    let mut op = Operator::new(redis.url()).unwrap().stream(STREAM);
    let first = op.write_envelope("ops.Paid", &json!({ "n": 1 })).unwrap();
    let status = op.status().unwrap();
    assert_eq!((status.length, status.dead_letters), (1, 3));
    assert_eq!(status.groups.len(), 1);
    assert_eq!(op.last_entry_id().unwrap(), first);
    let second = op.write_envelope("ops.Paid", &json!({ "n": 2 })).unwrap();
    let read = op
        .read_after(&first, Duration::from_millis(100), 10)
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].id, second);
    assert_eq!(read[0].name.as_deref(), Some("ops.Paid"));

    let mut dead = op.dead_letters();
    assert_eq!(dead.len().unwrap(), 3);
    let timeouts = DeadLetterFilter {
        reason: Some("timeout".into()),
        ..Default::default()
    };
    let (found, more) = dead.find(&timeouts, None, 10).unwrap();
    assert_eq!((found.len(), more), (1, false));
    let letter = dead.get(&found[0].id).unwrap().expect("the letter by id");
    assert_eq!(letter.source_id, "1700000000000-1");
    dead.replay(&letter).unwrap();
    let rest = dead.list(10).unwrap();
    assert_eq!(rest.len(), 2);
    dead.remove(&rest[0]).unwrap();
    assert_eq!(dead.page(Some(&rest[0].id), 10).unwrap(), rest[1..]);
    assert!(op.destroy_group("old").unwrap());
    assert_eq!(op.status().unwrap().length, 3, "two written, one replayed");

    assert_eq!(
        connections_received(&mut conn) - before,
        1,
        "every call of the handle on one connection"
    );
    assert_eq!(op.reconnections(), 0);
}

#[test]
fn one_handle_works_again_after_the_server_restarts() {
    let mut redis = RedisServer::start();
    let mut op = Operator::new(redis.url()).unwrap().stream(STREAM);
    let written = op.write_envelope("ops.Paid", &json!({ "n": 1 })).unwrap();
    assert_eq!(op.status().unwrap().length, 1);
    assert_eq!(op.reconnections(), 0);

    // Killed and started again on its port (its AOF loaded): the handle's
    // connection is dead, and its next call opens a new one and works.
    redis.restart();
    assert_eq!(op.last_entry_id().unwrap(), written);
    assert_eq!(op.reconnections(), 1);
    let mut conn = redis.connection();
    let before = connections_received(&mut conn);
    let arrived = xadd_envelope(&mut conn, STREAM, br#"{"v":1,"name":"ops.Paid","data":{}}"#);
    let read = op
        .read_after(&written, Duration::from_millis(100), 10)
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].id, arrived);
    assert_eq!(op.status().unwrap().length, 2);
    assert_eq!(
        connections_received(&mut conn),
        before,
        "the new connection is kept"
    );

    // Down: each call is a typed connection error, counted as no
    // reconnection; back: the next call works, and counts one.
    redis.kill9();
    for _ in 0..2 {
        match op.status() {
            Err(Error::Connection { endpoint, .. }) => assert_eq!(endpoint, redis.url()),
            other => panic!("not a connection error: {other:?}"),
        }
    }
    match op.dead_letters().len() {
        Err(Error::Connection { .. }) => {}
        other => panic!("not a connection error: {other:?}"),
    }
    assert_eq!(op.reconnections(), 1);
    redis.restart();
    assert_eq!(op.dead_letters().len().unwrap(), 0);
    let again = op.write_envelope("ops.Paid", &json!({ "n": 3 })).unwrap();
    assert_eq!(op.last_entry_id().unwrap(), again);
    assert_eq!(op.reconnections(), 2);
}

#[test]
fn an_entry_whose_field_name_is_not_utf8_stops_nothing() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    // As a producer in another language may write it: a binary field name
    // next to the envelope.
    let id: String = redis::cmd("XADD")
        .arg(STREAM)
        .arg("*")
        .arg(&b"\xff\xfe"[..])
        .arg("x")
        .arg("event")
        .arg(r#"{"v":1,"name":"ops.Paid","data":{}}"#)
        .query(&mut conn)
        .unwrap();
    let mut op = Operator::new(redis.url()).unwrap().stream(STREAM);
    let status = op.status().unwrap();
    assert_eq!(status.length, 1);
    assert!(status.oldest_entry_age.is_some());
    assert_eq!(op.last_entry_id().unwrap(), id);
    let read = op
        .read_after("0-0", Duration::from_millis(100), 10)
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(
        (read[0].id.as_str(), read[0].name.as_deref()),
        (id.as_str(), Some("ops.Paid"))
    );
}
