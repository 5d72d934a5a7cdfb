//! The traffic: client tasks requesting product pages from the shoe store
//! over HTTP, each request timed, the same whether events are handled here
//! or in workers.

use std::time::{Duration, Instant};

use crate::{web, POISONED_PRODUCT};

/// Client tasks sending page requests at once.
pub const CLIENTS: u64 = 4;
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

/// The request path, measured over HTTP.
pub struct Served {
    /// When the first request was sent.
    pub started: Instant,
    /// When the last request was answered, from `started`.
    pub served_in: Duration,
    /// Cart adds the relay had sent on when the last request was answered.
    pub relayed_while_serving: u64,
    /// Every page request's latency with event logging, sorted.
    timings: Vec<Duration>,
    /// The same requests to the same server with logging switched off,
    /// sent in turn with them (empty when not measured).
    off: Vec<Duration>,
}

/// The service's runtime: the servers, the relay, and the async handlers
/// (eventlib runs them on the runtime the events are logged in).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Starts the shoe store's server (and, with `compare`, a second one with
/// event logging switched off) and its outbox relay, sends `views` product
/// page requests to it over HTTP from `CLIENTS` concurrent client tasks
/// (each request also to the second server, in turn, for the same-run
/// comparison), then stops the servers the axum way, lets the relay send
/// the last cart adds, and shuts eventlib down after them.
pub fn serve_all(
    runtime: &tokio::runtime::Runtime,
    relay: &eventlib_sql::Relay,
    views: u64,
    compare: bool,
) -> anyhow::Result<(Served, eventlib::Report)> {
    runtime.block_on(async {
        let relaying = relay.spawn();
        let loopback: std::net::SocketAddr = "127.0.0.1:0".parse()?;
        let on = web::start(web::app(true)?, loopback).await?;
        let off = if compare {
            Some(web::start(web::app(false)?, loopback).await?)
        } else {
            None
        };
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<axum::body::Bytes>>();
        let started = Instant::now();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let share = t * views / CLIENTS..(t + 1) * views / CLIENTS;
                let client = client.clone();
                let (on, off) = (on.addr, off.as_ref().map(|s| s.addr));
                tokio::spawn(async move { visit(&client, share, on, off).await })
            })
            .collect();
        let (mut timings, mut off_timings) = (Vec::new(), Vec::new());
        for task in tasks {
            let (on, off) = task.await??;
            timings.extend(on);
            off_timings.extend(off);
        }
        let served_in = started.elapsed();
        let relayed_while_serving = relay.stats().moved;
        timings.sort();
        off_timings.sort();
        // The axum way: stop taking requests, let those in progress end,
        // then send what they committed, then let eventlib finish.
        on.stop().await?;
        if let Some(off) = off {
            off.stop().await?;
        }
        stop_relay(relaying, relay).await?;
        let report = eventlib::shutdown_async(web::SHUTDOWN_TIMEOUT).await;
        Ok((
            Served {
                started,
                served_in,
                relayed_while_serving,
                timings,
                off: off_timings,
            },
            report,
        ))
    })
}

/// Stops the relay's task, then sends what is still committed in the
/// outbox, so that the shutdown after it sees every cart add.
pub async fn stop_relay(
    relaying: eventlib_sql::RelayTask,
    relay: &eventlib_sql::Relay,
) -> anyhow::Result<()> {
    relaying.stop().await;
    relay.drain().await?;
    // Counted again, for the stats: nothing should be left.
    relay.backlog().await?;
    Ok(())
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<axum::body::Bytes>,
>;

/// One client task: its share of the traffic, each request timed.
async fn visit(
    client: &Client,
    requests: std::ops::Range<u64>,
    on: std::net::SocketAddr,
    off: Option<std::net::SocketAddr>,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let (mut timings, mut off_timings) = (Vec::new(), Vec::new());
    for n in requests {
        let (user_id, product_id, source) = request(n);
        // The first view is traced: its request span and the handler
        // spans under it (see `telemetry`).
        let query = format!("user={user_id}&source={source}&traced={}", n == 0);
        let get = |addr: std::net::SocketAddr| {
            let uri: axum::http::Uri = format!("http://{addr}/products/{product_id}?{query}")
                .parse()
                .expect("a valid URI");
            async move {
                let started = Instant::now();
                let answer = client.get(uri).await?;
                let status = answer.status();
                http_body_util::BodyExt::collect(answer.into_body()).await?;
                anyhow::ensure!(status.is_success(), "GET /products/{product_id}: {status}");
                anyhow::Ok(started.elapsed())
            }
        };
        // Which server goes first alternates, so neither always finds
        // the other's work on the cores.
        match off {
            Some(off) if n % 2 == 1 => {
                off_timings.push(get(off).await?);
                timings.push(get(on).await?);
            }
            Some(off) => {
                timings.push(get(on).await?);
                off_timings.push(get(off).await?);
            }
            None => timings.push(get(on).await?),
        }
    }
    Ok((timings, off_timings))
}

impl Served {
    /// Prints the page latency: p50, p99 and max, next to the same server
    /// without event logging when it was measured; the cores are shared
    /// with `others` (who handles the events).
    pub fn print(&self, others: &str) {
        let timings = &self.timings;
        if timings.is_empty() {
            return;
        }
        let pct = |t: &[Duration], p: usize| t[(t.len() * p / 100).min(t.len() - 1)];
        println!(
            "page latency over HTTP ({} requests from {CLIENTS} client tasks, all 200): \
             p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
            timings.len(),
            micros(pct(timings, 50)),
            micros(pct(timings, 99)),
            micros(timings[timings.len() - 1]),
        );
        if !self.off.is_empty() {
            let off = &self.off;
            println!(
                "  the same server with event logging off, in the same run: p50 {:.0} µs, \
                 p99 {:.0} µs (with logging: {:.2}x at p50, {:.2}x at p99)",
                micros(pct(off, 50)),
                micros(pct(off, 99)),
                pct(timings, 50).as_secs_f64() / pct(off, 50).as_secs_f64(),
                pct(timings, 99).as_secs_f64() / pct(off, 99).as_secs_f64(),
            );
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let build = if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        };
        println!("  ({build}, {cores} cores shared by the client, the servers and {others})");
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
