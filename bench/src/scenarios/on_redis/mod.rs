//! The Redis scenarios (feature `redis`): events per second through the
//! Redis transport, each next to a raw baseline from the `redis` crate run
//! in the same sub-process against the same `redis-server`, which the
//! sub-process starts on a free loopback port and kills at the end.
//!
//! - [`producer`]: `log!` with `RedisTransport` installed until `flush()`
//!   returns, against pipelined `XADD`s of the same envelope bytes.
//! - [`consumer`]: preloaded entries handled and acknowledged by `Worker`s,
//!   against a raw `XREADGROUP` + `XACK` loop over the same entries.
//! - [`cluster`]: partitioned streams on a local Redis Cluster against one
//!   stream on one node, and `WAIT` confirmation against none.
//! - [`peers`]: the same event through apalis 1.0 with its Redis storage,
//!   producing and consuming, with apalis's defaults and tuned.

pub(crate) mod cluster;
pub(crate) mod consumer;
pub(crate) mod peers;
pub(crate) mod producer;
pub(crate) mod server;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Value;
use serde::Serialize;

use crate::events::Viewed;
use crate::harness::median;

/// The stream entry field eventlib's envelope goes in (`docs/wire-format.md`).
const FIELD: &str = "event";

/// Events per pipelined round trip: the transport's default batch size.
const BATCH: usize = 256;

/// Runs each contender once to warm up, then `rounds` times, starting each
/// round with the next contender in turn (so drifts in machine load hit
/// all alike); returns each contender's median. With two contenders this
/// is [`crate::harness::paired`].
pub(crate) fn rotated<const K: usize>(
    rounds: usize,
    mut contenders: [&mut dyn FnMut() -> f64; K],
) -> [f64; K] {
    for contender in contenders.iter_mut() {
        contender();
    }
    let mut measured: [Vec<f64>; K] = std::array::from_fn(|_| Vec::with_capacity(rounds));
    for round in 0..rounds {
        for k in 0..K {
            let k = (round + k) % K;
            measured[k].push(contenders[k]());
        }
    }
    measured.map(median)
}

/// Version 1 of the envelope, field for field as eventlib's producer
/// writes it (`data` through a `serde_json::Value`, so with sorted keys).
#[derive(Serialize)]
struct Envelope<'a> {
    v: u32,
    id: String,
    name: &'a str,
    emitted_at: u64,
    data: serde_json::Value,
}

/// The envelope of `Viewed::new(i)`, as `log!` would have sent it now.
fn envelope(i: u64) -> Vec<u8> {
    let envelope = Envelope {
        v: 1,
        id: format!(
            "{:032x}",
            (0x6b18_71f7_7fe3_4f3f_u128 << 64) | u128::from(i)
        ),
        name: "bench.Viewed",
        emitted_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        data: serde_json::to_value(Viewed::new(i)).expect("Viewed serializes"),
    };
    serde_json::to_vec(&envelope).expect("the envelope serializes")
}

/// `XADD key * event <payload>`, made at its size (as the producer makes
/// its commands: grown argument by argument, it reallocates).
fn xadd(key: &str, payload: &[u8]) -> redis::Cmd {
    let mut cmd = redis::Cmd::with_capacity(5, 5 + key.len() + FIELD.len() + payload.len());
    cmd.arg("XADD").arg(key).arg("*").arg(FIELD).arg(payload);
    cmd
}

/// `XADD key * event <payload>` for each payload, in pipelined batches
/// written as RESP by hand into one buffer per batch, without the redis
/// crate's `Cmd` and `Pipeline`: the least a client sends.
fn xadd_all_resp<'a>(
    conn: &mut redis::Connection,
    key: &str,
    payloads: impl IntoIterator<Item = &'a [u8]>,
) {
    fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
        out.push(b'$');
        out.extend_from_slice(bytes.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    let send = |conn: &mut redis::Connection, packed: &mut Vec<u8>, queued: &mut usize| {
        let replies =
            redis::ConnectionLike::req_packed_commands(conn, packed, 0, *queued).expect("XADD");
        assert!(replies
            .iter()
            .all(|reply| !matches!(reply, redis::Value::ServerError(_))));
        packed.clear();
        *queued = 0;
    };
    let mut packed = Vec::new();
    let mut queued = 0;
    for payload in payloads {
        packed.extend_from_slice(b"*5\r\n");
        for arg in [
            &b"XADD"[..],
            key.as_bytes(),
            b"*",
            FIELD.as_bytes(),
            payload,
        ] {
            bulk(&mut packed, arg);
        }
        queued += 1;
        if queued == BATCH {
            send(conn, &mut packed, &mut queued);
        }
    }
    if queued > 0 {
        send(conn, &mut packed, &mut queued);
    }
}

/// `XADD key * event <payload>` for each payload, in pipelined batches.
fn xadd_all<'a>(
    conn: &mut redis::Connection,
    key: &str,
    payloads: impl IntoIterator<Item = &'a [u8]>,
) {
    let mut pipe = redis::Pipeline::with_capacity(BATCH);
    let mut queued = 0;
    for payload in payloads {
        pipe.add_command(xadd(key, payload));
        queued += 1;
        if queued == BATCH {
            pipe.exec(conn).expect("XADD");
            pipe.clear();
            queued = 0;
        }
    }
    if queued > 0 {
        pipe.exec(conn).expect("XADD");
    }
}

/// Installs this process's dispatcher with a Redis transport to `url`'s
/// stream `stream`, a queue of `capacity` and `Overflow::Block`.
pub(crate) fn install_producer(url: &str, stream: &str, capacity: usize) {
    eventlib::Dispatcher::builder()
        .capacity(capacity)
        .overflow(eventlib::Overflow::Block)
        .transport(
            eventlib::redis::RedisTransport::new(url)
                .expect("a valid URL")
                .stream(stream),
        )
        .install()
        .expect("the first dispatcher of this process");
}

pub(crate) fn del(conn: &mut redis::Connection, key: &str) {
    redis::cmd("DEL").arg(key).exec(conn).expect("DEL");
}

pub(crate) fn xlen(conn: &mut redis::Connection, key: &str) -> u64 {
    redis::cmd("XLEN").arg(key).query(conn).expect("XLEN")
}

fn items(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        _ => &[],
    }
}

fn text(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The `[[id, [field, value, ...]], ...]` entries of the one stream of an
/// `XREADGROUP` reply (RESP2 `[[key, entries]]` or RESP3 `{key: entries}`).
fn read_group_entries(reply: &Value) -> &[Value] {
    match reply {
        Value::Map(streams) => streams.first().map_or(&[], |(_, entries)| items(entries)),
        other => items(other)
            .first()
            .and_then(|stream| items(stream).get(1))
            .map_or(&[], items),
    }
}

/// The payloads (the `event` field) of the entries of `key`, oldest first.
fn read_payloads(conn: &mut redis::Connection, key: &str) -> Vec<Vec<u8>> {
    let reply: Value = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(conn)
        .expect("XRANGE");
    items(&reply)
        .iter()
        .map(|entry| {
            let fields = items(&items(entry)[1]);
            fields
                .chunks(2)
                .find(|kv| text(&kv[0]) == Some(FIELD.as_bytes()))
                .and_then(|kv| text(&kv[1]))
                .expect("an entry with the envelope")
                .to_vec()
        })
        .collect()
}

/// Waits until `count` reaches `target`, polling it in naps of half the
/// time left at the rate so far (within 200 µs and 20 ms): near the end it
/// looks every 200 µs, as [`wait_until`] does, but a round of tens of
/// milliseconds is not interrupted thousands of times on a machine whose
/// cores the workers need. Panics after `limit`.
fn wait_for_count(what: &str, limit: Duration, target: u64, mut count: impl FnMut() -> u64) {
    let start = std::time::Instant::now();
    loop {
        let done = count();
        if done >= target {
            return;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        let left = match done {
            0 => Duration::ZERO,
            _ => elapsed.mul_f64((target - done) as f64 / done as f64),
        };
        std::thread::sleep((left / 2).clamp(Duration::from_micros(200), Duration::from_millis(20)));
    }
}

/// Polls `done` every 200 µs (a sleeping poller, not to take a core from
/// what it waits for); panics after `limit`.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// `CONFIG RESETSTAT`: zeroes the command counts [`command_calls`] reads.
fn reset_stats(conn: &mut redis::Connection) {
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .exec(conn)
        .expect("CONFIG RESETSTAT");
}

/// Calls of `command` (lower case) since the last [`reset_stats`], from
/// `INFO commandstats`.
fn command_calls(conn: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(conn)
        .expect("INFO commandstats");
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix)?.split(',').next()?.parse().ok())
        .unwrap_or(0)
}
