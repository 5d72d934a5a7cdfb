//! The shoe store's tracking, distributed: the web process logs product
//! views to a Redis stream, worker processes run the handlers.
//!
//! ```text
//! redis-server --port 6399 --save '' --appendonly yes &
//! # one terminal per worker: two share the "default" group, one runs "analytics"
//! cargo run --features redis --example shoestore_redis -- --redis redis://127.0.0.1:6399 worker
//! cargo run --features redis --example shoestore_redis -- --redis redis://127.0.0.1:6399 worker
//! cargo run --features redis --example shoestore_redis -- --redis redis://127.0.0.1:6399 worker --group analytics
//! # the web side
//! cargo run --features redis --example shoestore_redis -- --redis redis://127.0.0.1:6399 producer --views 2000
//! # Ctrl-C (SIGINT) or SIGTERM stops a worker gracefully and prints its counters.
//! ```
//!
//! Product 13 is withdrawn and has no price: `save_to_db` fails on it three
//! times, then its views go to the dead-letter stream, which the producer
//! lists at the end. Its sibling handlers are not affected.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventlib::redis::{RedisTransport, Worker};
use eventlib::{event, handler, log, Context, Dispatcher, ValidationError};
use serde::{Deserialize, Serialize};

const POISONED_PRODUCT: u64 = 13;

/// The same event as the `shoestore` example, by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductViewed {
    pub user_id: u64,
    pub product_id: u64,
    pub source: String,
}

#[event(name = "shoestore.ProductViewed")]
impl ProductViewed {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if self.source.is_empty() {
            return Err(ValidationError::new("source is required").on_field("source"));
        }
        Ok(())
    }

    /// Group "default": would write a row; here, counts.
    #[handler]
    fn save_to_db(&self, ctx: &Context) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.product_id != POISONED_PRODUCT,
            "product {} has no price (attempt {})",
            self.product_id,
            ctx.attempt()
        );
        SAVED.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

static SAVED: AtomicU64 = AtomicU64::new(0);
static COUNTED: AtomicU64 = AtomicU64::new(0);

/// Group "analytics": sees every view too, on its own workers.
#[handler(group = "analytics")]
async fn count_views(view: &ProductViewed) {
    let _ = view.product_id;
    COUNTED.fetch_add(1, Ordering::Relaxed);
}

fn usage() -> ! {
    eprintln!(
        "usage: shoestore_redis --redis URL producer [--views N]\n       \
         shoestore_redis --redis URL worker [--group default|analytics] [--consumer NAME]"
    );
    std::process::exit(2)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let Some(url) = flag("--redis") else { usage() };
    if args.iter().any(|a| a == "producer") {
        let views: u64 = flag("--views").map_or(Ok(2000), |v| v.parse())?;
        producer(&url, views)
    } else if args.iter().any(|a| a == "worker") {
        worker(
            &url,
            &flag("--group").unwrap_or_else(|| "default".into()),
            flag("--consumer"),
        )
    } else {
        usage()
    }
}

fn producer(url: &str, views: u64) -> anyhow::Result<()> {
    Dispatcher::builder()
        .capacity(100_000)
        .transport(RedisTransport::new(url)?)
        .install()?;
    let mut slowest = Duration::ZERO;
    let start = Instant::now();
    for n in 0..views {
        let began = Instant::now();
        log!(ProductViewed { user_id: n % 97, product_id: n % 50, source: "web".into() })?;
        slowest = slowest.max(began.elapsed());
    }
    let logged = start.elapsed();
    // Waits until Redis has confirmed every event (it may be down: the
    // events wait in the outbox meanwhile).
    let report = eventlib::shutdown(Duration::from_secs(30));
    println!(
        "logged {views} views in {logged:.2?} (slowest log! {slowest:.2?}); all in Redis after {:.2?}, \
         {} not delivered",
        start.elapsed(),
        report.abandoned
    );
    if let Some(stats) = eventlib::redis::producer_stats() {
        println!("producer: {stats}");
    }
    let mut dead = eventlib::redis::dead_letters(url)?;
    println!("dead letters so far: {}", dead.len()?);
    for letter in dead.list(3)? {
        println!(
            "  {} {:?}: {}",
            letter.source_id, letter.handler, letter.reason
        );
    }
    Ok(())
}

fn worker(url: &str, group: &str, consumer: Option<String>) -> anyhow::Result<()> {
    let mut builder = Worker::builder(url)
        .group(group)
        .concurrency(4)
        .max_attempts(3)
        .backoff(Duration::from_millis(100), Duration::from_secs(1));
    if let Some(consumer) = consumer {
        builder = builder.consumer(consumer);
    }
    let worker = builder.build()?;
    println!(
        "worker `{}` of group `{group}` on {url}: Ctrl-C to stop",
        worker.consumer()
    );
    let progress = {
        let worker = worker.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(2));
            println!(
                "  {} | saved {} counted {}",
                worker.stats(),
                SAVED.load(Ordering::Relaxed),
                COUNTED.load(Ordering::Relaxed)
            );
        })
    };
    worker.run_blocking()?;
    drop(progress);
    println!("stopped: {}", worker.stats());
    Ok(())
}
