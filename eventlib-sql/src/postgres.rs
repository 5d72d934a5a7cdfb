//! The outbox on PostgreSQL: [`log()`] inside the caller's transaction,
//! [`migrate`] for the table, [`relay`] to move committed rows. Several
//! relays may run at once: each claims its batch with
//! `FOR UPDATE SKIP LOCKED`, and wakes on `LISTEN eventlib_outbox` (the
//! table's trigger notifies on commit), polling as a fallback.

use std::time::Duration;

use eventlib::outbox::Prepared;
use eventlib::{Event, EventId};
use serde_json::Value;
use sqlx::postgres::{PgConnection, PgListener, PgPool, PgPoolOptions, Postgres};
use sqlx::{Connection, Transaction};

use crate::error::Error;
use crate::relay::{Fut, Relay, RelayOptions, Store};
use crate::send::{self, Row, Sent};

/// The migration that makes the outbox table and its notify trigger
/// (idempotent).
pub const MIGRATION: &str = include_str!("../migrations/postgres.sql");

/// The channel the table's trigger notifies on commit.
pub const CHANNEL: &str = "eventlib_outbox";

/// Applies [`MIGRATION`] in one transaction: services that start at the
/// same time and each call it apply it one after another.
pub async fn migrate(pool: &PgPool) -> Result<(), Error> {
    sqlx::raw_sql(MIGRATION).execute(pool).await?;
    Ok(())
}

/// Validates `event` as `log!` does and writes it to the outbox inside the
/// caller's transaction (`&mut tx`): it is sent once the transaction
/// commits, and never if it rolls back. A connection outside a transaction
/// begun with sqlx is refused with [`Error::NotInTransaction`].
pub async fn log<T: Event>(conn: &mut PgConnection, event: T) -> Result<EventId, Error> {
    write(conn, eventlib::outbox::prepare(event)?).await
}

/// [`log()`] for an event given by name, with its data as JSON.
pub async fn log_json(conn: &mut PgConnection, name: &str, data: Value) -> Result<EventId, Error> {
    write(conn, eventlib::outbox::prepare_json(name, data)?).await
}

async fn write(conn: &mut PgConnection, event: Prepared) -> Result<EventId, Error> {
    if !conn.is_in_transaction() {
        return Err(Error::NotInTransaction);
    }
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
/// batch it hands to the transport, the next one claimed meanwhile, and
/// the one handed before, whose rows it deletes once the transport
/// confirmed it. With a pool of fewer than three connections it works one
/// batch at a time. A spawned relay that listens
/// ([`RelayOptions::listen`]) keeps one more connection, of its own, for
/// `LISTEN`: made with the pool's connect options, outside the pool, so
/// that it never takes a connection a claim needs.
pub fn relay(pool: PgPool, options: RelayOptions) -> Relay {
    let overlap = pool.options().get_max_connections() >= 3;
    Relay::new(
        PgStore {
            pool,
            listen: options.listen,
            overlap,
            listener: tokio::sync::Mutex::new(None),
            ahead: tokio::sync::Mutex::new(None),
            out: tokio::sync::Mutex::new(None),
            undeleted: tokio::sync::Mutex::new(None),
            resume: std::sync::Mutex::new(Resume::default()),
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
    /// batch and deleting the last one while a batch is handed over take.
    overlap: bool,
    /// Connected on the first wait; dropped on an error and made again.
    listener: tokio::sync::Mutex<Option<PgListener>>,
    /// The next batch, claimed while the previous one was out.
    ahead: tokio::sync::Mutex<Option<Claimed>>,
    /// The last batch handed to the transport: the next cycle hands its
    /// own batch over while this one waits for the transport to confirm
    /// it, then deletes its rows.
    out: tokio::sync::Mutex<Option<Out>>,
    /// Confirmed rows whose `DELETE` failed (its transaction, and so its
    /// locks, are gone): deleted before anything else is claimed, so that
    /// this relay does not send them again.
    undeleted: tokio::sync::Mutex<Option<Sent>>,
    /// Where the next claim starts.
    resume: std::sync::Mutex<Resume>,
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
        self.out.get_mut().take();
    }
}

/// How often a relay that keeps claiming full batches starts a claim from
/// the table's first row again.
const RESCAN_EVERY: Duration = Duration::from_secs(1);

/// Where a claim starts. A claim that starts from the first row walks over
/// every row another batch holds locked (and, until vacuum, every deleted
/// one), so while batches come back full each claim starts after the last
/// row claimed. A row can still commit behind that point (its transaction
/// took its `seq` earlier and committed later), and another relay's or a
/// failed batch's rows can be left there: claims start from the first row
/// again after a short or failed batch, and at least every
/// [`RESCAN_EVERY`].
struct Resume {
    /// The last `seq` of the latest full batch claimed (0: from the first row).
    after: i64,
    /// When the next claim starts from the first row whatever `after` says.
    rescan_at: std::time::Instant,
}

impl Default for Resume {
    fn default() -> Self {
        Resume {
            after: 0,
            rescan_at: std::time::Instant::now() + RESCAN_EVERY,
        }
    }
}

impl Resume {
    /// Where the next claim starts: after `after`, or from the first row
    /// when a rescan is due.
    fn start(&mut self) -> i64 {
        let now = std::time::Instant::now();
        if now < self.rescan_at {
            return self.after;
        }
        self.rescan_at = now + RESCAN_EVERY;
        0
    }

    /// A claim came back with `rows`, `batch` at most.
    fn claimed(&mut self, rows: &[Row], batch: i64) {
        self.after = match rows.last() {
            Some(last) if rows.len() as i64 >= batch => last.seq,
            _ => 0,
        };
    }

    /// Rows before `after` were left (a batch failed): the next claim
    /// starts from the first row.
    fn rewind(&mut self) {
        self.after = 0;
        self.rescan_at = std::time::Instant::now();
    }
}

/// A claimed batch: its rows stay locked by its transaction until it ends,
/// so other relays skip them.
struct Claimed {
    tx: Transaction<'static, Postgres>,
    rows: Vec<Row>,
}

/// A batch handed to the transport, its rows claimed by `tx` until the
/// transport confirmed it and they are deleted.
struct Out {
    tx: Transaction<'static, Postgres>,
    handed: send::Handed,
}

/// A batch the transport confirmed, its rows still claimed by `tx`.
struct Confirmed {
    tx: Transaction<'static, Postgres>,
    sent: Sent,
}

impl Confirmed {
    /// Deletes (and marks) its rows and commits; returns what it did, or
    /// on a failure the rows left to delete and mark.
    async fn finish(self) -> Result<Sent, (sqlx::Error, Sent)> {
        let sent = Sent {
            claimed: 0,
            ..self.sent
        };
        match finish(self.tx, &sent).await {
            Ok(()) => Ok(sent),
            Err(err) => Err((
                err,
                Sent {
                    refused: None,
                    unconfirmed: false,
                    ..sent
                },
            )),
        }
    }
}

impl PgStore {
    /// Waits for the transport to confirm `out`, if there is one, then
    /// deletes its rows. A batch something of which was given up keeps its
    /// rows (its unsendable ones are marked), and the next claim starts
    /// from the first row.
    async fn settle(&self, out: Option<Out>) -> Result<Sent, sqlx::Error> {
        let Some(Out { tx, handed }) = out else {
            return Ok(Sent::default());
        };
        let sent = handed.confirmed().await;
        if !sent.clean() {
            self.resume().rewind();
        }
        self.finish_or_keep(Confirmed { tx, sent }).await
    }

    /// [`Confirmed::finish`]; what a failure leaves waits in
    /// [`PgStore::undeleted`].
    async fn finish_or_keep(&self, confirmed: Confirmed) -> Result<Sent, sqlx::Error> {
        match confirmed.finish().await {
            Ok(sent) => Ok(sent),
            Err((err, left)) => {
                self.keep_undeleted(left).await;
                Err(err)
            }
        }
    }

    /// Adds `left`, rows a failed `DELETE` left, to [`PgStore::undeleted`].
    async fn keep_undeleted(&self, left: Sent) {
        let mut undeleted = self.undeleted.lock().await;
        *undeleted = Some(match undeleted.take() {
            Some(other) => left.and(other),
            None => left,
        });
    }

    /// Deletes the rows left by a failed `DELETE`, in a transaction of its
    /// own; they stay left if it fails too.
    async fn delete_undeleted(&self, left: Sent) -> Result<Sent, sqlx::Error> {
        let done = async {
            let tx = self.pool.begin_with(BEGIN).await?;
            finish(tx, &left).await
        }
        .await;
        match done {
            Ok(()) => Ok(left),
            Err(err) => {
                self.keep_undeleted(left).await;
                Err(err)
            }
        }
    }

    /// Claims up to `batch` rows where [`Resume`] says.
    async fn claim(&self, batch: i64) -> Result<Claimed, sqlx::Error> {
        self.runtime.get_or_init(tokio::runtime::Handle::current);
        let after = self.resume().start();
        let claimed = async {
            // The claim's transaction is the one that deletes the rows once
            // they are sent.
            let mut tx = self.pool.begin_with(BEGIN).await?;
            let mut rows = claim_after(&mut tx, batch, after).await?;
            if rows.is_empty() && after > 0 {
                // Nothing after the last batch: the rows that wait (if any)
                // are before it.
                rows = claim_after(&mut tx, batch, 0).await?;
            }
            Ok(Claimed { tx, rows })
        }
        .await;
        match &claimed {
            Ok(claimed) => self.resume().claimed(&claimed.rows, batch),
            Err(_) => self.resume().rewind(),
        }
        claimed
    }

    fn resume(&self) -> std::sync::MutexGuard<'_, Resume> {
        self.resume.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims a batch (or takes the one claimed ahead) and hands it to
    /// the transport; meanwhile, claims the next batch and settles the
    /// one handed in the last cycle (waits for its confirmation and
    /// deletes its rows). Returns what was deleted, and how many rows were
    /// claimed. The batch just handed over stays claimed until the next
    /// cycle settles it, unless something of it was refused or the pool
    /// is too small to overlap: then it is settled here too.
    ///
    /// Batches are handed over in order. One that the transport gives up
    /// is sent again after the later ones already handed over.
    async fn cycle(&self, batch: i64) -> Result<Sent, sqlx::Error> {
        let left = self.undeleted.lock().await.take();
        if let Some(left) = left {
            // Nothing is claimed (and sent) while they wait.
            return self.delete_undeleted(left).await;
        }
        let out = self.out.lock().await.take();
        let ahead = self.ahead.lock().await.take();
        let claimed = match ahead {
            Some(claimed) => Ok(claimed),
            None => self.claim(batch).await,
        };
        let Claimed { tx, rows } = match claimed {
            Ok(claimed) => claimed,
            // The failed claim is counted on the next cycle; the batch
            // handed over is settled if the database lets it.
            Err(err) if out.is_some() => return self.settle(out).await.map_err(|_| err),
            Err(err) => return Err(err),
        };
        if rows.is_empty() {
            tx.rollback().await?;
            return self.settle(out).await;
        }
        // A full batch: more rows likely wait. The next batch is claimed
        // (on another connection) while this one is handed over.
        let full = self.overlap && rows.len() as i64 >= batch;
        let (handed, next, settled) = tokio::join!(
            send::hand(rows),
            async {
                if full {
                    // A failed claim ahead is claimed again (and counted) by the next cycle.
                    self.claim(batch).await.ok()
                } else {
                    None
                }
            },
            self.settle(out)
        );
        *self.ahead.lock().await = next;
        let out = Out { tx, handed };
        let claimed = out.handed.claimed();
        let settled = match settled {
            Ok(settled) => settled,
            Err(err) => {
                // Settled on the next cycle, once what the failed
                // `DELETE` left is deleted.
                *self.out.lock().await = Some(out);
                return Err(err);
            }
        };
        if self.overlap && out.handed.clean() {
            *self.out.lock().await = Some(out);
            return Ok(Sent { claimed, ..settled });
        }
        Ok(Sent {
            claimed,
            ..self.settle(Some(out)).await?.and(settled)
        })
    }

    async fn wait(&self, poll: Duration) {
        if !self.listen {
            return tokio::time::sleep(poll).await;
        }
        self.runtime.get_or_init(tokio::runtime::Handle::current);
        let mut listener = self.listener.lock().await;
        if listener.is_none() {
            // On a connection of its own: one of the pool's, kept for as
            // long as the relay runs, would be one less for its claims
            // (with a pool of one, none).
            let own = PgPoolOptions::new()
                .max_connections(1)
                .connect_lazy_with((*self.pool.connect_options()).clone());
            // Within the poll interval: a database slow to accept the
            // connection does not hold the relay longer than polling would.
            let made = tokio::time::timeout(poll, async {
                let mut made = PgListener::connect_with(&own).await?;
                made.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(made)
            })
            .await;
            if let Ok(Ok(made)) = made {
                *listener = Some(made);
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

/// How a transaction that claims or deletes rows begins.
///
/// A `DELETE` lost in a crash only sends its rows again (same ids), so the
/// commit need not wait for the disk.
///
/// Without fresh statistics on the table (a backlog written before
/// autovacuum analysed it, or while it was off), PostgreSQL plans with
/// guesses: the claim as a scan of every row after `seq` and a sort, the
/// `DELETE` as a scan of the whole table. Each batch would then cost the
/// whole backlog. With sorts and sequential scans switched off, both read
/// the key's index: in order, stopping after `batch` rows, and one range
/// per run of rows.
const BEGIN: &str = "BEGIN; SET LOCAL synchronous_commit TO OFF; \
                     SET LOCAL enable_sort TO off; SET LOCAL enable_seqscan TO off";

/// Locks up to `batch` unlocked rows whose `seq` is above `after`, in order.
async fn claim_after(
    tx: &mut Transaction<'static, Postgres>,
    batch: i64,
    after: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT seq, envelope FROM eventlib_outbox WHERE error IS NULL \
         AND seq > $2 ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(batch)
    .bind(after)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(Row::from).collect())
}

/// `seqs` as runs of consecutive numbers: the first and the last of each
/// run, in order.
fn runs(seqs: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let (mut firsts, mut lasts) = (Vec::new(), Vec::<i64>::new());
    for seq in sorted {
        match lasts.last_mut() {
            Some(last) if last.checked_add(1) == Some(seq) => *last = seq,
            _ => {
                firsts.push(seq);
                lasts.push(seq);
            }
        }
    }
    (firsts, lasts)
}

/// Deletes a batch's delivered rows, marks its unsendable ones, and
/// commits, which ends their claim.
async fn finish(mut tx: Transaction<'static, Postgres>, sent: &Sent) -> Result<(), sqlx::Error> {
    if !sent.delivered.is_empty() {
        // By runs of consecutive `seq`s: a range of the key's index is read
        // in one pass, where a list is probed row by row (three times the
        // database's time for a batch). Every number of a run is the `seq`
        // of a row this batch sent, and `seq` is the key, so a run's range
        // holds those rows and no other.
        let (firsts, lasts) = runs(&sent.delivered);
        sqlx::query(
            "DELETE FROM eventlib_outbox o USING unnest($1::bigint[], $2::bigint[]) AS r(first, last) \
             WHERE o.seq BETWEEN r.first AND r.last",
        )
        .bind(&firsts)
        .bind(&lasts)
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
    fn cycle<'a>(&'a self, batch: i64, _relay: &'a str) -> Fut<'a, Result<Sent, sqlx::Error>> {
        // Relays share the table by row locks: none stands by.
        Box::pin(PgStore::cycle(self, batch))
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
            // the index). Without sequential scans, as in a claim: on a
            // table without statistics the probe would read every row.
            let mut tx = self
                .pool
                .begin_with("BEGIN; SET LOCAL enable_seqscan TO off")
                .await?;
            let marked: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM eventlib_outbox WHERE error IS NOT NULL \
                 AND substr(error, 1, length($1)) = $1)",
            )
            .bind(send::NOT_LINKED)
            .fetch_one(&mut *tx)
            .await?;
            if !marked {
                tx.rollback().await?;
                return Ok(0);
            }
            let done = sqlx::query(
                "UPDATE eventlib_outbox SET error = NULL WHERE error IS NOT NULL \
                 AND name = ANY($2) AND substr(error, 1, length($1)) = $1",
            )
            .bind(send::NOT_LINKED)
            .bind(names)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected())
        })
    }

    fn wait(&self, poll: Duration) -> Fut<'_, ()> {
        Box::pin(PgStore::wait(self, poll))
    }

    fn release<'a>(
        &'a self,
        _relay: &'a str,
        grace: Option<Duration>,
    ) -> Fut<'a, Result<Sent, sqlx::Error>> {
        Box::pin(async move {
            if let Some(claimed) = self.ahead.lock().await.take() {
                let _ = claimed.tx.rollback().await;
            }
            // Closed here, on the runtime, rather than wherever the relay is dropped.
            self.listener.lock().await.take();
            let Some(Out { tx, handed }) = self.out.lock().await.take() else {
                return Ok(Sent::default());
            };
            let confirmed = handed.confirmed();
            let sent = match grace {
                None => confirmed.await,
                Some(grace) => match tokio::time::timeout(grace, confirmed).await {
                    Ok(sent) => sent,
                    Err(_) => {
                        // The rows stay, for the next relay.
                        let _ = tx.rollback().await;
                        return Ok(Sent {
                            unconfirmed: true,
                            ..Sent::default()
                        });
                    }
                },
            };
            self.finish_or_keep(Confirmed { tx, sent }).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{runs, Resume, Row, RESCAN_EVERY};
    use std::time::Instant;

    #[test]
    fn delivered_rows_are_deleted_by_runs_of_consecutive_seqs() {
        assert_eq!(runs(&[]), (vec![], vec![]));
        assert_eq!(runs(&[7]), (vec![7], vec![7]));
        assert_eq!(runs(&[1, 2, 3, 4]), (vec![1], vec![4]));
        // Out of order (batches added together), repeated, with gaps.
        assert_eq!(
            runs(&[10, 11, 3, 1, 2, 5, 11, 13]),
            (vec![1, 5, 10, 13], vec![3, 5, 11, 13])
        );
    }

    fn rows(seqs: std::ops::RangeInclusive<i64>) -> Vec<Row> {
        seqs.map(|seq| Row::from((seq, "{}".to_owned()))).collect()
    }

    #[test]
    fn claims_go_on_after_full_batches_and_start_over_after_a_short_or_failed_one() {
        let mut resume = Resume::default();
        assert_eq!(resume.start(), 0);
        resume.claimed(&rows(1..=10), 10);
        assert_eq!(
            resume.after, 10,
            "a full batch: the next claim goes on after it"
        );
        assert_eq!(resume.start(), 10);
        resume.claimed(&rows(11..=15), 10);
        assert_eq!(resume.after, 0, "a short batch: the next claim starts over");
        resume.claimed(&rows(16..=25), 10);
        resume.rewind();
        assert_eq!(resume.start(), 0, "a failed batch: from the first row");
        resume.claimed(&[], 10);
        assert_eq!(resume.after, 0);
    }

    #[test]
    fn a_claim_starts_over_at_least_every_rescan_interval() {
        let mut resume = Resume::default();
        resume.claimed(&rows(1..=10), 10);
        assert_eq!(resume.start(), 10);
        resume.rescan_at = Instant::now();
        assert_eq!(resume.start(), 0, "the rescan is due");
        assert!(resume.rescan_at > Instant::now() + RESCAN_EVERY / 2);
        assert_eq!(resume.start(), 10, "and not again before the next interval");
    }
}
