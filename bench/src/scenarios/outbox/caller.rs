//! What logging inside the transaction costs the caller: per transaction,
//! `BEGIN`, the business `INSERT`, `eventlib_sql::*::log` of the event
//! (validated, encoded, inserted), `COMMIT`; against the same transaction
//! with the business `INSERT` alone. One connection, transactions one
//! after another, as a request handler runs them.
//!
//! A transaction's time is mostly its `COMMIT` waiting for the disk, and
//! that wait drifts by half from one second to the next on a shared
//! machine. So the two kinds of transaction take turns one by one (each
//! pair in alternating order), and a round's figure for each is its mean
//! over the same stretch of time.

use std::cell::Cell;
use std::future::Future;
use std::time::Instant;

use eventlib_sql::{postgres, sqlite};

use super::{postgres_settings, runtime, SqliteFile};
use crate::events::Viewed;
use crate::harness::{median, Report};

/// Transactions of each kind per round.
const TRANSACTIONS: u64 = 200;

/// The caller's time per transaction of each kind, in µs: the medians over
/// `rounds` rounds (after one to warm up) of the mean over [`TRANSACTIONS`]
/// transactions of each, taking turns. `transaction(with, n)` runs one
/// (`with`: the kind measured; otherwise the baseline) for the order
/// numbered `n`; `between` runs after each round, untimed.
fn interleaved<F>(
    runtime: &tokio::runtime::Runtime,
    rounds: usize,
    next: &Cell<i64>,
    transaction: impl Fn(bool, i64) -> F,
    between: impl Fn(),
) -> (f64, f64)
where
    F: Future<Output = ()>,
{
    let round = || {
        let micros = runtime.block_on(async {
            let mut spent = [0.0_f64; 2];
            for pair in 0..TRANSACTIONS {
                let order = if pair % 2 == 0 {
                    [true, false]
                } else {
                    [false, true]
                };
                for with in order {
                    next.set(next.get() + 1);
                    let t0 = Instant::now();
                    transaction(with, next.get()).await;
                    spent[usize::from(with)] += t0.elapsed().as_secs_f64();
                }
            }
            spent.map(|total| total * 1e6 / TRANSACTIONS as f64)
        });
        between();
        micros
    };
    round();
    let (mut with, mut without) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let [alone, outbox] = round();
        with.push(outbox);
        without.push(alone);
    }
    (median(with), median(without))
}

/// What a PostgreSQL transaction of the scenario writes besides the order row.
#[derive(Clone, Copy, PartialEq)]
enum Also {
    /// The outbox row, whose trigger notifies the relays.
    Outbox,
    /// The same with the outbox's trigger disabled: no `NOTIFY` at `COMMIT`.
    OutboxQuiet,
    /// A `SELECT 1`: one more round trip that writes nothing, the least
    /// any statement added to the transaction costs.
    RoundTrip,
}

pub(crate) fn run_postgres(rounds: usize, report: &mut Report) {
    let runtime = runtime();
    let (_pg, pool) = runtime.block_on(super::postgres(1));
    let next = Cell::new(0_i64);
    let trigger = |on: bool| {
        let sql = if on {
            "ALTER TABLE eventlib_outbox ENABLE TRIGGER eventlib_outbox_notify"
        } else {
            "ALTER TABLE eventlib_outbox DISABLE TRIGGER eventlib_outbox_notify"
        };
        runtime
            .block_on(sqlx::query(sql).execute(&pool))
            .expect("the outbox's trigger");
    };
    let compared = |also: Also| {
        // The quiet transactions run with the trigger disabled, and it is
        // enabled again after them.
        if also == Also::OutboxQuiet {
            trigger(false);
        }
        let pool = &pool;
        let figures = interleaved(
            &runtime,
            rounds,
            &next,
            |with, n| async move {
                let mut tx = pool.begin().await.expect("BEGIN");
                sqlx::query("INSERT INTO orders VALUES ($1, $2, $3)")
                    .bind(n)
                    .bind(n % 97)
                    .bind(1_999_i64)
                    .execute(&mut *tx)
                    .await
                    .expect("INSERT");
                match (with, also) {
                    (false, _) => {}
                    (true, Also::RoundTrip) => {
                        sqlx::query("SELECT 1")
                            .execute(&mut *tx)
                            .await
                            .expect("SELECT 1");
                    }
                    (true, Also::Outbox | Also::OutboxQuiet) => {
                        postgres::log(&mut tx, Viewed::new(n as u64))
                            .await
                            .expect("the outbox row");
                    }
                }
                tx.commit().await.expect("COMMIT");
            },
            // No relay runs here, so the table is emptied by hand.
            || {
                runtime
                    .block_on(sqlx::query("DELETE FROM eventlib_outbox").execute(pool))
                    .expect("DELETE");
            },
        );
        if also == Also::OutboxQuiet {
            trigger(true);
        }
        figures
    };
    let (outbox, alone) = compared(Also::Outbox);
    let (quiet, alone_again) = compared(Also::OutboxQuiet);
    let (round_trip, alone_once_more) = compared(Also::RoundTrip);
    report.row("tx", outbox, alone);
    report.row("tx-quiet", quiet, alone_again);
    report.row("tx-round-trip", round_trip, alone_once_more);
    let settings = runtime.block_on(postgres_settings(&pool));
    report.note(format!(
        "{settings}, cluster in {}; {TRANSACTIONS} transactions of each kind per round on one \
         connection, the two kinds taking turns, each BEGIN + INSERT of an order row \
         (+ eventlib_sql::postgres::log of a 3-field event, whose statement trigger notifies \
         the relays; or + SELECT 1) + COMMIT",
        std::env::temp_dir().display()
    ));
}

pub(crate) fn run_sqlite(rounds: usize, report: &mut Report) {
    let runtime = runtime();
    let file = runtime.block_on(SqliteFile::open("outbox-caller"));
    let pool = file.pool.clone();
    let next = Cell::new(0_i64);
    let (outbox, alone) = interleaved(
        &runtime,
        rounds,
        &next,
        |with, n| {
            let pool = &pool;
            async move {
                let mut tx = pool.begin().await.expect("BEGIN");
                sqlx::query("INSERT INTO orders VALUES (?, ?, ?)")
                    .bind(n)
                    .bind(n % 97)
                    .bind(1_999_i64)
                    .execute(&mut *tx)
                    .await
                    .expect("INSERT");
                if with {
                    sqlite::log(&mut tx, Viewed::new(n as u64))
                        .await
                        .expect("the outbox row");
                }
                tx.commit().await.expect("COMMIT");
            }
        },
        // No relay runs here, so the table is emptied by hand.
        || {
            runtime
                .block_on(sqlx::query("DELETE FROM eventlib_outbox").execute(&pool))
                .expect("DELETE");
        },
    );
    report.row("tx", outbox, alone);
    let settings = runtime.block_on(file.settings());
    report.note(format!(
        "{settings}, file in {}; {TRANSACTIONS} transactions of each kind per round on one \
         connection, the two kinds taking turns, each BEGIN + INSERT of an order row \
         (+ eventlib_sql::sqlite::log of a 3-field event) + COMMIT",
        std::env::temp_dir().display()
    ));
    drop(pool);
    runtime.block_on(file.pool.close());
}
