//! The producer side: events per second from `log!` to entries Redis has
//! confirmed, with `RedisTransport` installed, until `flush()` returns.
//! The dispatcher is global, so this is a sub-process of its own.
//!
//! Baselines, on one connection of the `redis` crate, in pipelined batches
//! of the transport's size: `XADD` of the very envelope bytes eventlib
//! wrote (read back from its first round), and `XADD` of envelopes encoded
//! in the loop as eventlib encodes them (which splits the gap into the
//! JSON and the rest). A third contender is eventlib again, timed until the
//! transport's `delivered` counter (`producer_stats`) reaches the round's
//! events instead of until `flush()` returns: the difference is what
//! waiting in `flush()` costs the transport.

use std::time::{Duration, Instant};

use eventlib::redis::{producer_stats, RedisTransport};
use eventlib::{Dispatcher, Overflow};

use super::server::{Persistence, Server};
use super::{
    del, envelope, install_producer, read_payloads, rotated, wait_until, xadd_all, xadd_all_resp,
    xlen, BATCH,
};
use crate::events::Viewed;
use crate::harness::Report;

/// Events per round.
const EVENTS: u64 = 50_000;
/// The stream every contender writes to (deleted before each round).
const KEY: &str = "bench:producer";
/// The dispatcher's default queue capacity: more than a round, so `log!`
/// never waits for room.
const CAPACITY: usize = 65_536;

pub(crate) fn run(persistence: Persistence, rounds: usize, report: &mut Report) {
    let server = Server::start(persistence);
    install(&server);

    let mut control = server.connect();
    let mut log_round = || log_until_flush(&mut control, EVENTS);
    // eventlib's own bytes, for the first baseline.
    log_round();
    let payloads = read_payloads(&mut server.connect(), KEY);
    assert_eq!(payloads.len() as u64, EVENTS);
    let ours = envelope(0);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&payloads[0])
            .expect("JSON")
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        serde_json::from_slice::<serde_json::Value>(&ours)
            .expect("JSON")
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        "the bench's envelope has eventlib's fields"
    );

    // The same, but done when the transport has counted every event as
    // confirmed (polled every 200 µs), not when `flush()` returns: what
    // `flush()` itself costs.
    let mut polling = server.connect();
    let mut poll_round = || {
        del(&mut polling, KEY);
        let delivered = || producer_stats().expect("the transport runs").delivered;
        let target = delivered() + EVENTS;
        let t0 = Instant::now();
        for i in 0..EVENTS {
            eventlib::log!(Viewed::new(i)).expect("logged");
        }
        wait_until("the transport", Duration::from_secs(120), || {
            delivered() >= target
        });
        let rate = EVENTS as f64 / t0.elapsed().as_secs_f64();
        eventlib::flush();
        assert_eq!(xlen(&mut polling, KEY), EVENTS);
        rate
    };

    let mut raw = server.connect();
    let mut raw_round = || {
        raw_rate(&mut raw, &payloads, |c, p| {
            xadd_all(c, KEY, p.iter().map(Vec::as_slice))
        })
    };
    let mut resp = server.connect();
    let mut resp_round = || {
        raw_rate(&mut resp, &payloads, |c, p| {
            xadd_all_resp(c, KEY, p.iter().map(Vec::as_slice))
        })
    };
    let mut encoding = server.connect();
    let mut encoding_round = || {
        del(&mut encoding, KEY);
        let t0 = Instant::now();
        let mut pipe = redis::Pipeline::with_capacity(BATCH);
        for i in 0..EVENTS {
            pipe.add_command(super::xadd(KEY, &envelope(i)));
            if pipe.len() == BATCH || i + 1 == EVENTS {
                pipe.exec(&mut encoding).expect("XADD");
                pipe.clear();
            }
        }
        let rate = EVENTS as f64 / t0.elapsed().as_secs_f64();
        assert_eq!(xlen(&mut encoding, KEY), EVENTS);
        rate
    };

    let before = producer_stats().expect("the transport runs");
    let [eventlib_rate, polled_rate, raw_rate, resp_rate, encoding_rate] = rotated(
        rounds,
        [
            &mut log_round,
            &mut poll_round,
            &mut raw_round,
            &mut resp_round,
            &mut encoding_round,
        ],
    );
    let after = producer_stats().expect("the transport runs");
    let stats = eventlib::stats().total();
    assert_eq!(stats.dropped, 0);
    assert_eq!(after.failed_batches, 0, "{after}");
    let (delivered, batches) = (
        after.delivered - before.delivered,
        after.batches - before.batches,
    );
    report.row("producer", eventlib_rate, raw_rate);
    report.row("producer-resp", eventlib_rate, resp_rate);
    report.row("producer-encode", eventlib_rate, encoding_rate);
    report.row("producer-flush", eventlib_rate, polled_rate);
    report.row("producer-polled", polled_rate, raw_rate);
    report.note(format!(
        "{}: {EVENTS} events per round, one producer thread, batches of up to {BATCH}, \
         {} B envelopes; eventlib sent {:.1} events per batch on average ({delivered} in \
         {batches}); the first baseline replays the envelopes eventlib wrote through the redis \
         crate's pipeline, the second writes the same as RESP by hand, the third encodes each \
         in the loop",
        persistence.describe(),
        payloads[0].len(),
        delivered as f64 / batches.max(1) as f64,
    ));
}

/// Installs the dispatcher with `RedisTransport` on `server`, writing to
/// the scenario's stream in batches of up to [`BATCH`].
pub(super) fn install(server: &Server) {
    Dispatcher::builder()
        .capacity(CAPACITY)
        .overflow(Overflow::Block)
        .transport(
            RedisTransport::new(server.url())
                .expect("a valid URL")
                .stream(KEY)
                .batch_size(BATCH),
        )
        .install()
        .expect("the first dispatcher of this process");
}

/// One round of `log!` of `events` events until `flush()` returns, on a
/// fresh stream: events per second.
pub(super) fn log_until_flush(control: &mut redis::Connection, events: u64) -> f64 {
    assert!(
        events as usize <= CAPACITY,
        "more events than the queue holds"
    );
    del(control, KEY);
    let t0 = Instant::now();
    for i in 0..events {
        eventlib::log!(Viewed::new(i)).expect("logged");
    }
    eventlib::flush();
    let rate = events as f64 / t0.elapsed().as_secs_f64();
    assert_eq!(xlen(control, KEY), events, "flush returned early");
    rate
}

/// For profilers: `iterations` events logged and flushed to a fresh
/// `redis-server` (no persistence), as one round; `floor` runs the first
/// baseline instead (pipelined `XADD` of pre-encoded envelopes).
pub(crate) fn profile(iterations: u64, floor: bool) {
    let server = Server::start(Persistence::None);
    let t0 = Instant::now();
    if floor {
        let payloads: Vec<Vec<u8>> = (0..iterations).map(envelope).collect();
        let mut raw = server.connect();
        let t0 = Instant::now();
        xadd_all(&mut raw, KEY, payloads.iter().map(Vec::as_slice));
        eprintln!(
            "{:.0} events/s",
            iterations as f64 / t0.elapsed().as_secs_f64()
        );
        return;
    }
    install_producer(&server.url(), KEY, iterations as usize);
    for i in 0..iterations {
        eventlib::log!(Viewed::new(i)).expect("logged");
    }
    eventlib::flush();
    eprintln!(
        "{:.0} events/s",
        iterations as f64 / t0.elapsed().as_secs_f64()
    );
}

/// Events per second of one round of `send`, the baseline's loop, over
/// `payloads` into a stream emptied first; checks that all of them landed.
fn raw_rate(
    conn: &mut redis::Connection,
    payloads: &[Vec<u8>],
    send: fn(&mut redis::Connection, &[Vec<u8>]),
) -> f64 {
    del(conn, KEY);
    let t0 = Instant::now();
    send(conn, payloads);
    let rate = payloads.len() as f64 / t0.elapsed().as_secs_f64();
    assert_eq!(xlen(conn, KEY), payloads.len() as u64);
    rate
}
