//! `flush()` with the Redis producer returns as soon as Redis confirmed
//! the last event: the producer settles a confirmed batch event by event,
//! and the waiting `flush()` must be woken by the last of them, not find
//! out at the end of a timed wait.

use std::time::{Duration, Instant};

use eventlib::redis::RedisTransport;
use eventlib::{event, log, Dispatcher};
use eventlib_redis_tests::{xlen, RedisServer};
use serde::{Deserialize, Serialize};

const STREAM: &str = "flushwakes:events";
const ROUNDS: u64 = 60;
const EVENTS: u64 = 512;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ping {
    n: u64,
}

#[event(name = "flushwakes.Ping")]
impl Ping {
    #[handler]
    fn noop(&self) {}
}

#[test]
fn each_flush_returns_when_redis_confirmed_its_events() {
    let redis = RedisServer::start();
    Dispatcher::builder()
        .transport(RedisTransport::new(&redis.url()).unwrap().stream(STREAM))
        .install()
        .unwrap();
    let mut slow = Vec::new();
    for round in 0..ROUNDS {
        for n in 0..EVENTS {
            log!(Ping { n }).unwrap();
        }
        let t0 = Instant::now();
        assert!(eventlib::flush().is_clean());
        // Two pipelined batches on a loopback connection take a few
        // milliseconds; a flush that slept through its wake-up waits out
        // a whole slice (10 ms) on top.
        let took = t0.elapsed();
        if took >= Duration::from_millis(10) {
            slow.push((round, took));
        }
    }
    let mut conn = redis.connection();
    assert_eq!(xlen(&mut conn, STREAM) as u64, ROUNDS * EVENTS);
    // A loaded machine may delay a few flushes; one that misses its
    // wake-up delays a good share of them.
    assert!(
        (slow.len() as u64) < ROUNDS / 5,
        "{} of {ROUNDS} flushes took 10 ms or more: {slow:?}",
        slow.len()
    );
}
