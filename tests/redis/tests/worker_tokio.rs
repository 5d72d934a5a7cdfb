//! A Redis worker built inside a tokio service, with no spawner: its async
//! handlers, which await tokio's timer, run on that runtime instead of
//! panicking for want of a reactor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eventlib::redis::{declare_groups, RedisTransport, Worker};
use eventlib::{event, log, Dispatcher};
use eventlib_redis_tests::{wait_for, RedisServer};
use serde::{Deserialize, Serialize};

const N: u64 = 200;
const STREAM: &str = "tokio:events";

static SLEPT: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Shipped {
    n: u64,
}

#[event(name = "tokioworker.Shipped")]
impl Shipped {
    #[handler(group = "tokio")]
    async fn notify(&self) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        SLEPT.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_worker_in_a_tokio_service_runs_tokio_handlers_without_a_spawner() {
    let redis = RedisServer::start();
    let url = redis.url();
    declare_groups(&url, STREAM, &["tokio"]).unwrap();
    Dispatcher::builder()
        .transport(RedisTransport::new(&url).unwrap().stream(STREAM))
        .install()
        .unwrap();
    for n in 0..N {
        log!(Shipped { n }).unwrap();
    }
    assert!(eventlib::flush().is_clean());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let worker = runtime.block_on(async {
        Worker::builder(&url)
            .stream(STREAM)
            .group("tokio")
            .handle_signals(false)
            .build()
            .unwrap()
    });
    let running = {
        let worker = worker.clone();
        runtime.spawn(async move { worker.run().await })
    };
    wait_for(
        "the worker to handle every event",
        Duration::from_secs(60),
        || worker.stats().handled >= N,
    );
    worker.shutdown();
    runtime.block_on(running).unwrap().unwrap();
    let stats = worker.stats();
    assert_eq!(SLEPT.load(Ordering::SeqCst), N, "{stats}");
    assert_eq!((stats.handled, stats.dead_lettered), (N, 0), "{stats}");
}
