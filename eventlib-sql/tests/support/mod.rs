//! What the outbox tests share: a throwaway PostgreSQL cluster
//! (`eventlib-postgres-tests`), child processes of the test binary to
//! kill, and the event of the tests with a handler that records each run.

// Each test binary uses a part of it.
#![allow(dead_code, unused_imports, unused_macros)]

use std::process::Command;

pub use eventlib_postgres_tests::Postgres;

/// The path of a child of this test binary: it runs test `name` alone with
/// `role` in `EVENTLIB_SQL_CHILD`.
pub fn child(name: &str, role: &str, url: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("EVENTLIB_SQL_CHILD", role)
        .env("EVENTLIB_SQL_URL", url)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the child's stderr until a line equal to `marker`.
pub fn wait_for_line(child: &mut std::process::Child, marker: &str) {
    use std::io::BufRead;
    let out = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(out).lines();
    for line in lines.by_ref() {
        if line.unwrap().trim() == marker {
            // Keep reading in the background so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return;
        }
    }
    panic!("the child ended before printing {marker}");
}

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use eventlib::{event, handler, Context, EventId, ValidationError};
use serde::{Deserialize, Serialize};

/// Every run of the handler: the order and the event id it saw (tests run
/// in parallel and tell theirs apart by the order's prefix).
static HANDLED: Mutex<Vec<(String, EventId)>> = Mutex::new(Vec::new());
/// The same for the handler of group `audit`.
static AUDITED: Mutex<Vec<(String, EventId)>> = Mutex::new(Vec::new());

/// The event of the tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order: String,
    pub amount_cents: u64,
}

#[event(name = "sqltest.OrderPlaced")]
impl OrderPlaced {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if self.amount_cents == 0 {
            return Err(ValidationError::new("an order costs something").on_field("amount_cents"));
        }
        Ok(())
    }

    #[handler]
    fn record(&self, ctx: &Context) {
        if self.order.starts_with(SLOW) {
            std::thread::sleep(Duration::from_millis(20));
        }
        HANDLED.lock().unwrap().push((self.order.clone(), ctx.id()));
    }
}

/// Orders whose name starts so take 20 ms to handle.
pub const SLOW: &str = "slow-";

/// A handler of a second group: a Redis worker group of its own.
#[handler(group = "audit")]
fn audit(order: &OrderPlaced, ctx: &Context) {
    AUDITED
        .lock()
        .unwrap()
        .push((order.order.clone(), ctx.id()));
}

/// An order of `amount_cents`.
pub fn order(order: impl Into<String>) -> OrderPlaced {
    OrderPlaced {
        order: order.into(),
        amount_cents: 1250,
    }
}

/// How many times the handler ran per order, for orders starting with `prefix`.
pub fn handled(prefix: &str) -> HashMap<String, Vec<EventId>> {
    runs_of(&HANDLED, prefix)
}

/// [`handled`] for the handler of group `audit`.
pub fn audited(prefix: &str) -> HashMap<String, Vec<EventId>> {
    runs_of(&AUDITED, prefix)
}

fn runs_of(log: &Mutex<Vec<(String, EventId)>>, prefix: &str) -> HashMap<String, Vec<EventId>> {
    let mut runs: HashMap<String, Vec<EventId>> = HashMap::new();
    for (order, id) in log.lock().unwrap().iter() {
        if order.starts_with(prefix) {
            runs.entry(order.clone()).or_default().push(*id);
        }
    }
    runs
}

/// Waits until the handler ran for `count` orders of `prefix` (20 s at most).
pub async fn wait_handled(prefix: &str, count: usize) -> HashMap<String, Vec<EventId>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        eventlib::flush_async().await;
        let runs = handled(prefix);
        if runs.len() >= count || Instant::now() > deadline {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many entries of `stream` each event id has.
pub fn stream_ids(
    server: &eventlib_redis_tests::RedisServer,
    stream: &str,
) -> HashMap<EventId, usize> {
    let mut conn = server.connection();
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    let mut ids = HashMap::new();
    for (_, fields) in entries {
        for (field, envelope) in fields {
            if field == "event" {
                let value: serde_json::Value = serde_json::from_str(&envelope).unwrap();
                let id: EventId = value["id"].as_str().unwrap().parse().unwrap();
                *ids.entry(id).or_default() += 1;
            }
        }
    }
    ids
}

/// Runs a worker of `group` with `once_per_event_id` over `stream` until
/// it is drained, and returns what it counted.
pub async fn drain_once(url: &str, stream: &str, group: &str) -> eventlib::redis::WorkerStats {
    let (url, stream, group) = (url.to_owned(), stream.to_owned(), group.to_owned());
    tokio::task::spawn_blocking(move || {
        let worker = eventlib::redis::Worker::builder(&url)
            .stream(&stream)
            .group(&group)
            .consumer(format!("once-{group}"))
            .once_per_event_id(Duration::from_secs(600))
            .handle_signals(false)
            .stop_when_idle(Duration::from_millis(500))
            .build()
            .unwrap();
        worker.run_blocking().unwrap();
        worker.stats()
    })
    .await
    .unwrap()
}

/// Checks, with every group's worker drained with `once_per_event_id`,
/// that each order of `prefix` in the stream ran once in each group
/// however many copies the stream holds, and that each group counted the
/// extra copies as duplicates.
pub async fn check_once_per_group(
    server: &eventlib_redis_tests::RedisServer,
    stream: &str,
    prefix: &str,
) {
    let seen = stream_ids(server, stream);
    let entries: usize = seen.values().sum();
    for (group, runs) in [("default", handled as fn(&str) -> _), ("audit", audited)] {
        let stats = drain_once(&server.url(), stream, group).await;
        assert_eq!(stats.acked as usize, entries, "{group}: {stats}");
        assert_eq!(
            stats.duplicates as usize,
            entries - seen.len(),
            "{group}: every extra copy is a duplicate: {stats}"
        );
        let runs: HashMap<String, Vec<EventId>> = runs(prefix);
        assert_eq!(runs.len(), seen.len(), "{group}: every event handled");
        for (order, ids) in &runs {
            assert_eq!(ids.len(), 1, "{group}: {order} handled once: {ids:?}");
            assert!(
                seen.contains_key(&ids[0]),
                "{group}: {order} under its own id"
            );
        }
    }
}

/// Waits until `ready` (polled every 50 ms); panics after `limit`.
pub async fn until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a future to completion from a synchronous check.
pub fn block<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

/// Another event of the service, whose handler takes a while: logged
/// all the time, it keeps the dispatcher from ever being idle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageViewed {
    pub page: u64,
}

#[event(name = "sqltest.PageViewed")]
impl PageViewed {
    #[handler]
    fn slow(&self) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The body of each database's `log_outside_a_transaction_is_refused_and_writes_nothing`:
/// `log` and `log_json` of outbox module `$db`, on a connection of `$pool`
/// outside a transaction, are refused, and no row is written.
macro_rules! refused_outside_a_transaction {
    ($db:ident, $pool:expr, $prefix:literal) => {{
        let mut conn = $pool.acquire().await.unwrap();
        let refused = $db::log(&mut conn, order(concat!($prefix, "-outside-1"))).await;
        assert!(
            matches!(refused, Err(eventlib_sql::Error::NotInTransaction)),
            "{refused:?}"
        );
        let data = serde_json::json!({"order": concat!($prefix, "-outside-2"), "amount_cents": 5});
        let refused = $db::log_json(&mut conn, "sqltest.OrderPlaced", data).await;
        assert!(
            matches!(refused, Err(eventlib_sql::Error::NotInTransaction)),
            "{refused:?}"
        );
        drop(conn);
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM eventlib_outbox")
            .fetch_one(&$pool)
            .await
            .unwrap();
        assert_eq!(rows, 0);
    }};
}
pub(crate) use refused_outside_a_transaction;

/// A pool of `connections` on the SQLite database of `options` (its file
/// made if missing), with the outbox migrated.
#[cfg(feature = "sqlite")]
pub async fn migrated_sqlite(
    options: sqlx::sqlite::SqliteConnectOptions,
    connections: u32,
) -> sqlx::SqlitePool {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(connections)
        .connect_with(options.create_if_missing(true))
        .await
        .unwrap();
    eventlib_sql::sqlite::migrate(&pool).await.unwrap();
    pool
}

/// A SQLite database file of its own for test `name` (in WAL mode, the
/// outbox migrated, a pool of 4) with `count` orders committed in one
/// transaction (`<prefix>-<n>`); the file, and the ids `log` returned.
#[cfg(feature = "sqlite")]
pub async fn sqlite_with_orders(
    name: &str,
    prefix: &str,
    count: usize,
) -> (sqlx::SqlitePool, std::path::PathBuf, Vec<EventId>) {
    let path = std::env::temp_dir().join(format!("eventlib-sql-{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let pool = migrated_sqlite(options, 4).await;
    let mut tx = pool.begin().await.unwrap();
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let id = eventlib_sql::sqlite::log(&mut tx, order(format!("{prefix}-{n}")))
            .await
            .unwrap();
        ids.push(id);
    }
    tx.commit().await.unwrap();
    (pool, path, ids)
}

/// A SQLite relay named `name` that looks at the table every 50 ms and
/// publishes its stats for `stream` on `server`.
#[cfg(feature = "sqlite")]
pub fn publishing_relay(
    pool: sqlx::SqlitePool,
    name: &str,
    server: impl Into<eventlib::redis::Server>,
    stream: &str,
) -> eventlib_sql::Relay {
    let options = eventlib_sql::RelayOptions {
        poll: Duration::from_millis(50),
        ..eventlib_sql::RelayOptions::default()
    };
    eventlib_sql::sqlite::relay(pool, options)
        .named(name)
        .publish_stats(server, stream)
}

/// Runs `relay` (named `name`, publishing its stats where `op` reads)
/// until `op` sees the `count` rows it had in the stream and its stats in
/// `<stream>:relays`; stops it, and checks that it removed its field and
/// that every write of its stats went through.
#[cfg(feature = "sqlite")]
pub async fn check_relay_seen_by(
    op: &mut eventlib::redis::Operator,
    relay: &eventlib_sql::Relay,
    count: u64,
) {
    let task = relay.spawn();
    until("the relay's entries", Duration::from_secs(30), || {
        op.status().is_ok_and(|s| s.length == count)
    })
    .await;
    until("the relay's stats", Duration::from_secs(20), || {
        op.relays()
            .is_ok_and(|r| r.len() == 1 && r[0].name == relay.name() && r[0].moved == count)
    })
    .await;
    task.stop().await;
    assert_eq!(
        op.relays().unwrap(),
        vec![],
        "a stopped relay removes its field"
    );
    let stats = relay.stats();
    assert_eq!((stats.moved, stats.publish_errors), (count, 0), "{stats}");
}

/// Makes every `DELETE` from the SQLite outbox fail (`refuse` true), as a
/// full disk or a lock held past the busy timeout would, or work again.
#[cfg(feature = "sqlite")]
pub async fn refuse_sqlite_deletes(pool: &sqlx::SqlitePool, refuse: bool) {
    let sql = if refuse {
        "CREATE TRIGGER test_no_delete BEFORE DELETE ON eventlib_outbox \
         BEGIN SELECT RAISE(ABORT, 'the test keeps the rows'); END"
    } else {
        "DROP TRIGGER test_no_delete"
    };
    sqlx::raw_sql(sql).execute(pool).await.unwrap();
}

/// Options that make a relay cycle fast: a failure is retried within 50 ms.
pub fn eager_options() -> eventlib_sql::RelayOptions {
    eventlib_sql::RelayOptions {
        poll: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..eventlib_sql::RelayOptions::default()
    }
}

/// Runs `relay` over an outbox of 5 committed orders `<prefix><n>` whose
/// `DELETE`s fail until `allow` runs: each order is handled once, the
/// failures are counted, and the rows are deleted once `allow` ran.
pub async fn check_failed_deletes_send_nothing_twice(
    relay: &eventlib_sql::Relay,
    prefix: &str,
    allow: impl std::future::Future<Output = ()>,
) {
    let task = relay.spawn();
    assert_eq!(wait_handled(prefix, 5).await.len(), 5);
    // Many cycles, each failing to delete.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let stats = relay.stats();
    assert!(stats.database_errors >= 3, "{stats}");
    assert!(
        stats
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("the test keeps the rows")),
        "{stats}"
    );
    allow.await;
    until("an empty outbox", Duration::from_secs(10), || {
        block(relay.backlog()).ok() == Some(0)
    })
    .await;
    task.stop().await;
    let runs = wait_handled(prefix, 5).await;
    let twice = runs.values().filter(|ids| ids.len() > 1).count();
    assert_eq!(
        twice, 0,
        "{twice} of 5 orders handled more than once: {runs:?}"
    );
    assert_eq!(relay.stats().moved, 5);
}

/// Asserts that each order of `runs` was handled once: none sent twice
/// without a crash.
pub fn assert_each_once(runs: &HashMap<String, Vec<EventId>>) {
    let twice: Vec<_> = runs.iter().filter(|(_, ids)| ids.len() != 1).collect();
    assert!(
        twice.is_empty(),
        "{} orders sent twice without a crash, such as {:?}",
        twice.len(),
        twice.first()
    );
}

/// With Redis down and `rows` committed rows waiting: two clones of
/// `relay` spawned at once each return from `stop` within their grace
/// period, although the other holds the outbox's turn, and nothing of
/// the batch being sent is counted as moved (its rows stay).
pub async fn check_clones_stop_while_redis_is_down(relay: &eventlib_sql::Relay, rows: u64) {
    let tasks = [relay.spawn(), relay.clone().spawn()];
    until("the batch handed over", Duration::from_secs(10), || {
        let total = eventlib::stats().total();
        total.emitted - total.completed - total.dropped >= rows
    })
    .await;
    for task in tasks {
        let asked = Instant::now();
        tokio::time::timeout(Duration::from_secs(30), task.stop())
            .await
            .expect("stop returns while Redis is down");
        assert!(
            asked.elapsed() < Duration::from_secs(15),
            "{:?}",
            asked.elapsed()
        );
    }
    let stats = relay.stats();
    assert_eq!(stats.moved, 0, "{stats}");
    assert!(stats.unconfirmed >= 1, "{stats}");
}

/// Restarts Redis, then drains `relay` until its outbox is empty: every
/// event of `ids` reaches `stream`.
pub async fn check_sent_after_restart(
    server: &mut eventlib_redis_tests::RedisServer,
    relay: &eventlib_sql::Relay,
    stream: &str,
    ids: &[EventId],
) {
    server.restart();
    until(
        "the rows sent after the restart",
        Duration::from_secs(60),
        || block(relay.drain()).is_ok() && block(relay.backlog()).ok() == Some(0),
    )
    .await;
    let seen = stream_ids(server, stream);
    assert!(ids.iter().all(|id| seen.contains_key(id)));
}
