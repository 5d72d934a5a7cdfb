//! The outbox on SQLite: [`log()`] inside the caller's transaction,
//! [`migrate`] for the table, [`relay`] to move committed rows. SQLite has
//! no row locks to skip: run one relay per database file (a second one
//! would send the same rows again, under the same event ids). It polls.

use std::time::Duration;

use eventlib::outbox::Prepared;
use eventlib::{Event, EventId};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::Connection;

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
/// commits, and never if it rolls back. A connection outside a transaction
/// begun with sqlx is refused with [`Error::NotInTransaction`].
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
    if !conn.is_in_transaction() {
        return Err(Error::NotInTransaction);
    }
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
    Relay::new(
        SqliteStore {
            pool,
            behind: tokio::sync::Mutex::new(None),
        },
        options,
    )
}

struct SqliteStore {
    pool: SqlitePool,
    /// The last batch the transport confirmed, its rows still to delete:
    /// deleted while the next batch is out. Held for a whole cycle, so
    /// that the cycles of clones of one relay (`spawn` and `drain` at once)
    /// take turns instead of reading the same rows.
    behind: tokio::sync::Mutex<Option<Sent>>,
}

impl SqliteStore {
    /// Reads a batch past the last confirmed one, sends it, and deletes
    /// the last confirmed batch meanwhile; returns what was deleted (and
    /// how many rows were read). The batch just sent is deleted by the
    /// next cycle, unless something of it was refused or given up: then
    /// it is deleted here too.
    async fn cycle(&self, batch: i64) -> Result<Sent, sqlx::Error> {
        let mut slot = self.behind.lock().await;
        let behind = slot.take();
        // Rows of the confirmed batch are still in the table: read past them.
        let after = behind.as_ref().and_then(last_seq).unwrap_or(0);
        // Read outside a transaction: a write lock held while sending would stall the service.
        let rows: Result<Vec<(i64, String, String)>, _> = sqlx::query_as(
            "SELECT seq, name, envelope FROM eventlib_outbox WHERE error IS NULL AND seq > ? \
             ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(batch)
        .fetch_all(&self.pool)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            // The failed read is counted on the next cycle.
            Err(err) if behind.is_some() => {
                return self.finish_behind(behind).await.map_err(|_| err)
            }
            Err(err) => return Err(err),
        };
        if rows.is_empty() {
            return self.finish_behind(behind).await;
        }
        let rows = rows.into_iter().map(Row::from).collect();
        let (sent, finished) = tokio::join!(send::send(rows), async {
            match &behind {
                Some(behind) => self.delete(behind).await,
                None => Ok(()),
            }
        });
        let claimed = sent.claimed;
        let behind = behind.unwrap_or_default();
        if let Err(err) = finished {
            // Both batches wait for the next cycle's DELETE (what was
            // refused or given up is told once, now).
            *slot = Some(Sent {
                claimed: 0,
                refused: None,
                unconfirmed: false,
                ..sent.and(behind)
            });
            return Err(err);
        }
        let finished = Sent { claimed, ..behind };
        if sent.clean() {
            *slot = Some(sent);
            return Ok(finished);
        }
        self.delete(&sent).await?;
        Ok(sent.and(finished))
    }

    /// Deletes `behind`'s delivered rows and marks its unsendable ones.
    async fn finish_behind(&self, behind: Option<Sent>) -> Result<Sent, sqlx::Error> {
        let Some(sent) = behind else {
            return Ok(Sent::default());
        };
        self.delete(&sent).await?;
        Ok(Sent { claimed: 0, ..sent })
    }

    /// Deletes a batch's delivered rows and marks its unsendable ones, in
    /// one transaction.
    async fn delete(&self, sent: &Sent) -> Result<(), sqlx::Error> {
        if sent.delivered.is_empty() && sent.poison.is_empty() {
            return Ok(());
        }
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
        tx.commit().await
    }
}

/// The last row of a batch the transport confirmed.
fn last_seq(sent: &Sent) -> Option<i64> {
    let poison = sent.poison.iter().map(|(seq, _)| *seq);
    sent.delivered.iter().copied().chain(poison).max()
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

    fn relink<'a>(&'a self, names: &'a [String]) -> Fut<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            // Most of the time no row is marked so: a probe of the marked
            // rows' index, without the names (each name is a probe of
            // the index).
            let marked: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM eventlib_outbox WHERE error IS NOT NULL \
                 AND substr(error, 1, length(?1)) = ?1)",
            )
            .bind(send::NOT_LINKED)
            .fetch_one(&self.pool)
            .await?;
            if !marked {
                return Ok(0);
            }
            let done = sqlx::query(
                "UPDATE eventlib_outbox SET error = NULL WHERE error IS NOT NULL \
                 AND name IN (SELECT value FROM json_each(?2)) \
                 AND substr(error, 1, length(?1)) = ?1",
            )
            .bind(send::NOT_LINKED)
            .bind(serde_json::to_string(names).unwrap_or_default())
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected())
        })
    }

    fn wait(&self, poll: Duration) -> Fut<'_, ()> {
        Box::pin(tokio::time::sleep(poll))
    }

    fn release(&self) -> Fut<'_, Result<Sent, sqlx::Error>> {
        Box::pin(async move {
            let behind = self.behind.lock().await.take();
            self.finish_behind(behind).await
        })
    }
}
