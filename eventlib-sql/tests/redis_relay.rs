//! The relay in front of the Redis transport, on a real PostgreSQL and a
//! real redis-server (AOF on): events reach the stream with the ids `log`
//! returned, nothing is lost while Redis is down for 5 s, and a relay
//! killed between Redis's confirmation and its `DELETE` makes the event
//! reach the stream twice under one id, which worker groups with
//! `once_per_event_id` then handle once each, counting the copy; a relay
//! stopped while Redis is down stops without waiting for it.
//!
//! One test: the Redis transport is installed once per process.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use eventlib::redis::RedisTransport;
use eventlib::{Dispatcher, EventId};
use eventlib_redis_tests::RedisServer;
use eventlib_sql::{postgres, RelayOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use support::{block, order, until, Postgres};

const STREAM: &str = "sqltest:outbox";

fn install(redis_url: &str) {
    let transport = RedisTransport::new(redis_url).unwrap().stream(STREAM);
    Dispatcher::builder()
        .transport(transport)
        .install()
        .unwrap();
}

async fn pool(url: &str) -> PgPool {
    let pool = PgPoolOptions::new()
        .max_connections(6)
        .acquire_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .unwrap();
    postgres::migrate(&pool).await.unwrap();
    pool
}

async fn commit(pool: &PgPool, prefix: &str, count: usize) -> Vec<EventId> {
    let mut tx = pool.begin().await.unwrap();
    let mut ids = Vec::new();
    for n in 0..count {
        ids.push(
            postgres::log(&mut tx, order(format!("{prefix}-{n}")))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    ids
}

/// Run as a child process by the test: a relay in front of Redis, to be
/// killed while its `DELETE` hangs.
#[tokio::test]
async fn child_process_entry() {
    if std::env::var("EVENTLIB_SQL_CHILD").as_deref() != Ok("redis-relay") {
        return;
    }
    let urls = std::env::var("EVENTLIB_SQL_URL").unwrap();
    let (pg_url, redis_url) = urls.split_once('|').unwrap();
    install(redis_url);
    let relay = postgres::relay(pool(pg_url).await, RelayOptions::default());
    let _task = relay.spawn();
    eprintln!("RELAYING");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_keeps_ids_rides_out_redis_and_resends_after_a_kill() {
    let pg = Postgres::start();
    let mut server = RedisServer::start();
    install(&server.url());
    let pool = pool(&pg.url()).await;

    // Committed rows reach the stream under the ids `log` returned.
    let first: HashSet<EventId> = commit(&pool, "redis-a", 200).await.into_iter().collect();
    let relay = postgres::relay(
        pool.clone(),
        RelayOptions {
            poll: Duration::from_millis(100),
            ..RelayOptions::default()
        },
    );
    let task = relay.spawn();
    until("200 entries", Duration::from_secs(30), || {
        support::stream_ids(&server, STREAM).len() == 200
    })
    .await;
    let seen = support::stream_ids(&server, STREAM);
    assert_eq!(seen.keys().copied().collect::<HashSet<_>>(), first);
    assert!(seen.values().all(|n| *n == 1));

    // Redis down for 5 s while rows are committed: nothing is lost.
    server.kill9();
    let second = commit(&pool, "redis-b", 100).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.restart();
    until("the rows of the outage", Duration::from_secs(60), || {
        let seen = support::stream_ids(&server, STREAM);
        second.iter().all(|id| seen.contains_key(id))
    })
    .await;
    until("an empty outbox", Duration::from_secs(10), || {
        block(relay.backlog()).ok() == Some(0)
    })
    .await;
    task.stop().await;
    let seen = support::stream_ids(&server, STREAM);
    assert!(first.iter().chain(&second).all(|id| seen.contains_key(id)));

    // A relay killed after Redis confirmed and before its DELETE committed:
    // the rows stay, and the next relay sends them again under the same ids.
    sqlx::raw_sql(
        "CREATE FUNCTION hang() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(60); RETURN OLD; END $$; \
         CREATE TRIGGER hang BEFORE DELETE ON eventlib_outbox \
         FOR EACH STATEMENT EXECUTE FUNCTION hang();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let third = commit(&pool, "redis-c", 50).await;
    let mut child = support::child(
        "child_process_entry",
        "redis-relay",
        &format!("{}|{}", pg.url(), server.url()),
    );
    support::wait_for_line(&mut child, "RELAYING");
    until("the child relay's sends", Duration::from_secs(30), || {
        let seen = support::stream_ids(&server, STREAM);
        third.iter().all(|id| seen.contains_key(id))
    })
    .await;
    child.kill().unwrap(); // SIGKILL, inside the hanging DELETE
    child.wait().unwrap();
    sqlx::raw_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE 'DELETE FROM eventlib_outbox%' AND pid <> pg_backend_pid(); \
         DROP TRIGGER hang ON eventlib_outbox;",
    )
    .execute(&pool)
    .await
    .unwrap();
    // The killed relay's backend holds its row locks until it ends.
    until("the resend", Duration::from_secs(30), || {
        block(relay.drain()).is_ok() && block(relay.backlog()).ok() == Some(0)
    })
    .await;
    let seen = support::stream_ids(&server, STREAM);
    for id in &third {
        assert_eq!(seen[id], 2, "sent twice, under the same id");
    }
    assert_eq!(relay.backlog().await.unwrap(), 0);

    // Workers of two groups with once_per_event_id: each event runs once
    // per group, and each copy is counted as a duplicate.
    support::check_once_per_group(&server, STREAM, "redis-").await;

    // Redis refuses for good (WRONGTYPE at the stream key): the transport
    // gives the events up, and the relay keeps their rows.
    let mut conn = server.connection();
    redis::cmd("RENAME")
        .arg(STREAM)
        .arg("sqltest:kept")
        .exec(&mut conn)
        .unwrap();
    redis::cmd("SET")
        .arg(STREAM)
        .arg("x")
        .exec(&mut conn)
        .unwrap();
    let fourth = commit(&pool, "redis-d", 5).await;
    assert!(matches!(
        relay.drain().await,
        Err(eventlib_sql::Error::Unconfirmed)
    ));
    assert_eq!(
        relay.backlog().await.unwrap(),
        5,
        "no row of a refused batch is deleted"
    );
    assert!(relay.stats().unconfirmed >= 1);
    redis::cmd("DEL").arg(STREAM).exec(&mut conn).unwrap();
    assert_eq!(relay.drain().await.unwrap(), 5);
    let seen = support::stream_ids(&server, STREAM);
    assert!(fourth.iter().all(|id| seen.get(id) == Some(&1)));

    // A relay stopped while Redis is down returns from `stop` after its
    // grace period instead of waiting for Redis; the rows of the batch it
    // was sending stay for the next relay. So does each of two clones of
    // it spawned at once, although the other one holds the table's turn.
    server.kill9();
    let fifth = commit(&pool, "redis-e", 10).await;
    let stopping = postgres::relay(pool.clone(), RelayOptions::default());
    support::check_clones_stop_while_redis_is_down(&stopping, 10).await;
    assert_eq!(relay.backlog().await.unwrap(), 10);
    // The stopped relays' transactions end when their connections go
    // back to the pool: until then their rows are locked, and a drain
    // would find nothing to claim.
    until(
        "the stopped relays' rows free",
        Duration::from_secs(10),
        || {
            block(
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM (SELECT 1 FROM eventlib_outbox FOR UPDATE SKIP LOCKED) t",
                )
                .fetch_one(&pool),
            )
            .ok()
                == Some(10)
        },
    )
    .await;
    // A drain waits for Redis; bounded by a timeout (as its documentation
    // says), it leaves the rows in the table.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), relay.drain())
            .await
            .is_err(),
        "a drain while Redis is down waits for it"
    );
    assert_eq!(relay.backlog().await.unwrap(), 10);
    support::check_sent_after_restart(&mut server, &relay, STREAM, &fifth).await;
}
