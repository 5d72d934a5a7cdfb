//! The outbox on SQLite (a database file per test), with the local pool as
//! the transport: what the handlers did is checked, not only the table.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use eventlib_sql::{sqlite, RelayOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use support::{order, wait_handled};

fn file(test: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("eventlib-sql-{test}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

async fn pool(path: &std::path::Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(5));
    let pool = support::migrated_sqlite(options, 4).await;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS carts (id TEXT PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    pool
}

async fn place(pool: &SqlitePool, name: &str) -> eventlib::EventId {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO carts (id) VALUES (?)")
        .bind(name)
        .execute(&mut *tx)
        .await
        .unwrap();
    let id = sqlite::log(&mut tx, order(name)).await.unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_is_never_handled_and_a_commit_is_handled_once_with_its_id() {
    let path = file("rollback");
    let pool = pool(&path).await;

    let mut tx = pool.begin().await.unwrap();
    sqlite::log(&mut tx, order("lite-rb-1")).await.unwrap();
    sqlite::log_json(
        &mut tx,
        "sqltest.OrderPlaced",
        serde_json::json!({"order": "lite-rb-2", "amount_cents": 5}),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let refused = sqlite::log_json(
        &mut tx,
        "sqltest.OrderPlaced",
        serde_json::json!({"order": "lite-rb-zero", "amount_cents": 0}),
    )
    .await;
    assert!(matches!(
        refused,
        Err(eventlib_sql::Error::Event(
            eventlib::Error::Validation { .. }
        ))
    ));
    tx.commit().await.unwrap();

    let id = place(&pool, "lite-rb-ok").await;
    let relay = sqlite::relay(pool.clone(), RelayOptions::default());
    assert_eq!(relay.backlog().await.unwrap(), 1);
    assert_eq!(relay.drain().await.unwrap(), 1);
    let runs = wait_handled("lite-rb-", 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runs, support::handled("lite-rb-"));
    assert_eq!(
        runs.len(),
        1,
        "only the committed cart is handled: {runs:?}"
    );
    assert_eq!(runs["lite-rb-ok"], vec![id]);
    assert_eq!(relay.backlog().await.unwrap(), 0);
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

/// Run as a child process by `committed_rows_survive_a_kill_of_the_service`:
/// commits carts, says so, and waits to be killed.
#[tokio::test]
async fn child_process_entry() {
    if std::env::var("EVENTLIB_SQL_CHILD").as_deref() != Ok("sqlite-producer") {
        return;
    }
    let path = PathBuf::from(std::env::var("EVENTLIB_SQL_URL").unwrap());
    let pool = pool(&path).await;
    for n in 0..50 {
        place(&pool, &format!("lite-kill-{n}")).await;
    }
    // On stderr: unbuffered, and never held by the test harness.
    eprintln!("COMMITTED");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

/// Services that start at once each apply the migration to one file: none
/// fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_that_start_at_once_all_migrate() {
    let path = file("migrate");
    let mut services = Vec::new();
    for _ in 0..8 {
        let path = path.clone();
        services.push(tokio::spawn(async move {
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .unwrap();
            sqlite::migrate(&pool).await
        }));
    }
    for service in services {
        service.await.unwrap().unwrap();
    }
    let _ = std::fs::remove_file(&path);
}

/// `log` on a connection outside a transaction would commit the event on
/// its own, whatever became of the business rows: it is refused, and
/// nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_outside_a_transaction_is_refused_and_writes_nothing() {
    let path = file("outside");
    let pool = pool(&path).await;
    support::refused_outside_a_transaction!(sqlite, pool, "lite");
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_rows_survive_a_kill_of_the_service() {
    let path = file("kill");
    let mut child = support::child(
        "child_process_entry",
        "sqlite-producer",
        path.to_str().unwrap(),
    );
    support::wait_for_line(&mut child, "COMMITTED");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let pool = pool(&path).await;
    let relay = sqlite::relay(
        pool.clone(),
        RelayOptions {
            poll: Duration::from_millis(50),
            ..RelayOptions::default()
        },
    );
    let task = relay.spawn();
    let runs = wait_handled("lite-kill-", 50).await;
    task.stop().await;
    assert_eq!(runs.len(), 50);
    assert!(runs.values().all(|ids| ids.len() == 1), "each handled once");
    assert_eq!(relay.backlog().await.unwrap(), 0);
    assert_eq!(relay.stats().moved, 50);
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsendable_row_is_marked_and_counted_not_lost() {
    let path = file("poison");
    let pool = pool(&path).await;
    sqlx::query("INSERT INTO eventlib_outbox (event_id, name, envelope) VALUES ('x', 'sqltest.Nope', ?)")
        .bind(r#"{"v":1,"id":"0000000000000000000000000000abcd","name":"sqltest.Nope","emitted_at":1,"data":{}}"#)
        .execute(&pool)
        .await
        .unwrap();
    place(&pool, "lite-poison-ok").await;
    let relay = sqlite::relay(pool.clone(), RelayOptions::default());
    assert_eq!(relay.drain().await.unwrap(), 1, "one moved, one marked");
    assert_eq!(wait_handled("lite-poison-", 1).await.len(), 1);
    let stats = relay.stats();
    assert_eq!((stats.moved, stats.unsendable), (1, 1));
    let error: Option<String> =
        sqlx::query_scalar("SELECT error FROM eventlib_outbox WHERE event_id = 'x'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(error.unwrap().contains("sqltest.Nope"));
    assert_eq!(relay.backlog().await.unwrap(), 0);
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

/// While a deploy rolls out, a relay of the old version can claim the row
/// of an event that only the new version links, and marks it. A relay
/// whose program links the event clears that mark and sends the row; a
/// row whose data does not fit its type stays marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_marked_by_a_program_that_did_not_link_its_event_is_sent_by_one_that_does() {
    let path = file("relink");
    let pool = pool(&path).await;
    let insert = "INSERT INTO eventlib_outbox (event_id, name, envelope) VALUES (?, ?, ?)";
    for (id, name, data) in [
        (
            "later",
            "sqltest.Later",
            r#"{"order":"lite-relink-1","amount_cents":5}"#,
        ),
        (
            "unfit",
            "sqltest.OrderPlaced",
            r#"{"order":"lite-relink-2","amount_cents":"lots"}"#,
        ),
    ] {
        let envelope = format!(
            r#"{{"v":1,"id":"00000000000000000000000000000{}","name":"{name}","emitted_at":1,"data":{data}}}"#,
            if id == "later" { "aaa" } else { "bbb" }
        );
        sqlx::query(insert)
            .bind(id)
            .bind(name)
            .bind(envelope)
            .execute(&pool)
            .await
            .unwrap();
    }
    let old = sqlite::relay(pool.clone(), RelayOptions::default());
    assert_eq!(old.drain().await.unwrap(), 0, "marked, not moved");
    assert_eq!((old.stats().moved, old.stats().unsendable), (0, 2));
    let error = |id: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT error FROM eventlib_outbox WHERE event_id = ?",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let later = error("later").await.unwrap();
    assert!(
        later.starts_with("not linked into the relay's program: unknown event `sqltest.Later`"),
        "{later}"
    );
    let unfit = error("unfit").await.unwrap();
    assert!(unfit.contains("amount_cents"), "{unfit}");

    // The newer program links the event: here the row is rewritten to an
    // event this test program links, its mark left as the relay wrote it.
    sqlx::query("UPDATE eventlib_outbox SET name = 'sqltest.OrderPlaced', envelope = ? WHERE event_id = 'later'")
        .bind(r#"{"v":1,"id":"00000000000000000000000000000aaa","name":"sqltest.OrderPlaced","emitted_at":1,"data":{"order":"lite-relink-1","amount_cents":5}}"#)
        .execute(&pool)
        .await
        .unwrap();
    let new = sqlite::relay(pool.clone(), RelayOptions::default());
    assert_eq!(new.drain().await.unwrap(), 1);
    let stats = new.stats();
    assert_eq!((stats.relinked, stats.moved, stats.unsendable), (1, 1, 0));
    let runs = wait_handled("lite-relink-", 1).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs["lite-relink-1"].len(), 1);
    assert_eq!(error("unfit").await, Some(unfit));
    assert_eq!(new.backlog().await.unwrap(), 0);
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

/// Clones of one relay cycling at once (a running relay, and a `drain`
/// at the same time) take turns: no row is read, sent and handled twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_of_one_relay_draining_at_once_send_each_row_once() {
    let path = file("clones");
    let pool = pool(&path).await;
    let mut tx = pool.begin().await.unwrap();
    for n in 0..2_000 {
        sqlite::log(&mut tx, order(format!("lite-clones-{n}")))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let relay = sqlite::relay(
        pool.clone(),
        RelayOptions {
            batch: 100,
            ..RelayOptions::default()
        },
    );
    let (clone, other) = (relay.clone(), relay.clone());
    let (a, b) = tokio::join!(
        tokio::spawn(async move { clone.drain().await.unwrap() }),
        tokio::spawn(async move { other.drain().await.unwrap() }),
    );
    assert_eq!(a.unwrap() + b.unwrap(), 2_000);
    let runs = wait_handled("lite-clones-", 2_000).await;
    assert_eq!(runs.len(), 2_000);
    let twice = runs.values().filter(|ids| ids.len() > 1).count();
    assert_eq!(twice, 0, "{twice} orders handled more than once");
    assert_eq!(relay.stats().moved, 2_000);
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

/// Two relays on one file, as a service's task and a relay process would
/// run (separate `Relay`s, each with its own pool): one sends, the other
/// stands by and says so; once the first stops, the other takes over at
/// once. No row is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_relay_on_one_file_stands_by_and_takes_over_when_the_first_stops() {
    let path = file("two-relays");
    let pools = [pool(&path).await, pool(&path).await];
    let mut tx = pools[0].begin().await.unwrap();
    for n in 0..2_000 {
        sqlite::log(&mut tx, order(format!("lite-two-{n}")))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let options = RelayOptions {
        batch: 100,
        poll: Duration::from_millis(10),
        ..RelayOptions::default()
    };
    let relays = [
        sqlite::relay(pools[0].clone(), options.clone()).named("relay-a"),
        sqlite::relay(pools[1].clone(), options).named("relay-b"),
    ];
    let mut tasks = [Some(relays[0].spawn()), Some(relays[1].spawn())];
    let runs = wait_handled("lite-two-", 2_000).await;
    assert_eq!(runs.len(), 2_000);
    let twice = runs.values().filter(|ids| ids.len() > 1).count();
    assert_eq!(twice, 0, "{twice} orders handled more than once");
    // A second send would come in the next few polls.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = [relays[0].stats(), relays[1].stats()];
    let sender = usize::from(stats[0].moved == 0);
    let standby = 1 - sender;
    assert_eq!(
        (stats[sender].moved, stats[standby].moved),
        (2_000, 0),
        "{stats:?}"
    );
    let holder = stats[standby]
        .standing_by_for
        .clone()
        .unwrap_or_else(|| panic!("the other relay does not say it stands by: {stats:?}"));
    assert!(holder.starts_with(relays[sender].name()), "{holder}");
    assert!(
        stats[standby].to_string().contains("standing by for"),
        "{}",
        stats[standby]
    );
    assert!(
        matches!(
            relays[standby].drain().await,
            Err(eventlib_sql::Error::StandingBy { .. })
        ),
        "a drain of the relay standing by says so"
    );

    // The sender stops and lets go: the other sends the next rows.
    tasks[sender].take().unwrap().stop().await;
    let mut tx = pools[0].begin().await.unwrap();
    for n in 0..100 {
        sqlite::log(&mut tx, order(format!("lite-two-after-{n}")))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let after = tokio::time::timeout(Duration::from_secs(5), wait_handled("lite-two-after-", 100))
        .await
        .expect("the relay standing by takes over within the poll interval");
    assert!(after.values().all(|ids| ids.len() == 1));
    // The handlers ran; the relay counts the rows once their DELETE commits.
    let mut stats = relays[standby].stats();
    for _ in 0..50 {
        if stats.moved >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = relays[standby].stats();
    }
    assert_eq!((stats.moved, stats.standing_by_for), (100, None));
    tasks[standby].take().unwrap().stop().await;
    for pool in pools {
        pool.close().await;
    }
    let _ = std::fs::remove_file(&path);
}

/// A DELETE that fails (here a trigger refuses it; a disk full or a lock
/// held past the busy timeout does the same) keeps the confirmed rows for
/// the next try: they are not read and sent again meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_whose_delete_fails_are_not_sent_again() {
    let path = file("no-delete");
    let pool = pool(&path).await;
    for n in 0..5 {
        place(&pool, &format!("lite-nodel-{n}")).await;
    }
    support::refuse_sqlite_deletes(&pool, true).await;
    let relay = sqlite::relay(pool.clone(), support::eager_options());
    support::check_failed_deletes_send_nothing_twice(
        &relay,
        "lite-nodel-",
        support::refuse_sqlite_deletes(&pool, false),
    )
    .await;
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

/// A relay whose process died holds the outbox until its lease runs out;
/// then the relay standing by sends its rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_takes_over_the_lease_of_a_relay_that_died() {
    let path = file("dead-holder");
    let pool = pool(&path).await;
    for n in 0..3 {
        place(&pool, &format!("lite-dead-{n}")).await;
    }
    // As a relay killed while it sent would leave it: 1.5 s to go.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 1_500;
    sqlx::query("INSERT INTO eventlib_outbox_relay (id, holder, until_ms) VALUES (1, ?, ?)")
        .bind("gone (host:1#0)")
        .bind(until)
        .execute(&pool)
        .await
        .unwrap();
    let relay = sqlite::relay(
        pool.clone(),
        RelayOptions {
            poll: Duration::from_millis(20),
            ..RelayOptions::default()
        },
    );
    let task = relay.spawn();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = relay.stats();
    assert_eq!(
        (stats.moved, stats.standing_by_for.as_deref()),
        (0, Some("gone (host:1#0)"))
    );
    let runs = tokio::time::timeout(Duration::from_secs(10), wait_handled("lite-dead-", 3))
        .await
        .expect("sent once the lease ran out");
    assert_eq!(runs.len(), 3);
    assert_eq!(relay.stats().standing_by_for, None);
    task.stop().await;
    // A stopped relay lets go of its lease.
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM eventlib_outbox_relay")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

/// Options that would stall a relay (no row per batch, no pause between
/// looks or after a failure) are raised to the least that works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_given_zero_options_still_moves_every_row() {
    let path = file("zero");
    let pool = pool(&path).await;
    for n in 0..3 {
        place(&pool, &format!("lite-zero-{n}")).await;
    }
    let relay = sqlite::relay(
        pool.clone(),
        RelayOptions {
            batch: 0,
            poll: Duration::ZERO,
            max_backoff: Duration::ZERO,
            ..RelayOptions::default()
        },
    );
    assert_eq!(relay.drain().await.unwrap(), 3);
    assert_eq!(wait_handled("lite-zero-", 3).await.len(), 3);
    let debug = format!("{relay:?}");
    assert!(debug.contains("batch: 1,"), "{debug}");
    assert!(debug.contains("poll: 1ms"), "{debug}");
    assert!(debug.contains("max_backoff: 50ms"), "{debug}");
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

/// An event this test program links without a handler.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Unwatched {
    n: u32,
}

#[eventlib::event(name = "sqltest.Unwatched")]
impl Unwatched {}

/// A relay in a program with no transport installed and no handler of the
/// event (a relay process not given the Redis transport) counts the rows
/// that went nowhere, instead of reporting them as moved and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_a_relay_sends_nowhere_are_counted() {
    let path = file("nowhere");
    let pool = pool(&path).await;
    let mut tx = pool.begin().await.unwrap();
    for n in 0..3 {
        sqlite::log(&mut tx, Unwatched { n }).await.unwrap();
    }
    tx.commit().await.unwrap();
    place(&pool, "lite-nowhere-1").await;
    let relay = sqlite::relay(pool.clone(), RelayOptions::default());
    assert_eq!(relay.drain().await.unwrap(), 4);
    let stats = relay.stats();
    assert_eq!((stats.moved, stats.handled_nowhere), (4, 3));
    assert_eq!(wait_handled("lite-nowhere-", 1).await.len(), 1);
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_rides_out_a_locked_database_and_loses_nothing() {
    let path = file("locked");
    let pool = pool(&path).await;
    for n in 0..20 {
        place(&pool, &format!("lite-locked-{n}")).await;
    }
    // The relay's writes give up after 100 ms of a locked database.
    let relay_pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .busy_timeout(Duration::from_millis(100)),
        )
        .await
        .unwrap();
    let relay = sqlite::relay(
        relay_pool.clone(),
        RelayOptions {
            poll: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            ..RelayOptions::default()
        },
    );

    // Another writer holds the database for 2 s: the relay sends, cannot
    // delete, counts it, and keeps every row.
    let lock = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let task = relay.spawn();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = relay.stats();
    assert!(during.database_errors >= 1, "counted: {during}");
    assert!(
        during
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("locked"),
        "{during}"
    );
    assert_eq!(during.moved, 0, "nothing deleted while locked");
    lock.rollback().await.unwrap();

    let runs = wait_handled("lite-locked-", 20).await;
    support::until("an empty outbox", Duration::from_secs(10), || {
        support::block(relay.backlog()).ok() == Some(0)
    })
    .await;
    task.stop().await;
    assert_eq!(runs.len(), 20, "nothing lost");
    // At least once: rows sent while the DELETE could not commit were sent again.
    assert!(runs.values().all(|ids| !ids.is_empty()));
    assert_eq!(relay.stats().moved, 20);
    relay_pool.close().await;
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_keeps_moving_while_the_service_logs_other_events() {
    relay_moves_while_the_service_logs("lite-busy-", |page| {
        eventlib::log!(support::PageViewed { page }).unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_keeps_moving_while_the_service_logs_the_same_event() {
    relay_moves_while_the_service_logs("lite-same-", |n| {
        eventlib::log!(order(format!("{}lite-same-{n}", support::SLOW))).unwrap();
    })
    .await;
}

/// Commits 20 orders of `prefix`, then drains them while another thread
/// calls `log_one` every 5 ms with events whose handler takes 20 ms, so
/// that the dispatcher always has some in flight: the relay waits for
/// its own events only.
async fn relay_moves_while_the_service_logs(prefix: &str, log_one: fn(u64)) {
    let path = file(prefix.trim_end_matches('-'));
    let pool = pool(&path).await;
    for n in 0..20 {
        place(&pool, &format!("{prefix}{n}")).await;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let logging = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 2_000 {
                log_one(n);
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let relay = sqlite::relay(pool.clone(), RelayOptions::default());
    let drained = tokio::time::timeout(Duration::from_secs(3), relay.drain()).await;
    let busy_all_along = !logging.is_finished();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    logging.join().unwrap();
    assert!(busy_all_along, "the other events were logged throughout");
    let moved = drained
        .expect("the relay confirms its batch without waiting for other events")
        .unwrap();
    assert_eq!(moved, 20);
    let runs = wait_handled(prefix, 20).await;
    assert!(runs.values().all(|ids| ids.len() == 1));
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

/// A deploy that did not apply the migration: `log` and the relay fail,
/// and their errors say what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_migration_the_errors_say_to_apply_it() {
    let path = file("unmigrated");
    let pool = SqlitePoolOptions::new()
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true),
        )
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let err = sqlite::log(&mut tx, order("lite-unmigrated"))
        .await
        .unwrap_err();
    assert!(matches!(err, eventlib_sql::Error::Database(_)), "{err:?}");
    assert!(err.to_string().contains("sqlite::migrate"), "{err}");
    drop(tx);
    let relay = sqlite::relay(pool.clone(), RelayOptions::default());
    assert!(relay.drain().await.is_err());
    let stats = relay.stats();
    let last = stats.last_error.clone().unwrap_or_default();
    assert!(last.contains("apply its migration"), "{stats}");
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}

/// A spawned relay over a pool of one connection, shared with the
/// service's writes, keeps moving rows committed while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_relay_over_a_pool_of_one_keeps_moving() {
    let path = file("pool-of-one");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .busy_timeout(Duration::from_secs(5));
    let pool = support::migrated_sqlite(options, 1).await;
    let relay = sqlite::relay(
        pool.clone(),
        RelayOptions {
            batch: 50,
            poll: Duration::from_millis(20),
            ..RelayOptions::default()
        },
    );
    let task = relay.spawn();
    for round in 0..5 {
        let mut tx = pool.begin().await.unwrap();
        for n in 0..100 {
            sqlite::log(&mut tx, order(format!("lite-one-{round}-{n}")))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let runs = wait_handled("lite-one-", 500).await;
    let stats = relay.stats();
    task.stop().await;
    assert_eq!(runs.len(), 500, "{stats}");
    support::assert_each_once(&runs);
    assert_eq!(stats.database_errors, 0, "{stats}");
    pool.close().await;
    let _ = std::fs::remove_file(&path);
}
