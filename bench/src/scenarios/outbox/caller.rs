//! What logging inside the transaction costs the caller: per transaction,
//! `BEGIN`, the business `INSERT`, `eventlib_sql::*::log` of the event
//! (validated, encoded, inserted), `COMMIT`; against the same transaction
//! with the business `INSERT` alone. One connection, transactions one
//! after another, as a request handler runs them.

use std::cell::Cell;
use std::future::Future;
use std::time::Instant;

use eventlib_sql::{postgres, sqlite};

use super::{postgres_settings, runtime, SqliteFile};
use crate::events::Viewed;
use crate::harness::{paired, Report};

/// Transactions per round.
const TRANSACTIONS: u64 = 200;

/// The caller's time per transaction, in µs, over one round of
/// [`TRANSACTIONS`] runs of `transaction` (given the order's number, one
/// after another), numbered on from `next`.
fn round<F>(
    runtime: &tokio::runtime::Runtime,
    next: &Cell<i64>,
    mut transaction: impl FnMut(i64) -> F,
) -> f64
where
    F: Future<Output = ()>,
{
    runtime.block_on(async {
        let t0 = Instant::now();
        for _ in 0..TRANSACTIONS {
            next.set(next.get() + 1);
            transaction(next.get()).await;
        }
        t0.elapsed().as_secs_f64() * 1e6 / TRANSACTIONS as f64
    })
}

/// What a PostgreSQL transaction of the scenario writes.
#[derive(Clone, Copy, PartialEq)]
enum Writes {
    /// The order row and the outbox row, whose trigger notifies the relays.
    Outbox,
    /// The same with the outbox's trigger disabled: no `NOTIFY` at `COMMIT`.
    OutboxQuiet,
    /// The order row alone.
    Order,
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
    let timed = |writes: Writes| {
        // Outside the timed loop: the quiet transactions run with the
        // trigger disabled, and it is enabled again after them.
        if writes == Writes::OutboxQuiet {
            trigger(false);
        }
        let with_event = writes != Writes::Order;
        let micros = round(&runtime, &next, |next| {
            let pool = &pool;
            async move {
                let mut tx = pool.begin().await.expect("BEGIN");
                sqlx::query("INSERT INTO orders VALUES ($1, $2, $3)")
                    .bind(next)
                    .bind(next % 97)
                    .bind(1_999_i64)
                    .execute(&mut *tx)
                    .await
                    .expect("INSERT");
                if with_event {
                    postgres::log(&mut tx, Viewed::new(next as u64))
                        .await
                        .expect("the outbox row");
                }
                tx.commit().await.expect("COMMIT");
            }
        });
        // Untimed: no relay runs here, so the table is emptied by hand.
        runtime
            .block_on(sqlx::query("DELETE FROM eventlib_outbox").execute(&pool))
            .expect("DELETE");
        if writes == Writes::OutboxQuiet {
            trigger(true);
        }
        micros
    };
    let (outbox, alone) = paired(rounds, || timed(Writes::Outbox), || timed(Writes::Order));
    let (quiet, alone_again) = paired(
        rounds,
        || timed(Writes::OutboxQuiet),
        || timed(Writes::Order),
    );
    report.row("tx", outbox, alone);
    report.row("tx-quiet", quiet, alone_again);
    let settings = runtime.block_on(postgres_settings(&pool));
    report.note(format!(
        "{settings}, cluster in {}; {TRANSACTIONS} transactions per round on one connection, \
         each BEGIN + INSERT of an order row (+ eventlib_sql::postgres::log of a 3-field event, \
         whose statement trigger notifies the relays) + COMMIT",
        std::env::temp_dir().display()
    ));
}

pub(crate) fn run_sqlite(rounds: usize, report: &mut Report) {
    let runtime = runtime();
    let file = runtime.block_on(SqliteFile::open("outbox-caller"));
    let pool = file.pool.clone();
    let next = Cell::new(0_i64);
    let timed = |with_event: bool| {
        let micros = round(&runtime, &next, |next| {
            let pool = &pool;
            async move {
                let mut tx = pool.begin().await.expect("BEGIN");
                sqlx::query("INSERT INTO orders VALUES (?, ?, ?)")
                    .bind(next)
                    .bind(next % 97)
                    .bind(1_999_i64)
                    .execute(&mut *tx)
                    .await
                    .expect("INSERT");
                if with_event {
                    sqlite::log(&mut tx, Viewed::new(next as u64))
                        .await
                        .expect("the outbox row");
                }
                tx.commit().await.expect("COMMIT");
            }
        });
        // Untimed: no relay runs here, so the table is emptied by hand.
        runtime
            .block_on(sqlx::query("DELETE FROM eventlib_outbox").execute(&pool))
            .expect("DELETE");
        micros
    };
    let (outbox, alone) = paired(rounds, || timed(true), || timed(false));
    report.row("tx", outbox, alone);
    let settings = runtime.block_on(file.settings());
    report.note(format!(
        "{settings}, file in {}; {TRANSACTIONS} transactions per round on one \
         connection, each BEGIN + INSERT of an order row (+ eventlib_sql::sqlite::log of a \
         3-field event) + COMMIT",
        std::env::temp_dir().display()
    ));
    drop(pool);
    runtime.block_on(file.pool.close());
}
