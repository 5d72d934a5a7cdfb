//! The shoe store's product page, with its tracking moved out of the view.
//!
//! The view used to save a row, bump a counter and tell the stock service
//! inline, each step able to slow or break the page. Now it logs one event;
//! the handlers below do the rest on eventlib's pool, each on its own.
//!
//! ```text
//! cargo run --example shoestore                                  # no Redis needed
//! REDIS_URL=redis://127.0.0.1:6399 cargo run --example shoestore  # counts views in Redis
//! cargo run --example shoestore -- --serve 127.0.0.1:8080        # for a browser
//! ```
//!
//! The store is an axum service on a loopback port; the story drives it
//! with real HTTP requests from concurrent client tasks, and times each
//! page next to the same server with event logging switched off.
//!
//! What it shows: the cost of `log!` on the request path; a real SQLite
//! table filled by a handler; a cart add that writes the cart row and logs
//! `CartItemAdded` in one SQLite transaction (`eventlib-sql`), sent on by
//! the relay running in the service; a Redis counter that fails gracefully
//! when Redis is down; a handler that panics on product 13 without harming
//! its siblings; a wildcard audit handler; validation refusing an event in
//! the caller; and the error hook, `flush()` and `stats()`.
//!
//! The same story as separate processes, over Redis Streams (feature
//! `redis`): the web side logs to a stream (its relay sends the cart adds
//! there), workers run the handlers, each event once per group.
//!
//! ```text
//! redis-server --port 6399 --save '' --daemonize yes
//! cargo run --example shoestore --features redis -- --redis redis://127.0.0.1:6399 worker --until-idle &
//! cargo run --example shoestore --features redis -- --redis redis://127.0.0.1:6399 producer --views 2000
//! ```
//!
//! With the features `tracing`, `metrics` and `opentelemetry`
//! (`--features tracing,metrics,opentelemetry`, with `redis` for the
//! roles), each run also prints the trace of one page view (the request
//! span and the handler spans under it, on the pool or on a worker, one
//! trace id) and a Prometheus scrape.
//!
//! `worker` options: `--group G` (the consumer group; the store's handlers
//! are all in `default`), `--consumer NAME`, `--db PATH` (a SQLite file
//! kept at exit, which several workers may share), and the stop condition:
//! `--until-idle` (the stream is drained), `--events N` (N entries
//! acknowledged), or by default SIGTERM / SIGINT. Product 13 still has no
//! price: `save_to_db` panics on it three times, then its views go to the
//! dead-letter stream, which the worker lists.

mod backends;
mod cli;
mod failures;
mod local;
#[cfg(feature = "redis")]
mod producer;
mod telemetry;
mod traffic;
mod web;
#[cfg(feature = "redis")]
mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use eventlib::{event, handler, log, Context, Record, ValidationError};
use serde::{Deserialize, Serialize};

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

/// Logged by the product page's script, through the ingestion endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductImageZoomed {
    pub product_id: u64,
    pub zoom: u32,
}

#[event]
impl ProductImageZoomed {
    /// Which pictures customers look at closely, and from where.
    #[handler]
    fn note_zoom(&self, ctx: &Context) {
        let md = ctx.metadata();
        println!(
            "zoom on shoe {} (x{}) from {} ({}), request {}, event {}",
            self.product_id,
            self.zoom,
            md.get("client_ip").unwrap_or("?"),
            md.get("user_agent").unwrap_or("no user agent"),
            md.get("request_id").unwrap_or("?"),
            ctx.id(),
        );
    }
}

/// A free-function handler: it could live in the stock service's crate.
#[handler]
async fn reserve_stock(item: &CartItemAdded, ctx: &Context) -> anyhow::Result<()> {
    backends::db().reserve_stock(ctx, item).await
}

static AUDITED_VIEWS: AtomicU64 = AtomicU64::new(0);
static AUDITED_CARTS: AtomicU64 = AtomicU64::new(0);
static AUDIT_SAMPLE: OnceLock<String> = OnceLock::new();

/// Sees every shoestore event, type-erased, as the audit trail needs it.
#[handler("shoestore.*")]
fn audit(record: &Record) {
    if record.is::<ProductViewed>() {
        AUDITED_VIEWS.fetch_add(1, Ordering::Relaxed);
    } else if record.is::<CartItemAdded>() {
        AUDITED_CARTS.fetch_add(1, Ordering::Relaxed);
    }
    AUDIT_SAMPLE.get_or_init(|| format!("{} {}", record.name(), record.data()));
}

/// What `audit` saw: views, cart adds, and the first event as text.
fn audited() -> (u64, u64, &'static str) {
    (
        AUDITED_VIEWS.load(Ordering::Relaxed),
        AUDITED_CARTS.load(Ordering::Relaxed),
        AUDIT_SAMPLE.get().map_or("none", String::as_str),
    )
}

fn price_cents(product_id: u64) -> Option<u64> {
    (product_id != POISONED_PRODUCT).then_some(4_900 + product_id * 100)
}

/// The product view, tracking included: one line, and when the customer
/// adds the shoe to the cart, the cart row and its event in one transaction.
async fn product_page(
    user_id: u64,
    product_id: u64,
    source: &str,
) -> Result<(), eventlib_sql::Error> {
    log!(ProductViewed { user_id, product_id, source: source.into() })?;
    if traffic::adds_to_cart(user_id) {
        let item = CartItemAdded { user_id, product_id, quantity: 1 };
        backends::db().add_to_cart(item).await?;
    }
    Ok(())
}

/// The same page with event logging switched off, for the latency
/// comparison: the cart row alone.
async fn product_page_untracked(user_id: u64, product_id: u64) -> Result<(), sqlx::Error> {
    if traffic::adds_to_cart(user_id) {
        let item = CartItemAdded { user_id, product_id, quantity: 1 };
        backends::db().add_to_cart_untracked(&item).await?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match cli::parse(std::env::args().skip(1)) {
        cli::Command::Local => local::run(),
        cli::Command::Serve(addr) => local::serve(addr),
        #[cfg(feature = "redis")]
        cli::Command::Producer(args) => producer::run(&args),
        #[cfg(feature = "redis")]
        cli::Command::Worker(args) => worker::run(&args),
    }
}
