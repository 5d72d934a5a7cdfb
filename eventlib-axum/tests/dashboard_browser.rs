//! The dashboard in a real browser (headless Chromium through
//! chromedriver), against a real redis-server and real workers
//! (`eventlib::redis::Worker`s running in this process, with the handlers
//! declared below):
//!
//! - the charts show the runs, failures and dead letters the test
//!   produced, read from the SVG's `data-value` attributes, on the
//!   overview, an event's page and a handler's page, with the processes
//!   alive and the recent failures;
//! - a handler, then a whole group, paused and resumed by clicking the
//!   pages' buttons while a worker runs: the entries wait, then are
//!   handled;
//! - every page at a phone's width (390 × 844): nothing sticks out of the
//!   viewport sideways except the tables, which scroll in their box;
//! - the dead letters filtered, selected and replayed.
//!
//! Screenshots of every page, at a laptop's width (1280) and a phone's
//! (390), are saved as test artefacts in `target/dashboard-screenshots/`
//! at the workspace's root (`overview.png`, `overview-phone.png`,
//! `event.png`, `handler.png`, `dead-letters.png`, `dead-letter.png`,
//! their `-phone` twins, `handler-paused.png`, `group-paused.png` ...).

mod common;

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use common::browser::{self, click, save_dashboard_screenshot, whole_page};
use eventlib::event;
use eventlib::redis::{declare_groups, Worker};
use eventlib_axum::Dashboard;
use eventlib_redis_tests::{pending, wait_for, xadd_envelopes, xlen, RedisServer};
use fantoccini::{Client, Locator};
use serde::{Deserialize, Serialize};

const LIMIT: Duration = Duration::from_secs(60);
const LAPTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// An order: `record` always succeeds, `charge` fails every attempt of
/// an order with `refused` set (after its 2 attempts: a dead letter).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    seq: u64,
    refused: bool,
}

#[event(name = "charts.Order")]
impl Order {
    #[handler(group = "shop")]
    fn record(&self) {
        std::thread::sleep(Duration::from_millis(2));
    }

    #[handler(group = "shop")]
    fn charge(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.refused, "card refused for order {}", self.seq);
        Ok(())
    }
}

/// A parcel shipped: handled by the `mail` group.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Shipped {
    seq: u64,
}

#[event(name = "charts.Shipped")]
impl Shipped {
    #[handler(group = "mail")]
    fn notify(&self) {}
}

/// A job of the pause test: `prepare` then `send`, each noting the seqs
/// it ran for.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    seq: u64,
}

static PREPARED: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());
static SENT: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

#[event(name = "pausing.Job")]
impl Job {
    #[handler(group = "jobs")]
    fn prepare(&self) {
        PREPARED.lock().unwrap().insert(self.seq);
    }

    #[handler(group = "jobs")]
    fn send(&self) {
        SENT.lock().unwrap().insert(self.seq);
    }
}

/// A worker of `group` on `stream`, running on a thread of its own until
/// [`Running::stop`].
struct Running {
    worker: Worker,
    thread: Option<std::thread::JoinHandle<Result<(), eventlib::Error>>>,
}

impl Running {
    fn start(url: &str, stream: &str, group: &str, consumer: &str) -> Running {
        let worker = Worker::builder(url)
            .stream(stream)
            .group(group)
            .consumer(consumer)
            .concurrency(2)
            .max_attempts(2)
            .backoff(Duration::from_millis(10), Duration::from_millis(20))
            .handle_signals(false)
            .build()
            .unwrap();
        let thread = {
            let worker = worker.clone();
            std::thread::spawn(move || worker.run_blocking())
        };
        Running {
            worker,
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        self.worker.shutdown();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap().unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.worker.shutdown();
    }
}

/// The full path of this crate's handler `name` (`Type::method`).
fn handler_path(name: &str) -> String {
    eventlib::registry()
        .handlers()
        .map(|h| h.name())
        .find(|path| path.ends_with(&format!("::{name}")) && !path.contains("eventlib_redis"))
        .unwrap_or_else(|| panic!("no handler {name}"))
        .to_owned()
}

/// A path segment as the dashboard's links encode it.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Each point of `series` in chart `chart` of the page, as `(data-at,
/// data-value)`, read by the browser in one go.
async fn points(client: &Client, chart: &str, series: &str) -> Vec<(u64, f64)> {
    let found = client
        .execute(
            r#"return Array.from(document.querySelectorAll(
                   '[data-chart="' + arguments[0] + '"] [data-series="' + arguments[1] + '"]'))
               .map(function (e) { return [Number(e.getAttribute("data-at")), Number(e.getAttribute("data-value"))]; });"#,
            vec![serde_json::json!(chart), serde_json::json!(series)],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// The sum of `series` in chart `chart`.
async fn total(client: &Client, chart: &str, series: &str) -> u64 {
    points(client, chart, series)
        .await
        .iter()
        .map(|(_, v)| *v as u64)
        .sum()
}

/// The value of attribute `name` of the first element `css` selects, read
/// in one script (the page's refresh may swap its elements at any time).
async fn attr(client: &Client, css: &str, name: &str) -> Option<String> {
    let found = client
        .execute(
            "var e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            vec![serde_json::json!(css), serde_json::json!(name)],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// The text of each element `css` selects, read in one script.
async fn texts(client: &Client, css: &str) -> Vec<String> {
    let found = client
        .execute(
            "return Array.from(document.querySelectorAll(arguments[0])).map(function (e) { return e.textContent.trim(); });",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// Goes to `url` and reloads it until `ready` (read from the page) holds,
/// for up to a minute: the workers publish their figures every 5 s.
async fn until<F, Fut>(client: &Client, url: &str, what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    client.goto(url).await.unwrap();
    loop {
        match ready().await {
            Ok(()) => return,
            Err(last) if started.elapsed() > LIMIT => panic!("{what}: {last}"),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                client.goto(url).await.unwrap();
            }
        }
    }
}

/// The page at a phone's width: nothing sticks out sideways; saved as
/// `<name>-phone.png`, and at a laptop's width as `<name>.png`.
async fn screenshots(client: &Client, url: &str, name: &str) {
    assert_eq!(
        browser::window(client, PHONE.0, PHONE.1).await,
        u64::from(PHONE.0),
        "the viewport is a phone's width"
    );
    client.goto(url).await.unwrap();
    let sticking_out = browser::overflowing(client).await;
    assert!(
        sticking_out.is_empty(),
        "{name} at {}px: {sticking_out:#?}",
        PHONE.0
    );
    save_dashboard_screenshot(
        &format!("{name}-phone.png"),
        &whole_page(client, PHONE.0, PHONE.1).await,
    );
    browser::window(client, LAPTOP.0, LAPTOP.1).await;
    client.goto(url).await.unwrap();
    let sticking_out = browser::overflowing(client).await;
    assert!(sticking_out.is_empty(), "{name}: {sticking_out:#?}");
    save_dashboard_screenshot(
        &format!("{name}.png"),
        &whole_page(client, LAPTOP.0, LAPTOP.1).await,
    );
}

#[test]
fn the_charts_show_what_the_workers_did_on_every_page_at_every_width() {
    const STREAM: &str = "charts:events";
    const ORDERS: u64 = 30;
    const REFUSED: u64 = 4;
    const SHIPPED: u64 = 12;
    let Some(chrome) = browser::Browser::start() else {
        return;
    };
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    declare_groups(&url, STREAM, &["shop", "mail"]).unwrap();
    let workers = [
        Running::start(&url, STREAM, "shop", "shop-1"),
        Running::start(&url, STREAM, "shop", "shop-2"),
        Running::start(&url, STREAM, "mail", "mail-1"),
    ];
    // Orders, the last REFUSED of them refused at every attempt; parcels.
    xadd_envelopes(
        &mut conn,
        STREAM,
        (0..ORDERS).map(|seq| {
            format!(
                r#"{{"v":1,"name":"charts.Order","data":{{"seq":{seq},"refused":{}}}}}"#,
                seq >= ORDERS - REFUSED
            )
        }),
    );
    xadd_envelopes(
        &mut conn,
        STREAM,
        (0..SHIPPED)
            .map(|seq| format!(r#"{{"v":1,"name":"charts.Shipped","data":{{"seq":{seq}}}}}"#)),
    );
    wait_for("every entry handled or dead-lettered", LIMIT, || {
        pending(&mut conn, STREAM, "shop") == 0
            && pending(&mut conn, STREAM, "mail") == 0
            && xlen(&mut conn, &format!("{STREAM}:dead")) == REFUSED as i64
    });
    // What the test produced: every handler run, by outcome.
    let handled = ORDERS + (ORDERS - REFUSED) + SHIPPED;
    let failed = 2 * REFUSED;
    let app = Router::new().merge(Dashboard::new("/eventlib").redis(&url, STREAM).router());
    let addr = common::serve(app);
    let base = format!("http://{addr}/eventlib");
    let charge = handler_path("charge");
    let record = handler_path("record");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = chrome.session().await;
        browser::window(&client, LAPTOP.0, LAPTOP.1).await;

        // The overview, once every worker published what it did.
        until(&client, &base, "the overview's charts", || async {
            let got = (
                total(&client, "runs-minutes", "handled").await,
                total(&client, "runs-minutes", "failed").await,
                total(&client, "dead-minutes", "dead-lettered").await,
            );
            if got == (handled, failed, REFUSED) {
                Ok(())
            } else {
                Err(format!("(handled, failed, dead) = {got:?}"))
            }
        })
        .await;
        assert_eq!(total(&client, "runs-minutes", "panicked").await, 0);
        assert_eq!(total(&client, "runs-hours", "handled").await, handled);
        assert_eq!(total(&client, "runs-hours", "failed").await, failed);
        let tile = texts(&client, "[data-tile='handled, last hour'] .v").await;
        assert_eq!(tile, [handled.to_string()]);
        // Each group's lag and pending, sampled by its workers.
        for group in ["shop", "mail"] {
            let lag = points(&client, &format!("group-{group}"), "lag").await;
            let waiting = points(&client, &format!("group-{group}"), "pending").await;
            assert!(
                !lag.is_empty() && !waiting.is_empty(),
                "{group}: no samples"
            );
        }
        // The processes alive.
        for name in ["shop-1", "shop-2", "mail-1"] {
            assert!(
                attr(
                    &client,
                    &format!("tr[data-process='{name}']"),
                    "data-process"
                )
                .await
                .is_some(),
                "{name} is not listed as alive"
            );
        }
        assert_eq!(
            attr(&client, "#processes", "data-count").await.as_deref(),
            Some("3")
        );

        // The event's page: its runs, its run times, its failure rate, its
        // recent failures.
        let event_url = format!("{base}/events/charts.Order");
        client.goto(&event_url).await.unwrap();
        assert_eq!(
            total(&client, "runs-minutes", "handled").await,
            ORDERS + ORDERS - REFUSED
        );
        assert_eq!(total(&client, "runs-minutes", "failed").await, failed);
        assert_eq!(
            total(&client, "runs-hours", "handled").await,
            2 * ORDERS - REFUSED
        );
        let p50 = points(&client, "run-time-minutes", "p50").await;
        let p99 = points(&client, "run-time-minutes", "p99").await;
        assert!(!p50.is_empty(), "no run times drawn");
        assert_eq!(p50.len(), p99.len());
        for ((at, median), (at99, tail)) in p50.iter().zip(&p99) {
            assert_eq!(at, at99);
            assert!(*median > 0.0 && median <= tail, "p50 {median} p99 {tail}");
        }
        // The failure rate of each minute is what the runs chart says.
        let runs_ok = points(&client, "runs-minutes", "handled").await;
        let runs_failed = points(&client, "runs-minutes", "failed").await;
        let rates = points(&client, "failure-rate-minutes", "failure rate").await;
        assert!(!rates.is_empty());
        for (at, rate) in &rates {
            let of = |points: &[(u64, f64)]| {
                points
                    .iter()
                    .find(|(a, _)| a == at)
                    .map_or(0.0, |(_, v)| *v)
            };
            let (ok, bad) = (of(&runs_ok), of(&runs_failed));
            let want = 100.0 * bad / (ok + bad);
            assert!((rate - want).abs() < 0.01, "at {at}: {rate} != {want}");
        }
        assert_eq!(
            attr(&client, "#recent-failures", "data-count")
                .await
                .as_deref(),
            Some(REFUSED.to_string().as_str())
        );
        screenshots(&client, &event_url, "event").await;

        // The handler that fails: its runs, retries, dead letters and
        // recent failures; the one that never fails has none.
        let charge_url = format!("{base}/handlers/{}", segment(&charge));
        client.goto(&charge_url).await.unwrap();
        assert_eq!(
            total(&client, "runs-minutes", "handled").await,
            ORDERS - REFUSED
        );
        assert_eq!(total(&client, "runs-minutes", "failed").await, failed);
        assert_eq!(total(&client, "retries-minutes", "retried").await, REFUSED);
        assert_eq!(
            total(&client, "retries-minutes", "dead-lettered").await,
            REFUSED
        );
        let recent = texts(&client, "#recent-failures tr[data-letter]").await;
        assert_eq!(recent.len() as u64, REFUSED);
        for text in &recent {
            assert!(text.contains("card refused for order"), "{text}");
        }
        assert_eq!(
            attr(
                &client,
                &format!("[data-handler='{charge}'] [data-state]"),
                "data-state"
            )
            .await
            .as_deref(),
            Some("running")
        );
        screenshots(&client, &charge_url, "handler").await;
        let record_url = format!("{base}/handlers/{}", segment(&record));
        client.goto(&record_url).await.unwrap();
        assert_eq!(total(&client, "runs-minutes", "handled").await, ORDERS);
        assert_eq!(total(&client, "runs-minutes", "failed").await, 0);
        assert_eq!(
            attr(&client, "#recent-failures", "data-count")
                .await
                .as_deref(),
            Some("0")
        );

        // The page's script fetches it again and swaps in the new figures,
        // without reloading it.
        client.goto(&base).await.unwrap();
        let updated = |client: Client| async move { texts(&client, ".updated").await };
        let first = updated(client.clone()).await;
        client
            .execute("window.notReloaded = true; return null;", vec![])
            .await
            .unwrap();
        let started = Instant::now();
        while updated(client.clone()).await == first {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "never refreshed"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let kept = client
            .execute("return window.notReloaded === true", vec![])
            .await
            .unwrap();
        assert_eq!(
            kept,
            serde_json::json!(true),
            "the page was reloaded, not refreshed"
        );
        assert_eq!(total(&client, "runs-minutes", "handled").await, handled);

        // Every other page, at both widths.
        screenshots(&client, &base, "overview").await;
        screenshots(&client, &format!("{base}/dead"), "dead-letters").await;
        let letter = attr(&client, "input[name=id]", "value").await.unwrap();
        screenshots(&client, &format!("{base}/dead/{letter}"), "dead-letter").await;
        client.close().await.unwrap();
    });
    for worker in workers {
        worker.stop();
    }
}

/// Probes the worker of `stream` until a new job's `prepare` has run and
/// its `send` has not for 2 s: the pause of `send` is in effect.
fn until_send_is_held(conn: &mut redis::Connection, stream: &str, mut seq: u64) {
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < LIMIT, "the worker never held `send`");
        job(conn, stream, seq..seq + 1);
        wait_for("`prepare` ran for the probe", LIMIT, || {
            PREPARED.lock().unwrap().contains(&seq)
        });
        std::thread::sleep(Duration::from_secs(2));
        if !SENT.lock().unwrap().contains(&seq) {
            return;
        }
        seq += 1;
    }
}

/// Probes the worker until a new job is not taken for 2 s: the pause of
/// the group is in effect. Returns the probe's seq.
fn until_group_is_held(conn: &mut redis::Connection, stream: &str, mut seq: u64) -> u64 {
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < LIMIT, "the worker never held the group");
        job(conn, stream, seq..seq + 1);
        std::thread::sleep(Duration::from_secs(2));
        if !PREPARED.lock().unwrap().contains(&seq) {
            return seq;
        }
        seq += 1;
    }
}

fn job(conn: &mut redis::Connection, stream: &str, seqs: std::ops::Range<u64>) {
    xadd_envelopes(
        conn,
        stream,
        seqs.map(|seq| format!(r#"{{"v":1,"name":"pausing.Job","data":{{"seq":{seq}}}}}"#)),
    );
}

fn all(set: &Mutex<BTreeSet<u64>>, seqs: std::ops::Range<u64>) -> bool {
    let set = set.lock().unwrap();
    seqs.into_iter().all(|seq| set.contains(&seq))
}

fn none(set: &Mutex<BTreeSet<u64>>, seqs: std::ops::Range<u64>) -> bool {
    let set = set.lock().unwrap();
    seqs.into_iter().all(|seq| !set.contains(&seq))
}

#[test]
fn pause_and_resume_a_handler_then_a_group_from_the_pages_while_a_worker_runs() {
    const STREAM: &str = "pausing:events";
    let Some(chrome) = browser::Browser::start() else {
        return;
    };
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    declare_groups(&url, STREAM, &["jobs"]).unwrap();
    let worker = Running::start(&url, STREAM, "jobs", "jobs-1");
    job(&mut conn, STREAM, 0..5);
    wait_for("the first jobs sent", LIMIT, || all(&SENT, 0..5));
    let app = Router::new().merge(Dashboard::new("/eventlib").redis(&url, STREAM).router());
    let addr = common::serve(app);
    let base = format!("http://{addr}/eventlib");
    let send = handler_path("send");
    let send_url = format!("{base}/handlers/{}", segment(&send));
    let state = format!("[data-group='jobs'][data-handler='{send}'] [data-state]");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = chrome.session().await;
        browser::window(&client, LAPTOP.0, LAPTOP.1).await;

        // Pause `send` from its page.
        client.goto(&send_url).await.unwrap();
        assert_eq!(
            attr(&client, &state, "data-state").await.as_deref(),
            Some("running")
        );
        click(
            &client,
            &format!("button[data-action='pause'][data-handler='{send}']"),
        )
        .await;
        until(
            &client,
            &send_url,
            "the page says `send` is paused",
            || async {
                match attr(&client, &state, "data-state").await.as_deref() {
                    Some("paused") => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
        assert!(client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with(&segment(&send)));
        let pauses = eventlib::redis::pauses(&url, STREAM).unwrap();
        assert_eq!(pauses.len(), 1);
        assert_eq!(pauses[0].handler.as_deref(), Some(send.as_str()));
        assert_eq!(pauses[0].by, "dashboard");
        // The banner says so on every page, the overview's table too.
        client.goto(&base).await.unwrap();
        assert!(attr(
            &client,
            &format!(".banner[data-paused-handler='{send}']"),
            "class"
        )
        .await
        .is_some());
        assert_eq!(
            attr(
                &client,
                &format!("#handlers tr[data-handler='{send}'] [data-state]"),
                "data-state"
            )
            .await
            .as_deref(),
            Some("paused")
        );
        client.goto(&format!("{base}/dead")).await.unwrap();
        assert!(attr(
            &client,
            &format!(".banner[data-paused-handler='{send}']"),
            "class"
        )
        .await
        .is_some());

        // The worker holds `send` back: jobs are prepared, then wait.
        until_send_is_held(&mut conn, STREAM, 100);
        job(&mut conn, STREAM, 10..30);
        wait_for("`prepare` ran for the jobs", LIMIT, || {
            all(&PREPARED, 10..30)
        });
        std::thread::sleep(Duration::from_secs(2));
        assert!(none(&SENT, 10..30), "a paused handler ran");
        assert!(
            pending(&mut conn, STREAM, "jobs") >= 20,
            "the jobs wait, pending"
        );
        client.goto(&send_url).await.unwrap();
        save_dashboard_screenshot(
            "handler-paused.png",
            &whole_page(&client, LAPTOP.0, LAPTOP.1).await,
        );

        // Resumed from its page: every job waiting is sent.
        click(
            &client,
            &format!("button[data-action='resume'][data-handler='{send}']"),
        )
        .await;
        wait_for("`send` ran for every job once resumed", LIMIT, || {
            all(&SENT, 10..30)
        });
        wait_for("nothing pending", LIMIT, || {
            pending(&mut conn, STREAM, "jobs") == 0
        });
        until(&client, &send_url, "the page says `send` runs", || async {
            match attr(&client, &state, "data-state").await.as_deref() {
                Some("running") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        assert!(eventlib::redis::pauses(&url, STREAM).unwrap().is_empty());

        // The whole group, from the overview's group card.
        client.goto(&base).await.unwrap();
        click(
            &client,
            "[data-group='jobs'] button[data-action='pause']:not([data-handler])",
        )
        .await;
        until(
            &client,
            &base,
            "the overview says the group is paused",
            || async {
                match attr(
                    &client,
                    ".card[data-group='jobs'] [data-state]",
                    "data-state",
                )
                .await
                .as_deref()
                {
                    Some("paused") => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await;
        let probe = until_group_is_held(&mut conn, STREAM, 200);
        job(&mut conn, STREAM, 30..40);
        std::thread::sleep(Duration::from_secs(2));
        assert!(none(&PREPARED, 30..40), "a paused group took jobs");
        let lag = eventlib::redis::stream_status(&url, STREAM).unwrap().groups[0].lag;
        assert!(lag >= Some(10), "the jobs wait in the stream: lag {lag:?}");
        // Every handler of the group shows it.
        assert_eq!(
            attr(
                &client,
                &format!("#handlers tr[data-handler='{send}'] [data-state]"),
                "data-state"
            )
            .await
            .as_deref(),
            Some("group-paused")
        );
        save_dashboard_screenshot(
            "group-paused.png",
            &whole_page(&client, LAPTOP.0, LAPTOP.1).await,
        );
        browser::window(&client, PHONE.0, PHONE.1).await;
        client.goto(&base).await.unwrap();
        let sticking_out = browser::overflowing(&client).await;
        assert!(sticking_out.is_empty(), "{sticking_out:#?}");
        save_dashboard_screenshot(
            "group-paused-phone.png",
            &whole_page(&client, PHONE.0, PHONE.1).await,
        );
        browser::window(&client, LAPTOP.0, LAPTOP.1).await;
        client.goto(&base).await.unwrap();
        click(
            &client,
            ".card[data-group='jobs'] button[data-action='resume']",
        )
        .await;
        wait_for("every job handled once the group resumed", LIMIT, || {
            all(&PREPARED, 30..40) && all(&SENT, 30..40) && all(&SENT, probe..probe + 1)
        });
        wait_for("nothing pending", LIMIT, || {
            pending(&mut conn, STREAM, "jobs") == 0
        });
        assert!(eventlib::redis::pauses(&url, STREAM).unwrap().is_empty());
        client.close().await.unwrap();
    });
    worker.stop();
}

#[test]
fn filter_select_and_replay_in_a_browser() {
    const STREAM: &str = "dashb:events";
    let Some(chrome) = browser::Browser::start() else {
        return;
    };
    let redis = RedisServer::start();
    let url = redis.url();
    let mut conn = redis.connection();
    common::fill_dead_letters(&mut conn, STREAM);
    let app = Router::new().merge(Dashboard::new("/eventlib").redis(&url, STREAM).router());
    let addr = common::serve(app);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = chrome.session().await;
        browser::window(&client, LAPTOP.0, LAPTOP.1).await;
        client
            .goto(&format!("http://{addr}/eventlib/dead"))
            .await
            .unwrap();
        // The text of #count once the page shows `want` (or the page's
        // source, after 10 s, when it never does).
        let count = |want: &'static str| {
            let client = client.clone();
            async move {
                let started = Instant::now();
                loop {
                    let text = match client.find(Locator::Id("count")).await {
                        Ok(element) => element.text().await.unwrap_or_default(),
                        Err(_) => String::new(),
                    };
                    if text == want {
                        return text;
                    }
                    if started.elapsed() > Duration::from_secs(10) {
                        return format!("{text}\n{}", client.source().await.unwrap_or_default());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        assert_eq!(
            count("5 letter(s) on this page").await,
            "5 letter(s) on this page"
        );

        // Filter: the reason contains "card".
        client
            .find(Locator::Css("input[name=reason]"))
            .await
            .unwrap()
            .send_keys("card")
            .await
            .unwrap();
        browser::click_button(&client, "filter").await;
        assert_eq!(
            count("3 letter(s) on this page").await,
            "3 letter(s) on this page"
        );

        // Select two, replay them.
        let boxes = client
            .find_all(Locator::Css("input[type=checkbox]"))
            .await
            .unwrap();
        assert_eq!(boxes.len(), 3);
        boxes[0].click().await.unwrap();
        boxes[1].click().await.unwrap();
        for b in &boxes[..2] {
            assert_eq!(b.prop("checked").await.unwrap().as_deref(), Some("true"));
        }
        browser::click_button(&client, "replay the selected").await;
        // Back on the list, unfiltered: two letters fewer.
        assert_eq!(
            count("3 letter(s) on this page").await,
            "3 letter(s) on this page"
        );
        assert!(client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/eventlib/dead"));
        save_dashboard_screenshot(
            "dead-letters-replayed.png",
            &client.screenshot().await.unwrap(),
        );
        client.close().await.unwrap();
    });
    let left: u64 = redis::cmd("XLEN")
        .arg(format!("{STREAM}:dead"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(left, 3);
    let replayed: u64 = redis::cmd("XLEN").arg(STREAM).query(&mut conn).unwrap();
    assert_eq!(replayed, 2);
}
