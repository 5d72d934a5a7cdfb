//! `WorkerBuilder::stop_when_idle`: a worker that drains the stream and then
//! returns from `run_blocking` by itself, with every entry handled, and not
//! before (it keeps going while entries arrive or wait).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventlib::redis::{declare_groups, RedisTransport, Worker};
use eventlib::{event, log, Dispatcher};
use eventlib_redis_tests::RedisServer;
use serde::{Deserialize, Serialize};

const N: u64 = 500;
const STREAM: &str = "idle:events";

static HANDLED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    n: u64,
}

#[event(name = "idleworker.Job")]
impl Job {
    #[handler(group = "batch")]
    fn run(&self) {
        std::thread::sleep(Duration::from_millis(1));
        HANDLED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_worker_stops_by_itself_once_the_stream_is_drained() {
    let redis = RedisServer::start();
    let url = redis.url();
    declare_groups(&url, STREAM, &["batch"]).unwrap();
    Dispatcher::builder()
        .transport(RedisTransport::new(&url).unwrap().stream(STREAM))
        .install()
        .unwrap();
    for n in 0..N {
        log!(Job { n }).unwrap();
    }
    assert!(eventlib::flush().is_clean());
    // The producer's stats say where its handlers run, rather than 0s.
    let stats = eventlib::stats();
    assert_eq!(stats.transport, Some("redis"));
    assert!(
        stats
            .to_string()
            .contains("not run in this process; events go to redis workers"),
        "{stats}"
    );

    let idle = Duration::from_millis(500);
    let worker = Worker::builder(&url)
        .stream(STREAM)
        .group("batch")
        .concurrency(2)
        .handle_signals(false)
        .stop_when_idle(idle)
        .build()
        .unwrap();
    let start = Instant::now();
    let running = {
        let worker = worker.clone();
        std::thread::spawn(move || worker.run_blocking())
    };
    // Bounded: a worker that never stops fails the test instead of hanging.
    while !running.is_finished() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker did not stop: {}",
            worker.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running.join().unwrap().unwrap();
    let stats = worker.stats();
    assert_eq!(HANDLED.load(Ordering::SeqCst), N, "{stats}");
    assert_eq!((stats.handled, stats.acked), (N, N), "{stats}");
    assert!(start.elapsed() >= idle, "stopped before being idle");
}
