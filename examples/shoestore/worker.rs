//! The `worker` role: runs the shoe store's handlers (the same as in the
//! local story) on the events a producer sent to Redis, each event once in
//! the group even when it reached the stream twice, then reports what they
//! did.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use eventlib::redis::{dead_letters, Worker, DEFAULT_STREAM};
use redis::streams::StreamInfoGroupsReply;

use crate::cli::WorkerArgs;
use crate::{backends, failures, POISONED_PRODUCT, VIEWS_KEY};

/// Attempts per handler before its failure is final and dead-lettered.
const MAX_ATTEMPTS: u32 = 3;
/// `--until-idle`: no new entry for this long, and the group drained.
const IDLE_FOR: Duration = Duration::from_secs(2);
/// `--until-idle`: how long to wait for a first entry (the producer may start later).
const FIRST_ENTRY_WITHIN: Duration = Duration::from_secs(60);
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// Entries a stopped worker left pending (waiting for a retry, say) go to
/// another worker after this long; 60 s by default, short for a demo.
const VISIBILITY: Duration = Duration::from_secs(10);
/// How long the group remembers an event it handled: a copy sent again
/// (a relay restarted after sending, before deleting its rows) within it
/// runs no handler.
const ONCE_WITHIN: Duration = Duration::from_secs(3600);

pub fn run(args: &WorkerArgs) -> anyhow::Result<()> {
    crate::telemetry::install()?;
    let handlers: Vec<&str> = eventlib::registry()
        .handlers()
        .filter(|h| h.group() == args.group)
        .map(|h| h.name().rsplit("::").next().unwrap_or(h.name()))
        .collect();
    if handlers.is_empty() {
        eprintln!(
            "shoestore: no handler of group `{}` is linked in; the store's handlers are in group `default`",
            args.group
        );
        std::process::exit(2);
    }
    // The handlers' database calls (sqlx) and async handlers run on it.
    let runtime = crate::traffic::runtime()?;
    let db = match &args.db {
        Some(path) => backends::Db::open(path.clone(), runtime.handle())?,
        None => backends::Db::open_temp(runtime.handle())?,
    };
    let _delete_db_on_exit = args.db.is_none().then(|| backends::DeleteOnDrop(db));
    let counter = backends::RedisCounter::install(args.url.clone());

    let handle = runtime.handle().clone();
    let mut builder = Worker::builder(&args.url)
        .group(&args.group)
        .concurrency(4)
        .max_attempts(MAX_ATTEMPTS)
        .visibility_timeout(VISIBILITY)
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .once_per_event_id(ONCE_WITHIN)
        .spawner(move |task| drop(handle.spawn(task)));
    if let Some(consumer) = &args.consumer {
        builder = builder.consumer(consumer);
    }
    let (builder, failures) = failures::install_on(builder);
    let worker = builder.build()?;
    println!(
        "worker `{}` of group `{}` on {}: runs {}",
        worker.consumer(),
        args.group,
        args.url,
        handlers.join(", ")
    );
    println!(
        "SQLite {} ({}); counter {VIEWS_KEY} in the same Redis",
        db.path().display(),
        if args.db.is_some() {
            "kept"
        } else {
            "temporary"
        }
    );
    println!("stops {}; first failures:", stop_condition(args));

    let (done, finished) = mpsc::channel::<()>();
    let watcher = {
        let (worker, url, group) = (worker.clone(), args.url.clone(), args.group.clone());
        let (until_idle, events) = (args.until_idle, args.events);
        std::thread::spawn(move || watch(&worker, &url, &group, until_idle, events, &finished))
    };
    let started = Instant::now();
    worker.run_blocking()?;
    drop(done);
    let why = watcher
        .join()
        .map_err(|_| anyhow::anyhow!("the watching thread panicked"))?;
    println!(
        "\nstopped after {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        why.unwrap_or_else(|| "SIGTERM / SIGINT".into())
    );

    println!("\n== results");
    let ws = worker.stats();
    println!("worker stats: {ws}");
    let stats = eventlib::stats();
    let count = |handler: &str| stats.handler(handler).cloned().unwrap_or_default();
    let (save, bump, reserve) = (
        count("save_to_db"),
        count("bump_counter"),
        count("reserve_stock"),
    );
    let (rows, reserved) = (db.count("product_views")?, db.count("stock_reservations")?);
    println!(
        "SQLite {}: {rows} view rows, {reserved} stock reservations (this worker: save_to_db {} \
         rows, reserve_stock {})",
        db.path().display(),
        save.handled,
        reserve.handled
    );
    println!(
        "once per event id: {} copies of events this group had already handled were \
         acknowledged without running a handler",
        ws.duplicates
    );
    println!(
        "save_to_db panicked {}x: up to {MAX_ATTEMPTS} attempts on each view of product \
         {POISONED_PRODUCT}, then a dead letter ({} written by this worker)",
        save.panicked, ws.dead_lettered
    );
    match counter.get(VIEWS_KEY) {
        Ok(value) => println!(
            "Redis counter {VIEWS_KEY} = {value} (this worker: {} updates, {} failed)",
            bump.handled, bump.failed
        ),
        Err(err) => println!("{err:#}"),
    }
    let (audited_views, audited_carts, first) = crate::audited();
    println!(
        "audit (shoestore.*) saw {} events ({audited_views} views); first: {first}",
        audited_views + audited_carts
    );
    let mut dead = dead_letters(&args.url)?;
    println!(
        "dead letters in the stream: {}; the first three:",
        dead.len()?
    );
    for letter in dead.list(3)? {
        println!("  {}: {}", letter.source_id, letter.reason);
    }
    println!("error hook: {failures}\n");
    // The handler half of `eventlib::stats()`: events are emitted by the producer.
    println!(
        "{:<44} {:>9} {:>9} {:>8} {:>9}",
        "handler", "handled", "failed", "panicked", "in flight"
    );
    for h in &stats.handlers {
        println!(
            "{:<44} {:>9} {:>9} {:>8} {:>9}",
            h.name, h.handled, h.failed, h.panicked, h.in_flight
        );
    }
    crate::telemetry::print(12);

    // This worker's own arithmetic (other workers may share the database).
    if args.db.is_none() {
        anyhow::ensure!(rows == save.handled && reserved == reserve.handled);
    }
    anyhow::ensure!(stats.total().in_flight == 0 && ws.in_flight == 0);
    Ok(())
}

fn stop_condition(args: &WorkerArgs) -> String {
    let mut when = Vec::new();
    if args.until_idle {
        when.push(format!(
            "when the stream is drained (group `{}` has nothing pending or undelivered) \
             and no entry came for {IDLE_FOR:?}, or no first entry came within {FIRST_ENTRY_WITHIN:?}",
            args.group
        ));
    }
    if let Some(n) = args.events {
        when.push(format!("once {n} or more entries are acknowledged"));
    }
    when.push("on SIGTERM / SIGINT".into());
    when.join(", or ")
}

/// Prints progress, and stops the worker when its stop condition is met;
/// returns that condition, or `None` when the worker stopped otherwise.
fn watch(
    worker: &Worker,
    url: &str,
    group: &str,
    until_idle: bool,
    events: Option<u64>,
    finished: &mpsc::Receiver<()>,
) -> Option<String> {
    let started = Instant::now();
    let (mut last, mut last_entry, mut last_print) = (worker.stats(), started, started);
    let mut drained = Drained::new(url, group);
    loop {
        match finished.recv_timeout(Duration::from_millis(200)) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return None,
        }
        let now = worker.stats();
        if now.received != last.received {
            last_entry = Instant::now();
        }
        if now != last && last_print.elapsed() >= PROGRESS_EVERY {
            println!("  ... {now}");
            last_print = Instant::now();
        }
        last = now;
        let stop = |why: String| {
            worker.shutdown();
            Some(why)
        };
        if let Some(n) = events.filter(|n| now.acked >= *n) {
            return stop(format!(
                "{} entries acknowledged, {n} asked (--events {n})",
                now.acked
            ));
        }
        if !until_idle {
            continue;
        }
        if now.received == 0 && started.elapsed() >= FIRST_ENTRY_WITHIN {
            return stop(format!(
                "no entry came within {FIRST_ENTRY_WITHIN:?} (--until-idle)"
            ));
        }
        if now.received > 0
            && now.in_flight == 0
            && last_entry.elapsed() >= IDLE_FOR
            && drained.check()
        {
            return stop(format!(
                "the stream is drained: group `{group}` has nothing pending or undelivered, \
                 and no entry came for {IDLE_FOR:?} (--until-idle)"
            ));
        }
    }
}

/// Asks Redis whether a consumer group has read and acknowledged every
/// entry of the stream.
struct Drained {
    url: String,
    group: String,
    conn: Option<redis::Connection>,
}

impl Drained {
    fn new(url: &str, group: &str) -> Drained {
        Drained { url: url.into(), group: group.into(), conn: None }
    }

    /// Whether the group is drained; `false` while Redis does not answer.
    fn check(&mut self) -> bool {
        let drained = self.query();
        if drained.is_err() {
            self.conn = None; // reconnect next time
        }
        drained.unwrap_or(false)
    }

    fn query(&mut self) -> redis::RedisResult<bool> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(
                redis::Client::open(self.url.as_str())?
                    .get_connection_with_timeout(Duration::from_secs(1))?,
            ),
        };
        // XINFO STREAM's first and last entries are nil once the stream is
        // trimmed empty: read the one field needed.
        let stream: HashMap<String, redis::Value> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(DEFAULT_STREAM)
            .query(conn)?;
        let last_id: String = match stream.get("last-generated-id") {
            Some(id) => redis::from_redis_value(id.clone())?,
            None => return Ok(false),
        };
        let groups: StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(DEFAULT_STREAM)
            .query(conn)?;
        Ok(groups
            .groups
            .iter()
            .any(|g| g.name == self.group && g.pending == 0 && g.last_delivered_id == last_id))
    }
}
