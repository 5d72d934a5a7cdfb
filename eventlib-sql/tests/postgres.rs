//! The outbox on a real PostgreSQL (a throwaway cluster per test), with
//! the local pool as the transport: what the handlers did is checked, not
//! only the table.

mod support;

use std::time::Duration;

use eventlib_sql::{postgres, RelayOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use support::{order, until, wait_handled, Postgres};

async fn pool(pg: &Postgres) -> PgPool {
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&pg.url())
        .await
        .unwrap();
    postgres::migrate(&pool).await.unwrap();
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    pool
}

async fn place(pool: &PgPool, name: &str) -> eventlib::EventId {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO orders (id) VALUES ($1)")
        .bind(name)
        .execute(&mut *tx)
        .await
        .unwrap();
    let id = postgres::log(&mut tx, order(name)).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// Commits `thousands` transactions of 1000 orders each, named
/// `<prefix><transaction>-<n>`.
async fn commit_thousands(pool: &PgPool, prefix: &str, thousands: i64) {
    for chunk in 0..thousands {
        let mut tx = pool.begin().await.unwrap();
        for n in 0..1000 {
            postgres::log(&mut tx, order(format!("{prefix}{chunk}-{n}")))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_is_never_handled_and_a_commit_is_handled_once_with_its_id() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;

    let mut tx = pool.begin().await.unwrap();
    postgres::log(&mut tx, order("pg-rb-1")).await.unwrap();
    postgres::log_json(
        &mut tx,
        "sqltest.OrderPlaced",
        serde_json::json!({"order": "pg-rb-2", "amount_cents": 5}),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();

    // Validation runs in the caller, before anything is written.
    let mut tx = pool.begin().await.unwrap();
    let refused = postgres::log(
        &mut tx,
        support::OrderPlaced {
            order: "pg-rb-zero".into(),
            amount_cents: 0,
        },
    )
    .await;
    assert!(matches!(
        refused,
        Err(eventlib_sql::Error::Event(
            eventlib::Error::Validation { .. }
        ))
    ));
    tx.commit().await.unwrap();

    let id = place(&pool, "pg-rb-ok").await;
    let relay = postgres::relay(pool.clone(), RelayOptions::default());
    assert_eq!(relay.backlog().await.unwrap(), 1);
    assert_eq!(relay.drain().await.unwrap(), 1);
    let runs = wait_handled("pg-rb-", 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let runs_after = support::handled("pg-rb-");
    assert_eq!(runs, runs_after);
    assert_eq!(
        runs.len(),
        1,
        "only the committed order is handled: {runs:?}"
    );
    assert_eq!(
        runs["pg-rb-ok"],
        vec![id],
        "handled once, with the id log returned"
    );
    assert_eq!(relay.backlog().await.unwrap(), 0);
    assert_eq!(relay.stats().moved, 1);
}

/// Run as a child process by `committed_rows_survive_a_kill_of_the_service`:
/// commits orders, says so, and waits to be killed.
#[tokio::test]
async fn child_process_entry() {
    if std::env::var("EVENTLIB_SQL_CHILD").as_deref() != Ok("pg-producer") {
        return;
    }
    let url = std::env::var("EVENTLIB_SQL_URL").unwrap();
    let pool = PgPool::connect(&url).await.unwrap();
    for n in 0..50 {
        place(&pool, &format!("pg-kill-{n}")).await;
    }
    // On stderr: unbuffered, and never held by the test harness.
    eprintln!("COMMITTED");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

/// Services that start at once each apply the migration: none fails (at
/// once, the DDL deadlocks or finds the type or trigger being made).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_that_start_at_once_all_migrate() {
    let pg = Postgres::start();
    for round in 0..3 {
        let database = format!("migrate_{round}");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&pg.url())
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&admin)
            .await
            .unwrap();
        let url = format!("{}/{database}", pg.url().rsplit_once('/').unwrap().0);
        let mut services = Vec::new();
        for _ in 0..8 {
            let url = url.clone();
            services.push(tokio::spawn(async move {
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&url)
                    .await
                    .unwrap();
                postgres::migrate(&pool).await
            }));
        }
        for service in services {
            service.await.unwrap().unwrap();
        }
    }
}

/// `log` on a connection outside a transaction would commit the event on
/// its own, whatever became of the business rows: it is refused, and
/// nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_outside_a_transaction_is_refused_and_writes_nothing() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    support::refused_outside_a_transaction!(postgres, pool, "pg");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_rows_survive_a_kill_of_the_service() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    let mut child = support::child("child_process_entry", "pg-producer", &pg.url());
    support::wait_for_line(&mut child, "COMMITTED");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let relay = postgres::relay(pool.clone(), RelayOptions::default());
    let task = relay.spawn();
    let runs = wait_handled("pg-kill-", 50).await;
    task.stop().await;
    assert_eq!(runs.len(), 50);
    assert!(runs.values().all(|ids| ids.len() == 1), "each handled once");
    assert_eq!(relay.backlog().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_move_10000_rows_each_once() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    commit_thousands(&pool, "pg-two-", 10).await;
    let options = RelayOptions {
        batch: 200,
        ..RelayOptions::default()
    };
    let first = postgres::relay(pool.clone(), options.clone());
    let second = postgres::relay(pool.clone(), options);
    let (a, b) = (first.spawn(), second.spawn());
    let runs = wait_handled("pg-two-", 10_000).await;
    a.stop().await;
    b.stop().await;
    assert_eq!(runs.len(), 10_000);
    support::assert_each_once(&runs);
    assert_eq!(first.stats().moved + second.stats().moved, 10_000);
    assert_eq!(first.backlog().await.unwrap(), 0);
}

/// A relay overlaps three transactions (the batch out, the next claimed,
/// the last deleted) when the pool allows; on pools of one and two
/// connections it works one batch at a time, and moves everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_moves_everything_over_a_pool_of_any_size() {
    let pg = Postgres::start();
    let setup = pool(&pg).await;
    for size in [1, 2, 3] {
        let prefix = format!("pg-size-{size}-");
        let mut tx = setup.begin().await.unwrap();
        for n in 0..250 {
            postgres::log(&mut tx, order(format!("{prefix}{n}")))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let small = PgPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(Duration::from_secs(2))
            .connect(&pg.url())
            .await
            .unwrap();
        let relay = postgres::relay(
            small,
            RelayOptions {
                batch: 100,
                ..RelayOptions::default()
            },
        );
        let moved = tokio::time::timeout(Duration::from_secs(30), relay.drain())
            .await
            .expect("the drain ends")
            .unwrap();
        assert_eq!((moved, relay.stats().moved), (250, 250), "pool of {size}");
        let runs = wait_handled(&prefix, 250).await;
        assert!(runs.values().all(|ids| ids.len() == 1), "pool of {size}");
        assert_eq!(relay.backlog().await.unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_rides_out_a_postgres_restart() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    let relay = postgres::relay(
        pool.clone(),
        RelayOptions {
            poll: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            ..RelayOptions::default()
        },
    );
    let task = relay.spawn();
    for n in 0..20 {
        place(&pool, &format!("pg-restart-a{n}")).await;
    }
    assert_eq!(wait_handled("pg-restart-a", 20).await.len(), 20);

    pg.stop();
    let down = relay.drain().await;
    assert!(
        matches!(down, Err(eventlib_sql::Error::Database(_))),
        "{down:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    pg.start_again();
    for n in 0..20 {
        place(&pool, &format!("pg-restart-b{n}")).await;
    }
    let runs = wait_handled("pg-restart-b", 20).await;
    task.stop().await;
    assert_eq!(runs.len(), 20, "nothing lost across the restart");
    assert!(runs.values().all(|ids| ids.len() == 1));
    let stats = relay.stats();
    assert_eq!(stats.moved, 40);
    assert!(
        stats.database_errors >= 1,
        "the outage is counted: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_relay_leaves_no_row_claimed() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    let mut tx = pool.begin().await.unwrap();
    for n in 0..5_000 {
        postgres::log(&mut tx, order(format!("pg-stop-{n}")))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // Small batches: the relay claims the next one while each is out.
    let options = RelayOptions {
        batch: 20,
        ..RelayOptions::default()
    };
    let first = postgres::relay(pool.clone(), options.clone());
    let task = first.spawn();
    support::until("the first batches", Duration::from_secs(20), || {
        first.stats().moved >= 100
    })
    .await;
    task.stop().await;
    let stopped_at = first.stats().moved;
    assert!(stopped_at < 5_000, "stopped midway: {stopped_at}");

    // Another relay finds every row left, none still locked by the first.
    let second = postgres::relay(pool.clone(), options);
    assert_eq!(second.drain().await.unwrap(), 5_000 - stopped_at);
    assert_eq!(second.backlog().await.unwrap(), 0);
    let runs = wait_handled("pg-stop-", 5_000).await;
    assert_eq!(runs.len(), 5_000);
    assert!(runs.values().all(|ids| ids.len() == 1), "each handled once");
}

/// A running relay whose program links an event clears the mark an older
/// program's relay left on its row (it did not link the event, as while
/// a deploy rolls out) and sends it; a row whose data does not fit its
/// type stays marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_relay_sends_a_row_an_older_program_marked_as_not_linked() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    let envelope = |id: &str, name: &str, data: &str| {
        format!(r#"{{"v":1,"id":"{id}","name":"{name}","emitted_at":1,"data":{data}}}"#)
    };
    let insert = "INSERT INTO eventlib_outbox (event_id, name, envelope) VALUES ($1, $2, $3)";
    let later_id = "00000000000000000000000000000aaa";
    for (id, name, data) in [
        (
            later_id,
            "sqltest.Later",
            r#"{"order":"pg-relink-1","amount_cents":5}"#,
        ),
        (
            "00000000000000000000000000000bbb",
            "sqltest.OrderPlaced",
            r#"{"order":"pg-relink-2","amount_cents":"lots"}"#,
        ),
    ] {
        sqlx::query(insert)
            .bind(id)
            .bind(name)
            .bind(envelope(id, name, data))
            .execute(&pool)
            .await
            .unwrap();
    }
    let old = postgres::relay(pool.clone(), RelayOptions::default());
    assert_eq!(old.drain().await.unwrap(), 0, "marked, not moved");
    assert_eq!((old.stats().moved, old.stats().unsendable), (0, 2));
    let marks = || async {
        sqlx::query_as::<_, (String, String)>(
            "SELECT name, error FROM eventlib_outbox WHERE error IS NOT NULL ORDER BY seq",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let marked = marks().await;
    assert!(
        marked[0]
            .1
            .starts_with("not linked into the relay's program: unknown event `sqltest.Later`"),
        "{marked:?}"
    );

    // The newer program links the event: here the row is rewritten to an
    // event this test program links, its mark left as the relay wrote it.
    sqlx::query("UPDATE eventlib_outbox SET name = $2, envelope = $3 WHERE event_id = $1")
        .bind(later_id)
        .bind("sqltest.OrderPlaced")
        .bind(envelope(
            later_id,
            "sqltest.OrderPlaced",
            r#"{"order":"pg-relink-1","amount_cents":5}"#,
        ))
        .execute(&pool)
        .await
        .unwrap();
    let running = postgres::relay(pool.clone(), RelayOptions::default());
    let task = running.spawn();
    until("the row sent again", Duration::from_secs(20), || {
        running.stats().moved == 1
    })
    .await;
    task.stop().await;
    assert_eq!(running.stats().relinked, 1);
    let runs = wait_handled("pg-relink-", 1).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs["pg-relink-1"].len(), 1);
    assert_eq!(marks().await, marked[1..]);
}

/// A relay whose task was dropped without `stop` keeps running, waiting
/// between looks at the table as a running relay does (not claiming in a
/// loop without pause).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_task_was_dropped_keeps_running_at_its_pace() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    let relay = postgres::relay(pool.clone(), RelayOptions::default());
    let _ = relay.spawn();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let transactions = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database \
             WHERE datname = current_database()",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = transactions().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = transactions().await - before;
    // Waiting on LISTEN with a 500 ms poll and counting every second: a
    // few dozen transactions at most, where claiming without a pause
    // makes thousands.
    assert!(during < 200, "{during} transactions in 3 s");
    place(&pool, "pg-dropped-1").await;
    assert_eq!(wait_handled("pg-dropped-", 1).await.len(), 1);
}

/// A relay that listened and claimed ahead, dropped outside its runtime
/// (a `main` that keeps the runtime in a variable): its connections close
/// on that runtime instead of panicking.
#[test]
fn a_relay_dropped_outside_its_runtime_closes_its_connections_there() {
    let pg = Postgres::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let relay = runtime.block_on(async {
        let pool = pool(&pg).await;
        let relay = postgres::relay(
            pool.clone(),
            RelayOptions {
                batch: 5,
                ..RelayOptions::default()
            },
        );
        let mut tx = pool.begin().await.unwrap();
        for n in 0..20 {
            postgres::log(&mut tx, order(format!("pg-drop-{n}")))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        // It listens, and claims ahead.
        let task = relay.spawn();
        wait_handled("pg-drop-", 20).await;
        // Now waiting on its LISTEN connection.
        tokio::time::sleep(Duration::from_millis(300)).await;
        task.stop().await;
        // Another one, never stopped: the runtime's shutdown drops it.
        let other = postgres::relay(pool.clone(), RelayOptions::default());
        std::mem::forget(other.spawn());
        relay
    });
    drop(relay);
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// While batches come back full, a relay claims after the last row it
/// claimed. A transaction that took its `seq` first and commits after
/// later rows were sent leaves its row behind that point: it is still
/// sent, while other rows keep coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_committed_behind_rows_already_sent_is_sent_while_others_keep_coming() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    let mut late = pool.begin().await.unwrap();
    postgres::log(&mut late, order("pg-late-first"))
        .await
        .unwrap();
    let relay = postgres::relay(
        pool.clone(),
        RelayOptions {
            batch: 50,
            ..RelayOptions::default()
        },
    );
    let task = relay.spawn();
    let writing = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut n = 0;
            let started = std::time::Instant::now();
            while started.elapsed() < Duration::from_secs(6) {
                let mut tx = pool.begin().await.unwrap();
                for _ in 0..50 {
                    postgres::log(&mut tx, order(format!("pg-late-other-{n}")))
                        .await
                        .unwrap();
                    n += 1;
                }
                tx.commit().await.unwrap();
            }
            n
        }
    });
    until(
        "rows after the late one are sent",
        Duration::from_secs(10),
        || relay.stats().moved >= 500,
    )
    .await;
    late.commit().await.unwrap();
    let committed = std::time::Instant::now();
    let runs = wait_handled("pg-late-first", 1).await;
    let waited = committed.elapsed();
    assert!(
        !writing.is_finished(),
        "the late row went only once the other rows stopped coming"
    );
    assert!(
        waited < Duration::from_secs(4),
        "the late row waited {waited:?}"
    );
    let others = writing.await.unwrap();
    let all = wait_handled("pg-late-", others + 1).await;
    task.stop().await;
    assert_eq!(runs.len(), 1);
    assert!(all.values().all(|ids| ids.len() == 1), "each sent once");
}

/// Rows of the table the relay's connections read one by one, by index or
/// by scan, as PostgreSQL's statistics count them once those connections
/// have closed.
async fn rows_read(url: &str, at_least: i64) -> i64 {
    let pool = PgPool::connect(url).await.unwrap();
    let read = || async {
        let (read,): (i64,) = sqlx::query_as(
            "SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) \
             FROM pg_stat_user_tables WHERE relname = 'eventlib_outbox'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        read
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while read().await < at_least && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every closed connection's counts are in by now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    read().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_without_statistics_is_claimed_in_order_not_scanned_per_batch() {
    const ROWS: i64 = 20_000;
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    // A backlog autovacuum never analysed: PostgreSQL plans with guesses.
    sqlx::query("ALTER TABLE eventlib_outbox SET (autovacuum_enabled = off)")
        .execute(&pool)
        .await
        .unwrap();
    commit_thousands(&pool, "pg-plan-", ROWS / 1000).await;
    let relay = postgres::relay(pool.clone(), RelayOptions::default());
    assert_eq!(relay.drain().await.unwrap(), ROWS as u64);
    let runs = wait_handled("pg-plan-", ROWS as usize).await;
    assert_eq!(runs.len(), ROWS as usize, "every order handled");
    assert!(runs.values().all(|ids| ids.len() == 1), "each once");
    drop(relay);
    pool.close().await;
    // In order, each batch reads its own rows (and a rescan the rows not yet
    // deleted); a scan and sort per batch reads every row after the last
    // batch: about ROWS * ROWS / (2 * batch) of them.
    let read = rows_read(&pg.url(), ROWS).await;
    assert!(
        (ROWS..3 * ROWS).contains(&read),
        "the relay read {read} rows to claim {ROWS}"
    );
}

/// A DELETE that keeps failing (here a trigger refuses it, as a relay
/// whose database user lacks the DELETE privilege would see): the relay
/// stops sending instead of sending the same confirmed rows again on each
/// retry, and deletes them once it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_whose_delete_fails_are_not_sent_again() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    for n in 0..5 {
        place(&pool, &format!("pg-nodel-{n}")).await;
    }
    sqlx::raw_sql(
        "CREATE FUNCTION test_no_delete() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'the test keeps the rows'; END $$; \
         CREATE TRIGGER test_no_delete BEFORE DELETE ON eventlib_outbox \
         FOR EACH ROW EXECUTE FUNCTION test_no_delete()",
    )
    .execute(&pool)
    .await
    .unwrap();
    let relay = postgres::relay(pool.clone(), support::eager_options());
    let allow = async {
        sqlx::raw_sql("DROP TRIGGER test_no_delete ON eventlib_outbox")
            .execute(&pool)
            .await
            .unwrap();
    };
    support::check_failed_deletes_send_nothing_twice(&relay, "pg-nodel-", allow).await;
}

/// Rows another relay holds, between rows this relay sends, are skipped
/// and left in the table: the relay deletes what it sent and nothing
/// around it (were it to delete the range its batch spans, it would wait
/// for the other relay's lock and then delete rows nobody sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_another_relay_holds_between_sent_rows_are_left() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    for n in 0..10 {
        place(&pool, &format!("pg-between-{n}")).await;
    }
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM eventlib_outbox ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    // Another relay's claim: the 4th and 5th rows, and the 8th.
    let held = [seqs[3], seqs[4], seqs[7]];
    let mut other = pool.begin().await.unwrap();
    sqlx::query("SELECT seq FROM eventlib_outbox WHERE seq = ANY($1) FOR UPDATE")
        .bind(&held[..])
        .fetch_all(&mut *other)
        .await
        .unwrap();

    let relay = postgres::relay(pool.clone(), RelayOptions::default());
    let moved = tokio::time::timeout(Duration::from_secs(10), relay.drain())
        .await
        .expect("the relay waits for no lock")
        .unwrap();
    assert_eq!(moved, 7);
    // The other relay lets go without sending (its process died, say).
    other.rollback().await.unwrap();
    let left: Vec<i64> = sqlx::query_scalar("SELECT seq FROM eventlib_outbox ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, held, "the held rows are still to be sent");
    assert_eq!(relay.drain().await.unwrap(), 3);
    let runs = wait_handled("pg-between-", 10).await;
    assert!(
        runs.values().all(|ids| ids.len() == 1),
        "each once: {runs:?}"
    );
}

/// Clones of one relay share its store: tasks spawned from one relay
/// and a drain called while they run send each row once. Each cycle
/// takes over the batch the last one left out; cycles at once would
/// leave theirs one over the other, and a batch already handed over
/// would lose its claim and be sent again (small batches make many
/// cycles, and so many chances).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_of_one_relay_at_once_send_each_row_once() {
    let pg = Postgres::start();
    let pool = pool(&pg).await;
    commit_thousands(&pool, "pg-clones-", 10).await;
    let relay = postgres::relay(
        pool.clone(),
        RelayOptions {
            batch: 10,
            ..RelayOptions::default()
        },
    );
    let tasks: Vec<_> = (0..4).map(|_| relay.clone().spawn()).collect();
    let drained = relay.drain().await;
    wait_handled("pg-clones-", 10_000).await;
    for task in tasks {
        task.stop().await;
    }
    drained.unwrap();
    // Rows whose claim a cycle lost would be sent again now.
    let again = relay.drain().await.unwrap();
    eventlib::flush_async().await;
    let runs = support::handled("pg-clones-");
    support::assert_each_once(&runs);
    assert_eq!(
        (runs.len(), again, relay.stats().moved),
        (10_000, 0, 10_000)
    );
    assert_eq!(relay.backlog().await.unwrap(), 0);
}

/// A spawned relay listens for notifications on a connection of its own,
/// not one of the pool's: over a pool of one connection it still claims
/// the rows committed after it went idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_relay_over_a_pool_of_one_keeps_moving_once_idle() {
    let pg = Postgres::start();
    let setup = pool(&pg).await;
    let one = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&pg.url())
        .await
        .unwrap();
    let relay = postgres::relay(one, RelayOptions::default());
    let task = relay.spawn();
    place(&setup, "pg-one-1").await;
    wait_handled("pg-one-1", 1).await;
    // Idle now, waiting for a notification.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    place(&setup, "pg-one-2").await;
    let runs = wait_handled("pg-one-2", 1).await;
    let stats = relay.stats();
    task.stop().await;
    assert_eq!(runs.len(), 1, "{stats}");
    assert_eq!(stats.database_errors, 0, "{stats}");
}

/// A deploy that did not apply the migration: `log` and the relay fail,
/// and their errors say what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_migration_the_errors_say_to_apply_it() {
    let pg = Postgres::start();
    let bare = PgPoolOptions::new()
        .max_connections(4)
        .connect(&pg.url())
        .await
        .unwrap();
    let mut tx = bare.begin().await.unwrap();
    let err = postgres::log(&mut tx, order("pg-unmigrated"))
        .await
        .unwrap_err();
    assert!(matches!(err, eventlib_sql::Error::Database(_)), "{err:?}");
    assert!(err.to_string().contains("postgres::migrate"), "{err}");
    drop(tx);
    let relay = postgres::relay(bare, RelayOptions::default());
    assert!(relay.drain().await.is_err());
    let stats = relay.stats();
    let last = stats.last_error.clone().unwrap_or_default();
    assert!(last.contains("apply its migration"), "{stats}");
}
