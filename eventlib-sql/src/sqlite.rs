//! The outbox on SQLite: [`log()`] inside the caller's transaction,
//! [`migrate`] for the table, [`relay`] to move committed rows. SQLite has
//! no row locks to skip, so one relay at a time sends a database file's
//! rows: it holds a lease (a row of `eventlib_outbox_relay`), and any
//! other relay stands by until that one stops or its lease runs out. It
//! polls.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use eventlib::outbox::Prepared;
use eventlib::{Event, EventId};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::Connection;

use crate::error::Error;
use crate::relay::{Fut, Relay, RelayOptions, Store};
use crate::send::{self, Row, Sent};
use crate::stats::now_ms;

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

/// A relay over the outbox of `pool`. One relay at a time sends a
/// database file's rows; another (in this process or another) stands by,
/// as [`RelayStats::standing_by_for`](crate::RelayStats::standing_by_for)
/// says, and takes over once that one stops or, if its process died, its
/// lease of 10 s runs out.
pub fn relay(pool: SqlitePool, options: RelayOptions) -> Relay {
    static STORES: AtomicU64 = AtomicU64::new(0);
    Relay::new(
        SqliteStore {
            pool,
            behind: tokio::sync::Mutex::new(None),
            process: format!(
                "{}#{}",
                crate::publish::default_name(),
                STORES.fetch_add(1, Ordering::Relaxed)
            ),
            lease: Mutex::new(None),
            took: AtomicBool::new(false),
        },
        options,
    )
}

/// How long a relay's lease on the outbox lasts without being renewed:
/// how long the others wait to take over from a relay whose process died.
const LEASE: Duration = Duration::from_secs(10);
/// How often a relay renews its lease, while it sends and while it waits.
const RENEW_EVERY: Duration = Duration::from_secs(3);

/// The lease's table (also in the migration, for a database migrated
/// before it existed).
const LEASE_TABLE: &str = "CREATE TABLE IF NOT EXISTS eventlib_outbox_relay (\
    id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, until_ms INTEGER NOT NULL)";

struct SqliteStore {
    pool: SqlitePool,
    /// The last batch the transport confirmed, its rows still to delete:
    /// deleted while the next batch is out. Held for a whole cycle, so
    /// that the cycles of clones of one relay (`spawn` and `drain` at once)
    /// take turns instead of reading the same rows.
    behind: tokio::sync::Mutex<Option<Sent>>,
    /// This relay among others on the file: `<hostname>:<pid>#<n>`.
    process: String,
    /// When this relay's lease needs renewing; `None` when it holds none.
    lease: Mutex<Option<Instant>>,
    /// Whether it took the lease since it last let go of it.
    took: AtomicBool,
}

impl SqliteStore {
    /// Reads a batch past the last confirmed one, sends it, and deletes
    /// the last confirmed batch meanwhile; returns what was deleted (and
    /// how many rows were read). The batch just sent is deleted by the
    /// next cycle, unless something of it was refused or given up: then
    /// it is deleted here too.
    async fn cycle(&self, batch: i64, relay: &str) -> Result<Sent, sqlx::Error> {
        let mut slot = self.behind.lock().await;
        let behind = slot.take();
        let standby = match self.hold(relay).await {
            Ok(standby) => standby,
            Err(err) => {
                *slot = behind;
                return Err(err);
            }
        };
        if let Some(holder) = standby {
            // The batch this relay sent before it lost the lease is still
            // its own to delete.
            return Ok(Sent {
                standby: Some(holder),
                ..self.finish_or_keep(&mut slot, behind).await?
            });
        }
        // Rows of the confirmed batch are still in the table: read past them.
        let after = behind.as_ref().and_then(last_seq).unwrap_or(0);
        // Read outside a transaction: a write lock held while sending would stall the service.
        let rows: Result<Vec<(i64, String)>, _> = sqlx::query_as(
            "SELECT seq, envelope FROM eventlib_outbox WHERE error IS NULL AND seq > ? \
             ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(batch)
        .fetch_all(&self.pool)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            // Counted on the next cycle, which deletes the confirmed batch.
            Err(err) => {
                *slot = behind;
                return Err(err);
            }
        };
        if rows.is_empty() {
            return self.finish_or_keep(&mut slot, behind).await;
        }
        let rows = rows.into_iter().map(Row::from).collect();
        let (sent, finished) = tokio::join!(
            // The lease is kept while the batch is out, however long the
            // transport takes to confirm it (Redis down): the others must
            // not send the same rows meanwhile.
            self.keeping_lease(relay, send::send(rows)),
            async {
                match &behind {
                    Some(behind) => self.delete(behind).await,
                    None => Ok(()),
                }
            }
        );
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
        let confirmed = Sent {
            refused: None,
            unconfirmed: false,
            delivered: sent.delivered.clone(),
            poison: sent.poison.clone(),
            nowhere: sent.nowhere.clone(),
            ..Sent::default()
        };
        if let Err(err) = self.delete(&confirmed).await {
            // Its confirmed rows are deleted by the next cycle.
            *slot = Some(confirmed);
            return Err(err);
        }
        Ok(sent.and(finished))
    }

    /// Takes or renews this relay's lease on the outbox when due: `None`
    /// when it holds it, else the relay that does.
    async fn hold(&self, relay: &str) -> Result<Option<String>, sqlx::Error> {
        let due = self
            .lease
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none_or(|renew_at| Instant::now() >= renew_at);
        if !due {
            return Ok(None);
        }
        let me = self.holder(relay);
        let asked = Instant::now();
        let now = now_ms();
        let mut conn = self.pool.acquire().await?;
        sqlx::query(LEASE_TABLE).execute(&mut *conn).await?;
        // A relay standing by only reads, rather than ask for the write
        // lock every poll; the write below checks again.
        let current: Option<(String, i64)> =
            sqlx::query_as("SELECT holder, until_ms FROM eventlib_outbox_relay WHERE id = 1")
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((holder, until_ms)) = current {
            if holder != me && until_ms >= now as i64 {
                *self.lease.lock().unwrap_or_else(|e| e.into_inner()) = None;
                return Ok(Some(holder));
            }
        }
        let taken = sqlx::query(
            "INSERT INTO eventlib_outbox_relay (id, holder, until_ms) VALUES (1, ?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
             WHERE eventlib_outbox_relay.holder = excluded.holder \
             OR eventlib_outbox_relay.until_ms < ?3",
        )
        .bind(&me)
        .bind((now + LEASE.as_millis() as u64) as i64)
        .bind(now as i64)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            > 0;
        *self.lease.lock().unwrap_or_else(|e| e.into_inner()) =
            taken.then_some(asked + RENEW_EVERY);
        if taken {
            self.took.store(true, Ordering::Relaxed);
            return Ok(None);
        }
        let holder: Option<String> =
            sqlx::query_scalar("SELECT holder FROM eventlib_outbox_relay WHERE id = 1")
                .fetch_optional(&mut *conn)
                .await?;
        Ok(Some(holder.unwrap_or_else(|| "another relay".to_owned())))
    }

    /// Runs `sending`, renewing this relay's lease every [`RENEW_EVERY`]
    /// until it is done.
    async fn keeping_lease<T>(
        &self,
        relay: &str,
        sending: impl std::future::Future<Output = T>,
    ) -> T {
        tokio::pin!(sending);
        loop {
            tokio::select! {
                done = &mut sending => return done,
                () = tokio::time::sleep(RENEW_EVERY) => {
                    // A failed renewal is tried again; a lost lease is
                    // seen by the next cycle.
                    *self.lease.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    let _ = self.hold(relay).await;
                }
            }
        }
    }

    /// Lets go of this relay's lease, so that a relay standing by takes
    /// over at once.
    async fn let_go(&self, relay: &str) -> Result<(), sqlx::Error> {
        self.lease.lock().unwrap_or_else(|e| e.into_inner()).take();
        // Also when its last renewal failed: the row may still name it.
        if self.took.swap(false, Ordering::Relaxed) {
            sqlx::query("DELETE FROM eventlib_outbox_relay WHERE holder = ?")
                .bind(self.holder(relay))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// How this relay is named in the lease: its name, then its process.
    fn holder(&self, relay: &str) -> String {
        format!("{relay} ({})", self.process)
    }

    /// Deletes `behind`'s delivered rows and marks its unsendable ones;
    /// if that fails, `behind` goes back to `slot`, for the next cycle
    /// (read past, not sent again).
    async fn finish_or_keep(
        &self,
        slot: &mut Option<Sent>,
        behind: Option<Sent>,
    ) -> Result<Sent, sqlx::Error> {
        let Some(sent) = behind else {
            return Ok(Sent::default());
        };
        match self.delete(&sent).await {
            Ok(()) => Ok(Sent { claimed: 0, ..sent }),
            Err(err) => {
                *slot = Some(sent);
                Err(err)
            }
        }
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
    fn cycle<'a>(&'a self, batch: i64, relay: &'a str) -> Fut<'a, Result<Sent, sqlx::Error>> {
        Box::pin(SqliteStore::cycle(self, batch, relay))
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

    fn release<'a>(
        &'a self,
        relay: &'a str,
        _grace: Option<Duration>,
    ) -> Fut<'a, Result<Sent, sqlx::Error>> {
        // A batch is sent and confirmed within its cycle: nothing is out.
        Box::pin(async move {
            let mut slot = self.behind.lock().await;
            let behind = slot.take();
            let finished = self.finish_or_keep(&mut slot, behind).await;
            // Under the cycles' lock: a clone's next cycle takes the lease
            // again rather than sending without it.
            let let_go = self.let_go(relay).await;
            drop(slot);
            let finished = finished?;
            let_go.map(|()| finished)
        })
    }
}
