//! The relay: moves committed outbox rows to the installed transport with
//! their original event ids (`send`), and lets its database side delete
//! them once the transport confirmed. One loop for every database; each
//! database module gives its [`Store`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::publish::{self, Publisher};
use crate::send::Sent;
use crate::stats::{Counters, Failure, RelayStats};

/// A boxed, sendable future: what a [`Store`] returns.
pub(crate) type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One database's side of the relay.
pub(crate) trait Store: Send + Sync + 'static {
    /// Claims up to `batch` committed rows, hands them to the dispatcher
    /// ([`send`](crate::send)), and, once the transport confirmed them,
    /// deletes the delivered ones (marks the unsendable ones) in one
    /// database transaction; a store may leave the confirmation and the
    /// `DELETE` of a batch to its next cycle. `relay` is the relay's
    /// name, for a store that lets one relay at a time send
    /// ([`Sent::standby`]). Clones of a relay share their store, and the
    /// relay lets one cycle (or release) at a time run on it.
    fn cycle<'a>(&'a self, batch: i64, relay: &'a str) -> Fut<'a, Result<Sent, sqlx::Error>>;
    /// How many rows wait to be sent (rows marked unsendable excluded).
    fn backlog(&self) -> Fut<'_, Result<i64, sqlx::Error>>;
    /// Clears the mark of the rows marked because their event was not
    /// linked into the relay's program (see [`NOT_LINKED`](crate::send::NOT_LINKED)) whose
    /// event is one of `names`, so that they are sent; returns how many.
    fn relink<'a>(&'a self, names: &'a [String]) -> Fut<'a, Result<u64, sqlx::Error>>;
    /// Waits for new rows: a notification (if the store listens), or
    /// `poll` at most.
    fn wait(&self, poll: Duration) -> Fut<'_, ()>;
    /// When the relay stops cycling: waits (`grace` at most, if given)
    /// for the transport to confirm a batch handed over, and deletes the
    /// rows of a confirmed batch that are not deleted yet (returning
    /// them); a batch not confirmed within `grace` keeps its rows
    /// ([`Sent::unconfirmed`]). Lets go of rows claimed ahead of the next
    /// cycle. A store with a lease ([`Sent::standby`]) lets go of it.
    fn release<'a>(
        &'a self,
        relay: &'a str,
        grace: Option<Duration>,
    ) -> Fut<'a, Result<Sent, sqlx::Error>>;
}

/// How a relay runs.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Rows claimed per database transaction (at least 1: a smaller
    /// value counts as 1).
    pub batch: i64,
    /// The longest wait between two looks at the table (the fallback when
    /// no notification comes, and SQLite's only wake-up); at least 1 ms.
    pub poll: Duration,
    /// The longest wait after a failure (doubling from 50 ms); at least
    /// 50 ms.
    pub max_backoff: Duration,
    /// PostgreSQL: wake on `LISTEN eventlib_outbox` as soon as a
    /// transaction that wrote rows commits (default `true`). Off, the
    /// relay only polls every `poll`: for a connection pooler that does
    /// not keep a session for `LISTEN` (PgBouncer in transaction mode).
    /// SQLite always polls.
    pub listen: bool,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            batch: 1_000,
            poll: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
            listen: true,
        }
    }
}

/// The names of the events linked into this program.
fn linked() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        eventlib::registry()
            .events()
            .map(|event| event.name().to_owned())
            .collect()
    })
}

/// How long a stopping relay waits for the transport to confirm the batch
/// it is sending (Redis may be down): past that it stops, and the batch's
/// rows stay in the table.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Resolves once [`RelayTask::stop`] was called; never when the task was
/// dropped without it (the relay then runs for the life of the runtime).
async fn stop_asked(stopped: &mut tokio::sync::watch::Receiver<bool>) {
    if stopped.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The first wait after a failure, doubled on each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// How often a running relay counts its backlog, at most.
const COUNT_EVERY: Duration = Duration::from_secs(1);

/// The pause after a backlog count that took `took`: [`COUNT_EVERY`], or
/// twenty times the count when that is longer. Counting reads every
/// waiting row; on a backlog of millions a count every second would take
/// a good part of the database's time while the relay catches up, so it
/// takes at most a twentieth.
fn count_pause(took: Duration) -> Duration {
    COUNT_EVERY.max(took.saturating_mul(20))
}

/// Moves committed outbox rows to the installed transport. Made by
/// `postgres::relay` or `sqlite::relay`; [`Relay::spawn`] runs it as a task,
/// [`Relay::drain`] moves what is there now. Clones share their counters
/// and take turns at the table: a `drain` called while a spawned clone
/// runs waits for the batch in hand, and no row is sent twice.
#[derive(Clone)]
pub struct Relay {
    store: Arc<dyn Store>,
    /// Held by a cycle or a release of the store from start to end:
    /// clones share the store, and each cycle takes over what the last
    /// one left (a batch handed over and not yet deleted, a batch claimed
    /// ahead). Two at once would each leave theirs, one over the other,
    /// and a batch already handed to the transport would lose its claim
    /// and be sent again.
    turn: Arc<tokio::sync::Mutex<()>>,
    options: RelayOptions,
    counters: Arc<Counters>,
    name: String,
    /// Where [`Relay::publish_stats`] writes: a Redis server and a stream key.
    publish: Option<(eventlib::redis::Server, String)>,
    /// How many spawned clones publish the stats: the last one to stop
    /// removes the field, not one that stops while another still runs.
    publishing: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("name", &self.name)
            .field("options", &self.options)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Relay {
    pub(crate) fn new(store: impl Store, options: RelayOptions) -> Self {
        // A batch of 0 rows would never move one, a poll of 0 would query
        // the table without a pause, and a backoff of 0 would hammer a
        // database that is down.
        let options = RelayOptions {
            batch: options.batch.max(1),
            poll: options.poll.max(Duration::from_millis(1)),
            max_backoff: options.max_backoff.max(FIRST_BACKOFF),
            ..options
        };
        Relay {
            store: Arc::new(store),
            turn: Arc::default(),
            options,
            counters: Arc::default(),
            publishing: Arc::default(),
            name: publish::default_name(),
            publish: None,
        }
    }

    /// Names this relay in its published stats and, on SQLite, in the
    /// outbox's lease (default `<hostname>:<pid>`). Give each relay a name
    /// of its own: relays of one name write over each other's stats.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The relay's name (see [`Relay::named`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes a running relay ([`Relay::spawn`]) write its stats to Redis
    /// for the operator's tools: every 5 s, the field of its
    /// [name](Relay::named) in the hash `<stream>:relays` is set to its
    /// [`RelayFigures`](eventlib::redis::RelayFigures) as JSON (from its
    /// [`RelayStats`]), which `eventlib status`, the dashboard and
    /// [`Operator::relays`](eventlib::redis::Operator::relays) read; the
    /// key expires 15 s after the last write; [`RelayTask::stop`] removes
    /// the field, once no other spawned clone of the relay runs. `stream` is the stream key of the Redis transport
    /// (`eventlib:events` by default). A failed write, or one Redis does
    /// not answer within 3 s, is counted in
    /// [`RelayStats::publish_errors`] and tried again 5 s later; no event
    /// waits for it.
    ///
    /// `server` is what the Redis transport is given: a `redis://` URL,
    /// a Redis Cluster (`redis+cluster://` with its seeds: the hash is
    /// written on the node that serves it), or a
    /// [`Server`](eventlib::redis::Server) with TLS certificates
    /// (`rediss://`, eventlib's `redis-tls` feature).
    pub fn publish_stats(
        mut self,
        server: impl Into<eventlib::redis::Server>,
        stream: impl Into<String>,
    ) -> Self {
        self.publish = Some((server.into(), stream.into()));
        self
    }

    /// What this relay (and its clones) did so far, with its backlog as
    /// last counted.
    pub fn stats(&self) -> RelayStats {
        self.counters.snapshot()
    }

    /// Counts the committed rows waiting to be sent now; the count also
    /// goes to [`RelayStats::backlog`] and to the gauge
    /// `eventlib_outbox_backlog` (feature `metrics`).
    pub async fn backlog(&self) -> Result<u64, Error> {
        let backlog = u64::try_from(self.store.backlog().await?).unwrap_or(0);
        self.counters.backlog(backlog);
        Ok(backlog)
    }

    /// One cycle: claims, sends, and deletes; returns how many rows it
    /// moved (rows marked unsendable are not), or `None` when no row
    /// waited.
    async fn once(&self) -> Result<Option<usize>, Error> {
        let mut sent = {
            let _turn = self.turn.lock().await;
            self.store.cycle(self.options.batch, &self.name).await?
        };
        let c = &self.counters;
        let moved = sent.delivered.len();
        let dealt_with = moved + sent.poison.len();
        c.batch(&sent);
        if let Some(holder) = sent.standby.take() {
            c.standing_by(Some(&holder));
            return Err(Error::StandingBy { holder });
        }
        c.standing_by(None);
        if let Some(err) = sent.refused {
            c.failed(
                Failure::Refused,
                format!("the dispatcher refused an event: {err}"),
            );
            return Err(Error::Event(err));
        }
        if sent.unconfirmed {
            self.given_up();
            return Err(Error::Unconfirmed);
        }
        Ok((sent.claimed > 0 || dealt_with > 0).then_some(moved))
    }

    /// [`Relay::once`], with a database failure counted.
    async fn counted_once(&self) -> Result<Option<usize>, Error> {
        let outcome = self.once().await;
        if let Err(Error::Database(db)) = &outcome {
            self.database_failed(db);
        }
        outcome
    }

    fn database_failed(&self, err: &sqlx::Error) {
        self.counters
            .failed(Failure::Database, crate::error::described(err));
    }

    /// The transport gave an event of a batch up: counted, the rows stay.
    fn given_up(&self) {
        self.counters.failed(
            Failure::Unconfirmed,
            "the transport gave an event of the batch up; its rows stay".to_owned(),
        );
    }

    /// The store's [`release`](Store::release), with what it deleted
    /// counted (and a failure, or a batch not confirmed: given up, or not
    /// confirmed within `grace` when the relay stops); returns how many
    /// rows it moved (rows marked unsendable are not).
    /// A relay stopping while a clone's cycle holds the store (Redis
    /// down) waits for its turn `grace` at most, and then leaves the
    /// store's batches, and a lease, to that clone.
    async fn release(&self, grace: Option<Duration>) -> Result<u64, sqlx::Error> {
        let _turn = match grace {
            None => self.turn.lock().await,
            Some(grace) => match tokio::time::timeout(grace, self.turn.lock()).await {
                Ok(turn) => turn,
                Err(_) => return Ok(0),
            },
        };
        match self.store.release(&self.name, grace).await {
            Ok(sent) => {
                let moved = sent.delivered.len();
                self.counters.batch(&sent);
                if sent.unconfirmed {
                    match grace {
                        Some(_) => self.abandoned(),
                        None => self.given_up(),
                    }
                }
                Ok(moved as u64)
            }
            Err(err) => {
                self.database_failed(&err);
                Err(err)
            }
        }
    }

    /// Clears the marks an older program left on rows whose event it did
    /// not link, when this program links it (see [`NOT_LINKED`](crate::send::NOT_LINKED)).
    async fn relink(&self) {
        match self.store.relink(linked()).await {
            Ok(0) => {}
            Ok(rows) => self.counters.relinked(rows),
            Err(err) => self.database_failed(&err),
        }
    }

    /// Moves every row committed now, batch after batch, and returns how
    /// many it moved, as [`RelayStats::moved`] counts them (a row marked
    /// unsendable is counted in [`RelayStats::unsendable`] instead); the
    /// first failure stops it. On SQLite, while another
    /// relay holds the outbox, it moves nothing and returns
    /// [`Error::StandingBy`]. Rows an older program
    /// marked because it did not link their event are sent too, when
    /// this program links it.
    ///
    /// It waits for the transport to confirm each batch: with Redis
    /// unreachable, until Redis is back (the producer keeps the events
    /// and sends them then). To bound it, wrap it in
    /// `tokio::time::timeout`: the rows of a batch not confirmed stay in
    /// the table and are sent again, under the same ids, by the next
    /// cycle of a relay; the producer still sends the copy it holds when
    /// Redis is back, so the event may reach the stream twice, and
    /// workers with once-per-event-id run its handlers once.
    pub async fn drain(&self) -> Result<u64, Error> {
        self.relink().await;
        let mut moved = 0;
        let outcome = loop {
            match self.counted_once().await {
                Ok(None) => break Ok(()),
                Ok(Some(n)) => moved += n as u64,
                Err(err) => break Err(err),
            }
        };
        // The last confirmed batch is deleted here: a failure to is the
        // drain's too.
        let released = self.release(None).await;
        outcome?;
        Ok(moved + released?)
    }

    /// Runs the relay as tasks on the current tokio runtime until
    /// [`RelayTask::stop`]: it sends what is committed, then waits for a
    /// notification or the poll interval; on a failure (database or
    /// transport down) it counts it, backs off and tries again, for ever.
    /// Beside it, its backlog is counted every second, or less often when
    /// a count takes over 50 ms (and its stats written to Redis every 5 s
    /// with [`Relay::publish_stats`]).
    ///
    /// Dropping the [`RelayTask`] without calling `stop` leaves the relay
    /// running for the life of the runtime.
    #[must_use = "the relay runs until `RelayTask::stop`; `let _ = relay.spawn()` runs it for the \
                  life of the runtime"]
    pub fn spawn(&self) -> RelayTask {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let sending = tokio::spawn(self.clone().send_loop(stopped.clone()));
        let publisher = self.publish.as_ref().map(|(server, stream)| {
            Arc::new(Publisher::new(server.clone(), stream, self.name.clone()))
        });
        if publisher.is_some() {
            self.publishing
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let counting = tokio::spawn(self.clone().stats_loop(publisher, stopped));
        RelayTask {
            stop,
            tasks: vec![sending, counting],
        }
    }

    async fn send_loop(self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        let mut backoff = FIRST_BACKOFF;
        // When the transport's confirmations stop being waited for, once
        // a stop is asked.
        let mut give_up_at = None;
        while !*stopped.borrow() {
            let once = self.counted_once();
            tokio::pin!(once);
            let outcome = tokio::select! {
                outcome = &mut once => outcome,
                () = stop_asked(&mut stopped) => {
                    let at = *give_up_at.insert(tokio::time::Instant::now() + STOP_GRACE);
                    match tokio::time::timeout_at(at, once).await {
                        Ok(outcome) => outcome,
                        Err(_) => {
                            self.abandoned();
                            break;
                        }
                    }
                }
            };
            let pause = match outcome {
                // Another relay sends (SQLite): look again after `poll`.
                Ok(None) | Err(Error::StandingBy { .. }) => {
                    backoff = FIRST_BACKOFF;
                    None
                }
                Ok(Some(_)) => {
                    backoff = FIRST_BACKOFF;
                    continue;
                }
                Err(_) => {
                    let pause = backoff;
                    backoff = (backoff * 2).min(self.options.max_backoff);
                    Some(pause)
                }
            };
            tokio::select! {
                () = stop_asked(&mut stopped) => {}
                _ = async {
                    match pause {
                        Some(pause) => tokio::time::sleep(pause).await,
                        None => self.store.wait(self.options.poll).await,
                    }
                } => {}
            }
        }
        // A failure is counted; the rows stay, for the next relay.
        let at = give_up_at.unwrap_or_else(|| tokio::time::Instant::now() + STOP_GRACE);
        let grace = at.saturating_duration_since(tokio::time::Instant::now());
        let _ = self.release(Some(grace)).await;
    }

    /// Counts the backlog (see [`count_pause`]) and publishes the stats
    /// when asked.
    async fn stats_loop(
        self,
        publisher: Option<Arc<Publisher>>,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut published: Option<tokio::time::Instant> = None;
        let mut count_at = tokio::time::Instant::now();
        while !*stopped.borrow() {
            // A failed count leaves the last one (with its time) in the
            // stats: the send loop counts the database's failures.
            let counting = tokio::time::Instant::now();
            if counting >= count_at {
                self.relink().await;
                let _ = self.backlog().await;
                count_at = counting + count_pause(counting.elapsed());
            }
            if let Some(publisher) = &publisher {
                if published.is_none_or(|at| at.elapsed() >= publish::EVERY) {
                    published = Some(tokio::time::Instant::now());
                    let (p, stats) = (publisher.clone(), self.stats());
                    self.published(publish::within(move || p.publish(&stats)).await);
                }
            }
            tokio::select! {
                () = stop_asked(&mut stopped) => {}
                _ = tokio::time::sleep(COUNT_EVERY) => {}
            }
        }
        if let Some(publisher) = publisher {
            let last = self
                .publishing
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
                == 1;
            if last {
                self.published(publish::within(move || publisher.withdraw()).await);
            }
        }
    }

    /// The relay stopped before the transport confirmed the batch it was
    /// sending: its rows stay, to be sent again under the same ids.
    fn abandoned(&self) {
        self.counters.failed(
            Failure::Unconfirmed,
            format!(
                "stopped before the transport confirmed the batch being sent (waited \
                 {STOP_GRACE:?}); its rows stay and are sent again, under the same ids, by the \
                 next relay"
            ),
        );
    }

    fn published(&self, outcome: Result<(), String>) {
        let Err(err) = outcome else {
            return;
        };
        self.counters.failed(
            Failure::Publish,
            format!("the relay's stats could not be written to Redis: {err}"),
        );
    }
}

/// A relay running as tasks; see [`Relay::spawn`].
#[derive(Debug)]
pub struct RelayTask {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RelayTask {
    /// Stops the relay after the batch it is sending, and waits for it
    /// (and for its field to be removed from Redis, with
    /// [`Relay::publish_stats`]: 3 s at most). A batch the transport does not confirm
    /// within 5 s (Redis down) is not waited for: its rows stay in the
    /// table, and the next relay sends them again under the same ids
    /// (counted in [`RelayStats::unconfirmed`](crate::RelayStats::unconfirmed)).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_backlog_count_takes_at_most_a_twentieth_of_the_time() {
        assert_eq!(count_pause(Duration::from_millis(3)), COUNT_EVERY);
        assert_eq!(count_pause(Duration::from_millis(50)), COUNT_EVERY);
        assert_eq!(
            count_pause(Duration::from_millis(400)),
            Duration::from_secs(8)
        );
    }
}
