//! `flush()` with the Redis producer returns as soon as Redis confirmed
//! the last event: the producer settles a confirmed batch event by event,
//! and the waiting `flush()` must be woken by the last of them, not find
//! out at the end of a timed wait (10 ms). A thread beside it watches the
//! producer's statistics and notes when the last event is confirmed; the
//! flush must return soon after, in nearly every round.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventlib::redis::{producer_stats, RedisTransport};
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
        .transport(RedisTransport::new(redis.url()).unwrap().stream(STREAM))
        .install()
        .unwrap();
    // The watcher: when the producer's confirmed count reached `target`.
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let reached: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let watcher = {
        let (target, reached) = (Arc::clone(&target), Arc::clone(&reached));
        std::thread::spawn(move || loop {
            let wanted = target.load(Ordering::SeqCst);
            if wanted == 0 {
                return;
            }
            let delivered = producer_stats().map_or(0, |s| s.delivered);
            if delivered >= wanted {
                reached.lock().unwrap().get_or_insert_with(Instant::now);
            }
            std::thread::sleep(Duration::from_micros(50));
        })
    };
    let mut late = Vec::new();
    for round in 0..ROUNDS {
        *reached.lock().unwrap() = None;
        target.store((round + 1) * EVENTS, Ordering::SeqCst);
        for n in 0..EVENTS {
            log!(Ping { n }).unwrap();
        }
        assert!(eventlib::flush().is_clean());
        let returned = Instant::now();
        let seen = reached.lock().unwrap().unwrap_or(returned);
        // A flush that sleeps through its wake-up returns up to 10 ms
        // after the watcher saw the last confirmation.
        let after = returned.saturating_duration_since(seen);
        if after >= Duration::from_millis(6) {
            late.push((round, after));
        }
    }
    target.store(0, Ordering::SeqCst);
    watcher.join().unwrap();
    let mut conn = redis.connection();
    assert_eq!(xlen(&mut conn, STREAM) as u64, ROUNDS * EVENTS);
    // A loaded machine may delay a few returns; a flush that misses its
    // wake-up returns late in a good share of the rounds.
    assert!(
        (late.len() as u64) < ROUNDS / 6,
        "{} of {ROUNDS} flushes returned 6 ms or more after the last confirmation: {late:?}",
        late.len()
    );
}
