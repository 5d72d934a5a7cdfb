//! The simulated traffic: request threads serving product pages, each
//! request timed, the same whether events are handled here or in workers.

use std::time::{Duration, Instant};

use crate::POISONED_PRODUCT;

pub const REQUEST_THREADS: u64 = 4;
/// Page views in the story, unless `--views` says otherwise.
pub const VIEWS: u64 = 2_000;
const PRODUCTS: u64 = 50;

/// The `n`th request of the simulated traffic: who views which product, from where.
pub fn request(n: u64) -> (u64, u64, &'static str) {
    const SOURCES: [&str; 3] = ["web", "app", "newsletter"];
    (
        1_000 + n % 97,
        1 + (n * 7) % PRODUCTS,
        SOURCES[(n % 3) as usize],
    )
}

pub fn adds_to_cart(user_id: u64) -> bool {
    user_id.is_multiple_of(4)
}

/// What the first `views` requests will do: how many add to the cart, and
/// how many view the withdrawn product.
pub struct Plan {
    pub views: u64,
    pub carts: u64,
    pub poisoned: u64,
}

impl Plan {
    pub fn new(views: u64) -> Plan {
        let requests = (0..views).map(request);
        Plan {
            views,
            carts: requests.clone().filter(|r| adds_to_cart(r.0)).count() as u64,
            poisoned: requests.filter(|r| r.1 == POISONED_PRODUCT).count() as u64,
        }
    }
}

/// The request path, measured.
pub struct Served {
    /// When the first request thread was started.
    pub started: Instant,
    /// When the last request was served, from `started`.
    pub served_in: Duration,
    /// Every request's time in `product_page`, sorted.
    timings: Vec<Duration>,
}

/// Serves `views` requests from `REQUEST_THREADS` threads, each calling
/// `product_page`.
pub fn serve_all(views: u64) -> anyhow::Result<Served> {
    let started = Instant::now();
    let threads: Vec<_> = (0..REQUEST_THREADS)
        .map(|t| {
            let share = t * views / REQUEST_THREADS..(t + 1) * views / REQUEST_THREADS;
            std::thread::spawn(move || serve(share))
        })
        .collect();
    let mut timings = Vec::new();
    for thread in threads {
        let served = thread
            .join()
            .map_err(|_| anyhow::anyhow!("a request thread panicked"))?;
        timings.extend(served?);
    }
    let served_in = started.elapsed();
    timings.sort();
    Ok(Served { started, served_in, timings })
}

/// One request thread: its share of the traffic, timed request by request.
fn serve(requests: std::ops::Range<u64>) -> Result<Vec<Duration>, eventlib::Error> {
    let mut timings = Vec::with_capacity(requests.clone().count());
    for n in requests {
        let (user_id, product_id, source) = request(n);
        let started = Instant::now();
        if n == 0 {
            // The first view is traced: its request span, and the handler
            // spans under it (see `telemetry`).
            crate::telemetry::page_view(product_id, || {
                crate::product_page(user_id, product_id, source)
            })?;
        } else {
            crate::product_page(user_id, product_id, source)?;
        }
        timings.push(started.elapsed());
    }
    Ok(timings)
}

impl Served {
    /// Prints the cost of the request path: mean, median, p99, max; the
    /// cores are shared with `others` (who handles the events).
    pub fn print(&self, others: &str) {
        let timings = &self.timings;
        if timings.is_empty() {
            return;
        }
        let mean = timings.iter().sum::<Duration>() / timings.len() as u32;
        println!(
            "request path ({} requests, all Ok): mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            timings.len(),
            micros(mean),
            micros(timings[timings.len() / 2]),
            micros(timings[timings.len() * 99 / 100]),
            micros(timings[timings.len() - 1]),
        );
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let build = if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        };
        println!(
            "  ({build}, {cores} cores shared by {REQUEST_THREADS} request threads and {others})"
        );
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
