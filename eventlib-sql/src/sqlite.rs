//! The outbox on SQLite: [`log()`] inside the caller's transaction,
//! [`migrate`] for the table, [`relay`] to move committed rows. SQLite has
//! no row locks to skip: run one relay per database file (a second one
//! would send the same rows again, under the same event ids). It polls.

use std::time::Duration;

use eventlib::outbox::Prepared;
use eventlib::{Event, EventId};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use crate::error::Error;
use crate::relay::{Fut, Relay, RelayOptions, Store};
use crate::send::{self, Row, Sent};

/// The migration that makes the outbox table (idempotent).
pub const MIGRATION: &str = include_str!("../migrations/sqlite.sql");

/// Applies [`MIGRATION`].
pub async fn migrate(pool: &SqlitePool) -> Result<(), Error> {
    sqlx::raw_sql(MIGRATION).execute(pool).await?;
    Ok(())
}

/// Validates `event` as `log!` does and writes it to the outbox inside the
/// caller's transaction (`&mut tx`): it is sent once the transaction
/// commits, and never if it rolls back.
pub async fn log<T: Event>(conn: &mut SqliteConnection, event: T) -> Result<EventId, Error> {
    write(conn, eventlib::outbox::prepare(event)?).await
}

/// [`log()`] for an event given by name, with its data as JSON.
pub async fn log_json(
    conn: &mut SqliteConnection,
    name: &str,
    data: Value,
) -> Result<EventId, Error> {
    write(conn, eventlib::outbox::prepare_json(name, data)?).await
}

async fn write(conn: &mut SqliteConnection, event: Prepared) -> Result<EventId, Error> {
    sqlx::query("INSERT INTO eventlib_outbox (event_id, name, envelope) VALUES (?, ?, ?)")
        .bind(event.id().to_string())
        .bind(event.name())
        .bind(String::from_utf8_lossy(event.envelope()).into_owned())
        .execute(conn)
        .await?;
    Ok(event.id())
}

/// A relay over the outbox of `pool`.
pub fn relay(pool: SqlitePool, options: RelayOptions) -> Relay {
    Relay::new(SqliteStore { pool }, options)
}

struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    async fn cycle(&self, batch: i64) -> Result<Sent, sqlx::Error> {
        // Read outside a transaction: a write lock held while sending would stall the service.
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT seq, name, envelope FROM eventlib_outbox WHERE error IS NULL ORDER BY seq LIMIT ?",
        )
        .bind(batch)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(Sent::default());
        }
        let rows = rows.into_iter().map(Row::from).collect();
        let sent = send::send(rows).await;
        let mut tx = self.pool.begin().await?;
        if !sent.delivered.is_empty() {
            // One statement for the batch: the sequence numbers as a JSON array.
            let delivered = serde_json::to_string(&sent.delivered).unwrap_or_default();
            sqlx::query(
                "DELETE FROM eventlib_outbox WHERE seq IN (SELECT value FROM json_each(?))",
            )
            .bind(delivered)
            .execute(&mut *tx)
            .await?;
        }
        for (seq, reason) in &sent.poison {
            sqlx::query("UPDATE eventlib_outbox SET error = ? WHERE seq = ?")
                .bind(reason)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(sent)
    }
}

impl Store for SqliteStore {
    fn cycle(&self, batch: i64) -> Fut<'_, Result<Sent, sqlx::Error>> {
        Box::pin(SqliteStore::cycle(self, batch))
    }

    fn backlog(&self) -> Fut<'_, Result<i64, sqlx::Error>> {
        Box::pin(async move {
            sqlx::query_scalar("SELECT count(*) FROM eventlib_outbox WHERE error IS NULL")
                .fetch_one(&self.pool)
                .await
        })
    }

    fn wait(&self, poll: Duration) -> Fut<'_, ()> {
        Box::pin(tokio::time::sleep(poll))
    }

    fn release(&self) -> Fut<'_, ()> {
        Box::pin(async {})
    }
}
