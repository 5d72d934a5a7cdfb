//! The outbox on PostgreSQL: [`log()`] inside the caller's transaction,
//! [`migrate`] for the table, [`relay`] to move committed rows. Several
//! relays may run at once: each claims its batch with
//! `FOR UPDATE SKIP LOCKED`, and wakes on `LISTEN eventlib_outbox` (the
//! table's trigger notifies on commit), polling as a fallback.

use std::time::Duration;

use eventlib::outbox::Prepared;
use eventlib::{Event, EventId};
use serde_json::Value;
use sqlx::postgres::{PgConnection, PgListener, PgPool, Postgres};
use sqlx::Transaction;

use crate::error::Error;
use crate::relay::{Fut, Relay, RelayOptions, Store};
use crate::send::{self, Row, Sent};

/// The migration that makes the outbox table and its notify trigger
/// (idempotent).
pub const MIGRATION: &str = include_str!("../migrations/postgres.sql");

/// The channel the table's trigger notifies on commit.
pub const CHANNEL: &str = "eventlib_outbox";

/// Applies [`MIGRATION`].
pub async fn migrate(pool: &PgPool) -> Result<(), Error> {
    sqlx::raw_sql(MIGRATION).execute(pool).await?;
    Ok(())
}

/// Validates `event` as `log!` does and writes it to the outbox inside the
/// caller's transaction (`&mut tx`): it is sent once the transaction
/// commits, and never if it rolls back.
pub async fn log<T: Event>(conn: &mut PgConnection, event: T) -> Result<EventId, Error> {
    write(conn, eventlib::outbox::prepare(event)?).await
}

/// [`log()`] for an event given by name, with its data as JSON.
pub async fn log_json(conn: &mut PgConnection, name: &str, data: Value) -> Result<EventId, Error> {
    write(conn, eventlib::outbox::prepare_json(name, data)?).await
}

async fn write(conn: &mut PgConnection, event: Prepared) -> Result<EventId, Error> {
    sqlx::query("INSERT INTO eventlib_outbox (event_id, name, envelope) VALUES ($1, $2, $3)")
        .bind(event.id().to_string())
        .bind(event.name())
        .bind(String::from_utf8_lossy(event.envelope()).into_owned())
        .execute(conn)
        .await?;
    Ok(event.id())
}

/// A relay over the outbox of `pool`.
///
/// The relay holds up to three of the pool's connections at once: the
/// batch it is sending, the next one claimed meanwhile, and the last one
/// confirmed, whose `DELETE` commits meanwhile. With a pool of fewer than
/// three connections it works one batch at a time.
pub fn relay(pool: PgPool, options: RelayOptions) -> Relay {
    let overlap = pool.options().get_max_connections() >= 3;
    Relay::new(
        PgStore {
            pool,
            listen: options.listen,
            overlap,
            listener: tokio::sync::Mutex::new(None),
            ahead: tokio::sync::Mutex::new(None),
            behind: tokio::sync::Mutex::new(None),
            runtime: std::sync::OnceLock::new(),
        },
        options,
    )
}

struct PgStore {
    pool: PgPool,
    /// `RelayOptions::listen`: off, the relay only polls.
    listen: bool,
    /// Whether the pool has the three connections that claiming the next
    /// batch and deleting the last one while a batch is out take.
    overlap: bool,
    /// Connected on the first wait; dropped on an error and made again.
    listener: tokio::sync::Mutex<Option<PgListener>>,
    /// The next batch, claimed while the previous one was out.
    ahead: tokio::sync::Mutex<Option<Claimed>>,
    /// The last batch the transport confirmed, its rows still to delete:
    /// its `DELETE` and `COMMIT` run while the next batch is out.
    behind: tokio::sync::Mutex<Option<Confirmed>>,
    /// The runtime the relay ran on: sqlx closes the listener's and a
    /// claim's connection on a runtime, also when the relay is dropped
    /// outside one.
    runtime: std::sync::OnceLock<tokio::runtime::Handle>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let _entered = match (tokio::runtime::Handle::try_current(), self.runtime.get()) {
            (Err(_), Some(runtime)) => Some(runtime.enter()),
            _ => None,
        };
        self.listener.get_mut().take();
        self.ahead.get_mut().take();
        self.behind.get_mut().take();
    }
}

/// A claimed batch: its rows stay locked by its transaction until it ends,
/// so other relays skip them.
struct Claimed {
    tx: Transaction<'static, Postgres>,
    rows: Vec<Row>,
}

/// A batch the transport confirmed, its rows still claimed by `tx`.
struct Confirmed {
    tx: Transaction<'static, Postgres>,
    sent: Sent,
}

impl Confirmed {
    /// Deletes (and marks) its rows and commits; returns what it did.
    async fn finish(self) -> Result<Sent, sqlx::Error> {
        finish(self.tx, &self.sent).await?;
        Ok(Sent {
            claimed: 0,
            ..self.sent
        })
    }
}

/// [`Confirmed::finish`] of `behind`, if there is one.
async fn finish_behind(behind: Option<Confirmed>) -> Result<Sent, sqlx::Error> {
    match behind {
        Some(confirmed) => confirmed.finish().await,
        None => Ok(Sent::default()),
    }
}

impl PgStore {
    async fn claim(&self, batch: i64) -> Result<Claimed, sqlx::Error> {
        self.runtime.get_or_init(tokio::runtime::Handle::current);
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT seq, name, envelope FROM eventlib_outbox WHERE error IS NULL \
             ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?;
        let rows = rows.into_iter().map(Row::from).collect();
        Ok(Claimed { tx, rows })
    }

    /// Claims a batch (or takes the one claimed ahead), sends it, and
    /// deletes the last confirmed batch meanwhile; returns what was
    /// deleted (and how many rows were claimed). The batch just sent
    /// stays claimed until the next cycle deletes it, unless something of
    /// it was refused or given up, or the pool is too small to overlap:
    /// then it is finished here too.
    async fn cycle(&self, batch: i64) -> Result<Sent, sqlx::Error> {
        let behind = self.behind.lock().await.take();
        let ahead = self.ahead.lock().await.take();
        let claimed = match ahead {
            Some(claimed) => Ok(claimed),
            None => self.claim(batch).await,
        };
        let Claimed { tx, rows } = match claimed {
            Ok(claimed) => claimed,
            // The failed claim is counted on the next cycle; the
            // confirmed batch is deleted if the database lets it.
            Err(err) if behind.is_some() => return finish_behind(behind).await.map_err(|_| err),
            Err(err) => return Err(err),
        };
        if rows.is_empty() {
            tx.rollback().await?;
            return finish_behind(behind).await;
        }
        // A full batch: more rows likely wait. The next batch is claimed
        // (on another connection) while this one is out, and sent once
        // this one is confirmed, so batches still go in order.
        let full = self.overlap && rows.len() as i64 >= batch;
        let (sent, next, finished) = tokio::join!(
            send::send(rows),
            async {
                if full {
                    // A failed claim ahead is claimed again (and counted) by the next cycle.
                    self.claim(batch).await.ok()
                } else {
                    None
                }
            },
            finish_behind(behind)
        );
        *self.ahead.lock().await = next;
        let confirmed = Confirmed { tx, sent };
        let finished = match finished {
            Ok(finished) => finished,
            Err(err) => {
                // Tried again on the next cycle, with the batch just sent
                // waiting behind it.
                *self.behind.lock().await = Some(confirmed);
                return Err(err);
            }
        };
        if self.overlap && confirmed.sent.clean() {
            let claimed = confirmed.sent.claimed;
            *self.behind.lock().await = Some(confirmed);
            return Ok(Sent {
                claimed,
                ..finished
            });
        }
        let claimed = confirmed.sent.claimed;
        Ok(Sent {
            claimed,
            ..confirmed.finish().await?.and(finished)
        })
    }

    async fn wait(&self, poll: Duration) {
        if !self.listen {
            return tokio::time::sleep(poll).await;
        }
        self.runtime.get_or_init(tokio::runtime::Handle::current);
        let mut listener = self.listener.lock().await;
        if listener.is_none() {
            if let Ok(mut made) = PgListener::connect_with(&self.pool).await {
                if made.listen(CHANNEL).await.is_ok() {
                    *listener = Some(made);
                }
            }
        }
        match listener.as_mut() {
            Some(made) => {
                // A broken listener is made again on the next wait.
                if let Ok(Err(_)) = tokio::time::timeout(poll, made.recv()).await {
                    *listener = None;
                }
            }
            None => tokio::time::sleep(poll).await,
        }
    }
}

/// Deletes a batch's delivered rows, marks its unsendable ones, and
/// commits, which ends their claim.
async fn finish(mut tx: Transaction<'static, Postgres>, sent: &Sent) -> Result<(), sqlx::Error> {
    if !sent.delivered.is_empty() || !sent.poison.is_empty() {
        // A DELETE lost in a crash only sends its rows again (same ids):
        // no need to wait for the disk.
        sqlx::query("SET LOCAL synchronous_commit TO OFF")
            .execute(&mut *tx)
            .await?;
    }
    if !sent.delivered.is_empty() {
        sqlx::query("DELETE FROM eventlib_outbox WHERE seq = ANY($1)")
            .bind(&sent.delivered)
            .execute(&mut *tx)
            .await?;
    }
    for (seq, reason) in &sent.poison {
        sqlx::query("UPDATE eventlib_outbox SET error = $2 WHERE seq = $1")
            .bind(seq)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

impl Store for PgStore {
    fn cycle(&self, batch: i64) -> Fut<'_, Result<Sent, sqlx::Error>> {
        Box::pin(PgStore::cycle(self, batch))
    }

    fn backlog(&self) -> Fut<'_, Result<i64, sqlx::Error>> {
        Box::pin(async move {
            sqlx::query_scalar("SELECT count(*) FROM eventlib_outbox WHERE error IS NULL")
                .fetch_one(&self.pool)
                .await
        })
    }

    fn wait(&self, poll: Duration) -> Fut<'_, ()> {
        Box::pin(PgStore::wait(self, poll))
    }

    fn release(&self) -> Fut<'_, Result<Sent, sqlx::Error>> {
        Box::pin(async move {
            if let Some(claimed) = self.ahead.lock().await.take() {
                let _ = claimed.tx.rollback().await;
            }
            // Closed here, on the runtime, rather than wherever the relay is dropped.
            self.listener.lock().await.take();
            let behind = self.behind.lock().await.take();
            finish_behind(behind).await
        })
    }
}
