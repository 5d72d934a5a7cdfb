//! The shoe store's product page, with its tracking moved out of the view.
//!
//! The view used to save a row, bump a counter and tell the stock service
//! inline, each step able to slow or break the page. Now it logs one event;
//! the handlers below do the rest on eventlib's pool, each on its own.
//!
//! ```text
//! cargo run --example shoestore                                  # no Redis needed
//! REDIS_URL=redis://127.0.0.1:6399 cargo run --example shoestore  # counts views in Redis
//! ```
//!
//! What it shows: the cost of `log!` on the request path; a real SQLite
//! table filled by a handler; a Redis counter that fails gracefully when
//! Redis is down; a handler that panics on product 13 without harming its
//! siblings; a wildcard audit handler; validation refusing an event in the
//! caller; and the error hook, `flush()` and `stats()`.

#[path = "shoestore/backends.rs"]
mod backends;
#[path = "shoestore/failures.rs"]
mod failures;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use eventlib::{event, handler, log, Context, Record, ValidationError};
use serde::{Deserialize, Serialize};

const REQUEST_THREADS: u64 = 4;
const VIEWS_PER_THREAD: u64 = 500;
const PRODUCTS: u64 = 50;
/// Withdrawn from the catalogue: it has no price, and `save_to_db` trips on it.
const POISONED_PRODUCT: u64 = 13;
const VIEWS_KEY: &str = "shoestore:product_views";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductViewed {
    pub user_id: u64,
    pub product_id: u64,
    pub source: String,
}

// Registered as "shoestore.ProductViewed": the crate (this example) and the type.
#[event]
impl ProductViewed {
    /// Runs in the caller: a refused event is never queued.
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if self.source.is_empty() {
            return Err(ValidationError::new("source is required").on_field("source"));
        }
        Ok(())
    }

    /// One row per view, with the price the customer saw.
    #[handler]
    fn save_to_db(&self, ctx: &Context) -> anyhow::Result<()> {
        // The bug on purpose: a withdrawn product has no price, and this unwraps.
        let price = price_cents(self.product_id).expect("every product on sale has a price");
        backends::db().insert_view(ctx, self, price)
    }

    /// The "most viewed" counter, in Redis.
    #[handler]
    fn bump_counter(&self) -> anyhow::Result<()> {
        backends::redis().incr(VIEWS_KEY).map(drop)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CartItemAdded {
    pub user_id: u64,
    pub product_id: u64,
    pub quantity: u32,
}

#[event]
impl CartItemAdded {}

/// A free-function handler: it could live in the stock service's crate.
#[handler]
async fn reserve_stock(item: &CartItemAdded) -> anyhow::Result<()> {
    backends::db().insert_cart_item(item)
}

static AUDITED_VIEWS: AtomicU64 = AtomicU64::new(0);
static AUDITED_CARTS: AtomicU64 = AtomicU64::new(0);
static AUDIT_SAMPLE: OnceLock<String> = OnceLock::new();

/// Sees every shoestore event, type-erased, as the audit trail needs it.
#[handler("shoestore.*")]
fn audit(record: &Record) {
    if record.is::<ProductViewed>() {
        AUDITED_VIEWS.fetch_add(1, Ordering::Relaxed);
    } else {
        AUDITED_CARTS.fetch_add(1, Ordering::Relaxed);
    }
    AUDIT_SAMPLE.get_or_init(|| format!("{} {}", record.name(), record.data()));
}

fn price_cents(product_id: u64) -> Option<u64> {
    (product_id != POISONED_PRODUCT).then_some(4_900 + product_id * 100)
}

/// The product view, tracking included: one line, plus one when the
/// customer adds the shoe to the cart.
fn product_page(user_id: u64, product_id: u64, source: &str) -> Result<(), eventlib::Error> {
    log!(ProductViewed { user_id, product_id, source: source.into() })?;
    if adds_to_cart(user_id) {
        log!(CartItemAdded { user_id, product_id, quantity: 1 })?;
    }
    Ok(())
}

/// The `n`th request of the simulated traffic: who views which product, from where.
fn request(n: u64) -> (u64, u64, &'static str) {
    const SOURCES: [&str; 3] = ["web", "app", "newsletter"];
    (
        1_000 + n % 97,
        1 + (n * 7) % PRODUCTS,
        SOURCES[(n % 3) as usize],
    )
}

fn adds_to_cart(user_id: u64) -> bool {
    user_id.is_multiple_of(4)
}

/// One request thread: its share of the traffic, timed request by request.
fn serve(thread: u64) -> Result<Vec<Duration>, eventlib::Error> {
    let mut timings = Vec::with_capacity(VIEWS_PER_THREAD as usize);
    for n in thread * VIEWS_PER_THREAD..(thread + 1) * VIEWS_PER_THREAD {
        let (user_id, product_id, source) = request(n);
        let started = Instant::now();
        product_page(user_id, product_id, source)?;
        timings.push(started.elapsed());
    }
    Ok(timings)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> anyhow::Result<()> {
    let failures = failures::install()?;
    let db = backends::Db::open_temp()?;
    let _delete_db_on_exit = backends::DeleteOnDrop(db);
    let redis = backends::RedisCounter::install(
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    );
    let redis_up = match redis.reset(VIEWS_KEY) {
        Ok(()) => {
            println!("Redis at {}: up, {VIEWS_KEY} reset to 0", redis.url());
            true
        }
        Err(err) => {
            println!("{err:#} (bump_counter will fail; nothing else will)");
            false
        }
    };
    print!("{}", eventlib::registry());

    let refused = log!(ProductViewed { user_id: 1, product_id: 42, source: String::new() });
    match refused {
        Err(err) => println!("\nrefused in the caller, nothing queued: {err}"),
        Ok(id) => anyhow::bail!("an empty source was accepted as event {id}"),
    }

    let views = REQUEST_THREADS * VIEWS_PER_THREAD;
    let requests = (0..views).map(request);
    let poisoned = requests.clone().filter(|r| r.1 == POISONED_PRODUCT).count() as u64;
    let carts = requests.filter(|r| adds_to_cart(r.0)).count() as u64;
    println!("\n== {views} page views ({carts} with a cart add) from {REQUEST_THREADS} request threads; first failures:");
    let started = Instant::now();
    let threads: Vec<_> = (0..REQUEST_THREADS)
        .map(|t| std::thread::spawn(move || serve(t)))
        .collect();
    let mut timings = Vec::new();
    for thread in threads {
        let served = thread
            .join()
            .map_err(|_| anyhow::anyhow!("a request thread panicked"))?;
        timings.extend(served?);
    }
    let served_in = started.elapsed();
    eventlib::flush();
    let handled_in = started.elapsed();

    timings.sort();
    let mean = timings.iter().sum::<Duration>() / timings.len() as u32;
    let p99 = timings[timings.len() * 99 / 100];
    let max = timings[timings.len() - 1];
    println!("\n== results");
    println!(
        "request path ({} requests, all Ok): mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        timings.len(),
        micros(mean),
        micros(timings[timings.len() / 2]),
        micros(p99),
        micros(max),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    println!("  ({build}, {cores} cores shared by {REQUEST_THREADS} request threads and the pool)");
    println!(
        "served in {:.1} ms; flush() returned when every handler was done, at {:.1} ms",
        served_in.as_secs_f64() * 1e3,
        handled_in.as_secs_f64() * 1e3
    );

    let stats = eventlib::stats();
    let count = |handler: &str| stats.handler(handler).cloned().unwrap_or_default();
    let (save, bump) = (count("save_to_db"), count("bump_counter"));
    let rows = db.count("product_views")?;
    println!(
        "SQLite {}: {rows} view rows = {views} views - {poisoned} views of product {POISONED_PRODUCT}",
        db.path().display()
    );
    println!(
        "  (save_to_db panicked on those {} times); {} cart rows from the async reserve_stock",
        save.panicked,
        db.count("cart_items")?
    );
    if redis_up {
        let counter = redis.get(VIEWS_KEY)?;
        println!(
            "Redis counter {VIEWS_KEY} = {counter} ({} updates, {} failed)",
            bump.handled, bump.failed
        );
    } else {
        println!(
            "Redis unreachable: {} counter updates failed, all {views} page views succeeded",
            bump.failed
        );
    }
    println!(
        "panics contained: save_to_db panicked {}x; bump_counter still ran {}x and audit saw {} views",
        save.panicked,
        bump.handled + bump.failed,
        AUDITED_VIEWS.load(Ordering::Relaxed)
    );
    println!(
        "audit (shoestore.*) saw {} events; first: {}",
        AUDITED_VIEWS.load(Ordering::Relaxed) + AUDITED_CARTS.load(Ordering::Relaxed),
        AUDIT_SAMPLE.get().map_or("none", String::as_str)
    );
    println!("error hook: {failures}\n");
    print!("{stats}");

    // The story's arithmetic, checked: a wrong count is a bug, and exits 1.
    anyhow::ensure!(
        rows == views - poisoned,
        "{rows} rows, expected {}",
        views - poisoned
    );
    anyhow::ensure!(save.panicked == poisoned && bump.handled + bump.failed == views);
    anyhow::ensure!(!redis_up || redis.get(VIEWS_KEY)? == views as i64);
    anyhow::ensure!(stats.total().dropped == 0 && stats.total().in_flight == 0);
    Ok(())
}
