//! The SQLite relay in front of the Redis transport, on a real
//! redis-server (AOF on): events reach the stream with the ids `log`
//! returned and the relay's stats reach `<stream>:relays`; nothing is lost
//! while Redis is down for 5 s; a relay killed after Redis confirmed and
//! before its `DELETE` committed (the `DELETE` waits on a write lock the
//! test holds) leaves its rows, which the next relay sends again under
//! the same ids; worker groups with `once_per_event_id` handle each event
//! once per group and count the copies.
//!
//! One test: the Redis transport is installed once per process.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventlib::redis::RedisTransport;
use eventlib::{Dispatcher, EventId};
use eventlib_redis_tests::RedisServer;
use eventlib_sql::{sqlite, RelayOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool};
use support::{block, order, stream_ids, until};

const STREAM: &str = "sqltest:lite";
const RELAYS: &str = "sqltest:lite:relays";

fn install(redis_url: &str) {
    let transport = RedisTransport::new(redis_url).unwrap().stream(STREAM);
    Dispatcher::builder()
        .transport(transport)
        .install()
        .unwrap();
}

/// A pool on the database file, in WAL mode (readers never wait for the
/// writer), whose writers wait up to `busy` for the write lock.
async fn pool(path: &Path, busy: Duration) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(busy);
    support::migrated_sqlite(options, 4).await
}

async fn commit(pool: &SqlitePool, prefix: &str, count: usize) -> Vec<EventId> {
    let mut tx = pool.begin().await.unwrap();
    let mut ids = Vec::new();
    for n in 0..count {
        ids.push(
            sqlite::log(&mut tx, order(format!("{prefix}-{n}")))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    ids
}

/// The relays' stats hash: relay name → its JSON.
fn published(server: &RedisServer) -> HashMap<String, serde_json::Value> {
    let fields: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(RELAYS)
        .query(&mut server.connection())
        .unwrap();
    fields
        .into_iter()
        .map(|(name, json)| (name, serde_json::from_str(&json).unwrap()))
        .collect()
}

/// Run as a child process by the test: a relay in front of Redis, to be
/// killed while its `DELETE` waits for the write lock.
#[tokio::test]
async fn child_process_entry() {
    if std::env::var("EVENTLIB_SQL_CHILD").as_deref() != Ok("sqlite-redis-relay") {
        return;
    }
    let urls = std::env::var("EVENTLIB_SQL_URL").unwrap();
    let (path, redis_url) = urls.split_once('|').unwrap();
    install(redis_url);
    let pool = pool(Path::new(path), Duration::from_secs(120)).await;
    let relay = sqlite::relay(pool, RelayOptions::default());
    let _task = relay.spawn();
    eprintln!("RELAYING");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_relay_keeps_ids_shows_its_stats_rides_out_redis_and_resends_after_a_kill() {
    let mut server = RedisServer::start();
    install(&server.url());
    let path: PathBuf =
        std::env::temp_dir().join(format!("eventlib-sql-lite-redis-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let pool = pool(&path, Duration::from_secs(5)).await;

    // Committed rows reach the stream under the ids `log` returned; the
    // backlog is in the stats once counted.
    let first: HashSet<EventId> = commit(&pool, "lite-redis-a", 200)
        .await
        .into_iter()
        .collect();
    let relay = sqlite::relay(
        pool.clone(),
        RelayOptions {
            poll: Duration::from_millis(50),
            ..RelayOptions::default()
        },
    )
    .named("lite-relay")
    .publish_stats(server.url(), STREAM);
    assert_eq!(relay.stats().backlog, None, "not counted yet");
    assert_eq!(relay.backlog().await.unwrap(), 200);
    assert_eq!(relay.stats().backlog, Some(200));
    let task = relay.spawn();
    until("200 entries", Duration::from_secs(30), || {
        stream_ids(&server, STREAM).len() == 200
    })
    .await;
    let seen = stream_ids(&server, STREAM);
    assert_eq!(seen.keys().copied().collect::<HashSet<_>>(), first);
    assert!(seen.values().all(|n| *n == 1));

    // The operator's tools read the relay's counts and backlog in Redis.
    until("the published stats", Duration::from_secs(20), || {
        published(&server)
            .get("lite-relay")
            .is_some_and(|s| s["moved"] == 200 && s["backlog"] == 0)
    })
    .await;
    let stats = &published(&server)["lite-relay"];
    assert_eq!(stats["failed"], 0);
    assert_eq!(stats["unsendable"], 0);
    assert_eq!(stats["relinked"], 0);
    assert_eq!(stats["handled_nowhere"], 0);
    assert!(stats.as_object().unwrap()["standing_by_for"].is_null());
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let at_ms = stats["at_ms"].as_u64().unwrap();
    assert!(
        now_ms.abs_diff(at_ms) < 10_000,
        "at_ms {at_ms}, now {now_ms}"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(RELAYS)
        .query(&mut server.connection())
        .unwrap();
    assert!(ttl > 0 && ttl <= 15_000, "the key expires: {ttl} ms left");
    assert_eq!(relay.stats().backlog, Some(0));
    // A clone spawned beside it and stopped leaves the field of the
    // relay still running.
    relay.clone().spawn().stop().await;
    assert!(
        published(&server).contains_key("lite-relay"),
        "a clone that stopped removed the field of one that runs"
    );

    // Redis down for 5 s while rows are committed: nothing is lost.
    server.kill9();
    let second = commit(&pool, "lite-redis-b", 100).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.restart();
    until("the rows of the outage", Duration::from_secs(60), || {
        let seen = stream_ids(&server, STREAM);
        second.iter().all(|id| seen.contains_key(id))
    })
    .await;
    until("an empty outbox", Duration::from_secs(10), || {
        block(relay.backlog()).ok() == Some(0)
    })
    .await;
    task.stop().await;
    assert!(
        !published(&server).contains_key("lite-relay"),
        "a stopped relay removes its field"
    );
    let seen = stream_ids(&server, STREAM);
    assert!(first.iter().chain(&second).all(|id| seen.contains_key(id)));
    assert_eq!(relay.stats().moved, 300);

    // A relay killed after Redis confirmed and before its DELETE committed:
    // a trigger the test adds makes every DELETE of the outbox fail, so
    // the child relay reads and sends its rows, then fails to delete them
    // until it is killed.
    let third = commit(&pool, "lite-redis-c", 50).await;
    support::refuse_sqlite_deletes(&pool, true).await;
    let mut child = support::child(
        "child_process_entry",
        "sqlite-redis-relay",
        &format!("{}|{}", path.display(), server.url()),
    );
    support::wait_for_line(&mut child, "RELAYING");
    until("the child relay's sends", Duration::from_secs(30), || {
        let seen = stream_ids(&server, STREAM);
        third.iter().all(|id| seen.contains_key(id))
    })
    .await;
    child.kill().unwrap(); // SIGKILL, its rows sent and not deleted
    child.wait().unwrap();
    support::refuse_sqlite_deletes(&pool, false).await;
    assert_eq!(
        relay.backlog().await.unwrap(),
        50,
        "the killed relay deleted nothing"
    );
    // The killed relay's lease holds the outbox until it runs out (10 s).
    match relay.drain().await {
        Err(eventlib_sql::Error::StandingBy { holder }) => {
            assert!(!holder.starts_with("lite-relay"), "{holder}")
        }
        other => panic!("the lease of the killed relay is not kept: {other:?}"),
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let moved = loop {
        match relay.drain().await {
            Ok(moved) => break moved,
            Err(eventlib_sql::Error::StandingBy { .. }) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the lease never ran out"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("{err}"),
        }
    };
    assert_eq!(moved, 50);
    let seen = stream_ids(&server, STREAM);
    for id in &third {
        assert_eq!(seen[id], 2, "sent twice, under the same id");
    }
    assert_eq!(relay.backlog().await.unwrap(), 0);

    // Workers of two groups with once_per_event_id: each event runs once
    // per group, and each copy is counted as a duplicate.
    support::check_once_per_group(&server, STREAM, "lite-redis-").await;

    // A relay stopped while Redis is down returns from `stop` after its
    // grace period instead of waiting for Redis, and so does each of two
    // clones of it spawned at once, although the other one holds the
    // outbox's turn; the rows of the batch being sent stay.
    server.kill9();
    let fifth = commit(&pool, "lite-redis-e", 10).await;
    let stopping = sqlite::relay(
        pool.clone(),
        RelayOptions {
            poll: Duration::from_millis(50),
            ..RelayOptions::default()
        },
    )
    .named("lite-stopping");
    support::check_clones_stop_while_redis_is_down(&stopping, 10).await;
    assert_eq!(relay.backlog().await.unwrap(), 10);
    support::check_sent_after_restart(&mut server, &relay, STREAM, &fifth).await;

    pool.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
