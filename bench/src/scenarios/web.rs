//! Scenarios 11 and 12: eventlib in an axum service, over real loopback
//! HTTP. The product page logs one event with three handlers (one failing,
//! and with `redis_down` a second one failing to connect, as a Redis
//! counter does when Redis is unreachable), against the same server with
//! logging switched off: page latency at a fixed rate below saturation,
//! and throughput at saturation. And the ingestion endpoint against a bare
//! axum endpoint that deserializes the same body.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use eventlib::{event, Dispatcher};
use http_body_util::{BodyExt as _, Full};
use serde::{Deserialize, Serialize};

use crate::harness::{median, Report};

/// Requests per second of the fixed-rate rounds, to each server.
const RATE: u64 = 1_000;
/// `log!` calls in a row for the back-to-back baseline of the `log!` rows.
const BACK_TO_BACK: u64 = 2_000;
/// How long each fixed-rate round sends.
const RATE_ROUND: Duration = Duration::from_secs(4);
/// Concurrent clients of the saturation and ingestion rounds.
const CLIENTS: usize = 8;
/// How long each saturation round runs, per server.
const SATURATION_ROUND: Duration = Duration::from_millis(1000);

static REDIS_DOWN: AtomicBool = AtomicBool::new(false);

/// How long each `log!` of the page took, while a fixed-rate round runs.
static LOG_TIMES: std::sync::Mutex<Vec<Duration>> = std::sync::Mutex::new(Vec::new());

/// Set while a fixed-rate round runs: only then does the page time its
/// `log!`, so that the saturation rounds measure the page alone and not
/// the timing's clock reads and shared vector.
static TIMING: AtomicBool = AtomicBool::new(false);

/// How often the Redis counter tries to connect while Redis is down.
const RECONNECT: Duration = Duration::from_secs(1);

/// When the Redis counter tries to connect again.
static RETRY_AT: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageViewed {
    product_id: u64,
}

#[event(name = "bench.PageViewed")]
impl PageViewed {
    #[handler]
    fn save(&self) {
        std::hint::black_box(self.product_id);
    }

    /// The Redis counter: with Redis unreachable, it fails as the shoe
    /// store's counter does, trying to connect once per [`RECONNECT`] and
    /// failing at once with the last refusal in between.
    #[handler]
    fn bump(&self) -> anyhow::Result<()> {
        if !REDIS_DOWN.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut retry_at = RETRY_AT.lock().unwrap_or_else(|e| e.into_inner());
        if retry_at.is_some_and(|at| Instant::now() < at) {
            anyhow::bail!("Redis unreachable: connection refused (not retried yet)");
        }
        let refused = std::net::TcpStream::connect(("127.0.0.1", 1));
        *retry_at = Some(Instant::now() + RECONNECT);
        refused?;
        Ok(())
    }

    /// A partner API that refuses every call.
    #[handler]
    fn partner(&self) -> anyhow::Result<()> {
        anyhow::bail!("partner API down")
    }
}

/// The same view as [`PageViewed`] with no handler: the dispatcher counts
/// it and queues nothing, so a page logging it pays for `log!` alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UnhandledView {
    product_id: u64,
}

#[event(name = "bench.UnhandledView")]
impl UnhandledView {}

/// The same view with three handlers that do nothing and never fail: a
/// page logging it pays for `log!` and the pool's runs, not for failures.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct QuietView {
    product_id: u64,
}

#[event(name = "bench.QuietView")]
impl QuietView {
    #[handler]
    fn first(&self) {
        std::hint::black_box(self.product_id);
    }

    #[handler]
    fn second(&self) {
        std::hint::black_box(self.product_id);
    }

    #[handler]
    fn third(&self) {
        std::hint::black_box(self.product_id);
    }
}

/// What the product page logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logging {
    Off,
    /// `PageViewed`, its `log!` timed while [`TIMING`] is set.
    Page,
    Unhandled,
    Quiet,
}

fn app(logging: Logging) -> Router {
    Router::new()
        .route(
            "/products/{id}",
            get(move |Path(id): Path<u64>| async move {
                match logging {
                    Logging::Off => {}
                    Logging::Page => {
                        let started = TIMING.load(Ordering::Relaxed).then(Instant::now);
                        let _ = eventlib::log!(PageViewed { product_id: id });
                        if let Some(started) = started {
                            let took = started.elapsed();
                            LOG_TIMES
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(took);
                        }
                    }
                    Logging::Unhandled => {
                        let _ = eventlib::log!(UnhandledView { product_id: id });
                    }
                    Logging::Quiet => {
                        let _ = eventlib::log!(QuietView { product_id: id });
                    }
                }
                format!("<h1>Shoe {id}</h1>")
            }),
        )
        .route(
            "/bare",
            post(|body: Bytes| async move {
                match serde_json::from_slice::<PageViewed>(&body) {
                    Ok(event) => {
                        std::hint::black_box(event);
                        StatusCode::ACCEPTED
                    }
                    Err(_) => StatusCode::BAD_REQUEST,
                }
            }),
        )
        .merge(
            eventlib_axum::Ingest::new()
                .allow(["bench.PageViewed"])
                .no_rate_limit()
                .router()
                .expect("the bench event is linked"),
        )
        .layer(eventlib_axum::RequestMetadataLayer::new())
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    addr
}

/// One request; its latency.
async fn send(client: &Client, request: axum::http::Request<Full<Bytes>>) -> Duration {
    let started = Instant::now();
    let answer = client.request(request).await.expect("an answer");
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.into_body().collect().await.expect("a body");
    started.elapsed()
}

fn page(addr: SocketAddr, n: u64) -> axum::http::Request<Full<Bytes>> {
    axum::http::Request::get(format!("http://{addr}/products/{}", n % 50))
        .body(Full::default())
        .expect("a request")
}

fn json_post(addr: SocketAddr, path: &str) -> axum::http::Request<Full<Bytes>> {
    axum::http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(br#"{"product_id":42}"#)))
        .expect("a request")
}

fn p99(mut latencies: Vec<Duration>) -> f64 {
    latencies.sort();
    let at = (latencies.len() * 99 / 100).min(latencies.len() - 1);
    latencies[at].as_secs_f64() * 1e6
}

/// `RATE` requests per second to each server, in turn, for `RATE_ROUND`:
/// the latencies of each.
async fn fixed_rate(
    client: &Client,
    on: SocketAddr,
    off: SocketAddr,
) -> (Vec<Duration>, Vec<Duration>) {
    let requests = RATE * RATE_ROUND.as_millis() as u64 / 1000;
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / RATE as u32);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = Vec::with_capacity(requests as usize);
    for n in 0..requests {
        ticks.tick().await;
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            // Which server goes first alternates.
            if n % 2 == 0 {
                let a = send(&client, page(on, n)).await;
                (a, send(&client, page(off, n)).await)
            } else {
                let b = send(&client, page(off, n)).await;
                (send(&client, page(on, n)).await, b)
            }
        }));
    }
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for task in tasks {
        let (a, b) = task.await.expect("a request task");
        with.push(a);
        without.push(b);
    }
    (with, without)
}

/// `CLIENTS` clients sending `request(n)` back to back for `how_long`:
/// requests per second and p99 latency (µs).
async fn saturate(
    client: &Client,
    how_long: Duration,
    request: impl Fn(u64) -> axum::http::Request<Full<Bytes>> + Clone + Send + 'static,
) -> (f64, f64) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (client, request) = (client.clone(), request.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = c as u64;
                while started.elapsed() < how_long {
                    latencies.push(send(&client, request(n)).await);
                    n += CLIENTS as u64;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a client task"));
    }
    let per_second = latencies.len() as f64 / started.elapsed().as_secs_f64();
    (per_second, p99(latencies))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn install() {
    Dispatcher::builder()
        // The failures are the point; the bench counts them instead.
        .error_hook(|_| {})
        .install()
        .expect("the first dispatcher of this process");
}

/// Scenario 11: the page with and without logging (`redis_down`: the
/// counter handler's connection refused every time).
pub(crate) fn page_cost(redis_down: bool, rounds: usize, report: &mut Report) {
    REDIS_DOWN.store(redis_down, Ordering::Relaxed);
    install();
    let runtime = runtime();
    // The servers of the saturation rounds: the page, the page without
    // logging, and (once, not again with Redis down) the page logging an
    // event without handlers and one with three quiet handlers, which
    // split what the page's logging costs into `log!` and the pool's runs.
    let kinds: &[Logging] = if redis_down {
        &[Logging::Page, Logging::Off]
    } else {
        &[
            Logging::Page,
            Logging::Off,
            Logging::Unhandled,
            Logging::Quiet,
        ]
    };
    let rate_rounds = rounds.div_ceil(3).max(3);
    let saturation_rounds = rounds.max(rate_rounds);
    let (p99_on, p99_off, rps, (log_p50, log_p99, log_busy)) = runtime.block_on(async {
        let mut servers = Vec::new();
        for &kind in kinds {
            servers.push(serve(app(kind)).await);
        }
        let (on, off) = (servers[0], servers[1]);
        let client: Client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        // Warm-up: connections, the registry, the pool.
        fixed_rate(&client, on, off).await;
        let (mut p_on, mut p_off) = (vec![], vec![]);
        let mut rps: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
        let mut at_rate = Vec::new();
        // A fixed-rate round every few saturation rounds, spread evenly.
        for round in 0..saturation_rounds {
            if round * rate_rounds % saturation_rounds < rate_rounds {
                LOG_TIMES.lock().unwrap_or_else(|e| e.into_inner()).clear();
                TIMING.store(true, Ordering::Relaxed);
                let (mut a, mut b) = fixed_rate(&client, on, off).await;
                TIMING.store(false, Ordering::Relaxed);
                at_rate.append(&mut LOG_TIMES.lock().unwrap_or_else(|e| e.into_inner()));
                p_on.append(&mut a);
                p_off.append(&mut b);
            }
            // Which server goes first turns round by round.
            for k in 0..servers.len() {
                let which = (round + k) % servers.len();
                let addr = servers[which];
                let (r, _) = saturate(&client, SATURATION_ROUND, move |n| page(addr, n)).await;
                rps[which].push(r);
                // What one server's handlers left behind runs before the next round.
                eventlib::flush_async().await;
            }
        }
        // The same `log!` back to back, the pool kept busy: row 1's case.
        let mut back_to_back = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            for id in 0..BACK_TO_BACK {
                let _ = eventlib::log!(PageViewed { product_id: id });
            }
            back_to_back.push(started.elapsed().as_nanos() as f64 / BACK_TO_BACK as f64);
            eventlib::flush_async().await;
        }
        at_rate.sort();
        let ns = |at: usize| at_rate[at.min(at_rate.len() - 1)].as_nanos() as f64;
        let logs = (
            ns(at_rate.len() / 2),
            ns(at_rate.len() * 99 / 100),
            median(back_to_back),
        );
        (
            p99(p_on),
            p99(p_off),
            rps.into_iter().map(median).collect::<Vec<_>>(),
            logs,
        )
    });
    let stats = eventlib::stats();
    let viewed = stats.event("bench.PageViewed").expect("the bench event");
    assert_eq!(viewed.dropped, 0, "nothing dropped");
    report.row("p99", p99_on, p99_off);
    report.row("throughput", rps[0], rps[1]);
    if let [_, _, unhandled, quiet] = rps[..] {
        report.row("throughput-unhandled", unhandled, rps[1]);
        report.row("throughput-quiet", quiet, rps[1]);
    }
    report.row("log-p50", log_p50, log_busy);
    report.row("log-p99", log_p99, log_busy);
    report.note(format!(
        "{RATE} requests/s to each server in turn for {RATE_ROUND:?} in each of {rate_rounds} \
         rounds (the p99 of all of each server's requests); {CLIENTS} clients back to back for \
         {SATURATION_ROUND:?} per server in each of {saturation_rounds} rounds; {} page views \
         logged, {} handler runs failed{}",
        viewed.emitted,
        viewed.failed,
        if redis_down {
            " (the counter handler failed every time: one refused connection per second, \
             the last refusal in between, as the shoe store's counter does)"
        } else {
            ""
        }
    ));
}

/// Scenario 12: the ingestion endpoint against a bare axum endpoint that
/// deserializes the same body.
pub(crate) fn ingestion(rounds: usize, report: &mut Report) {
    install();
    let runtime = runtime();
    let (eps, bare_eps, p99, bare_p99) = runtime.block_on(async {
        let addr = serve(app(Logging::Page)).await;
        let client: Client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let (mut e, mut b, mut pe, mut pb) = (vec![], vec![], vec![], vec![]);
        for round in 0..rounds.div_ceil(3).max(3) + 1 {
            let ingest = move |_| json_post(addr, "/events/bench.PageViewed");
            let bare = move |_| json_post(addr, "/bare");
            let ((r1, p1), (r2, p2)) = if round % 2 == 0 {
                let a = saturate(&client, SATURATION_ROUND, ingest).await;
                (a, saturate(&client, SATURATION_ROUND, bare).await)
            } else {
                let b = saturate(&client, SATURATION_ROUND, bare).await;
                (saturate(&client, SATURATION_ROUND, ingest).await, b)
            };
            eventlib::flush_async().await;
            if round == 0 {
                continue; // warm-up
            }
            e.push(r1);
            b.push(r2);
            pe.push(p1);
            pb.push(p2);
        }
        (median(e), median(b), median(pe), median(pb))
    });
    report.row("events", eps, bare_eps);
    report.row("p99", p99, bare_p99);
    report.note(format!(
        "{CLIENTS} clients posting {{\"product_id\":42}} back to back for {SATURATION_ROUND:?} \
         per endpoint per round; the bare endpoint deserializes the same body into the same type"
    ));
}
