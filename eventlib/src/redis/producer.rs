//! The producer side: [`RedisTransport`] sends the dispatcher's outbox to a
//! stream in pipelined `XADD` batches.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use redis::RedisError;

use crate::error::Error;
use crate::failure::{Failure, FailureKind};
use crate::record::Record;
use crate::redis::backoff::Backoff;
use crate::redis::conn::{describe, fault, Endpoint, Fault, Link};
use crate::redis::spool::{start_drain, FsyncPolicy, Reader, Said, Spool, SpoolAdmission, Tally};
use crate::redis::stats::{ProducerCounters, ProducerStats};
use crate::redis::{groups, wire, DEFAULT_STREAM};
use crate::registry::registry;
use crate::transport::{Admission, Outbox, Transport};

/// How long a producer whose connection Redis refuses (a wrong password,
/// an unknown user) waits before it tries to connect again; the events
/// logged meanwhile are given up.
const REFUSED_RETRY: Duration = Duration::from_secs(5);

/// Sends events to a Redis stream instead of handling them in this process.
///
/// Install it on the dispatcher; `log!` then validates each event and puts
/// it in the dispatcher's bounded queue as usual (waiting only when it is full),
/// and a thread of this transport sends the queue to the stream in
/// pipelined `XADD` batches. An event counts as delivered (and `flush()`
/// stops waiting for it) only once Redis has confirmed its `XADD`. While
/// Redis is unreachable the events wait in the queue, the thread reconnects
/// with backoff, and everything queued is sent when Redis is back; once the
/// queue is full, the dispatcher's [`Overflow`](crate::Overflow) policy
/// applies.
///
/// **The queue is in memory**: events Redis has not confirmed yet are lost
/// if the process dies. [`spool`](Self::spool) keeps them on disk instead.
///
/// An error that sending again cannot fix (a wrong password, `NOPERM`,
/// `WRONGTYPE` at the stream key, an unknown command) gives the events up
/// at once: each counts as dropped and reaches the error hook as
/// [`FailureKind::Undelivered`](crate::FailureKind::Undelivered), so that
/// `flush` and `shutdown` return promptly with them in their report.
///
/// ```no_run
/// use eventlib::redis::RedisTransport;
/// use eventlib::Dispatcher;
///
/// Dispatcher::builder()
///     .capacity(100_000)
///     .transport(RedisTransport::new("redis://:secret@127.0.0.1:6379/")?)
///     .install()?;
/// // log!(...) as usual; at exit:
/// let report = eventlib::shutdown(std::time::Duration::from_secs(10));
/// assert!(report.is_clean(), "{report}");
/// # Ok::<(), eventlib::Error>(())
/// ```
pub struct RedisTransport {
    endpoint: Endpoint,
    stream: String,
    batch: usize,
    max_len: Option<usize>,
    counters: Arc<ProducerCounters>,
    fsync: FsyncPolicy,
    segment_bytes: u64,
    spool: Option<Arc<Spool>>,
    /// Consumer groups to declare before the first entry is written.
    groups: Vec<String>,
}

static INSTALLED: OnceLock<Arc<ProducerCounters>> = OnceLock::new();

impl RedisTransport {
    /// A transport to the Redis server at `url`: `redis://[user][:password]@host[:port][/db]`,
    /// or `rediss://...` for TLS (feature `redis-tls`). Nothing is
    /// connected yet, so this succeeds while Redis is down; it fails only on
    /// a malformed URL, or a `rediss://` one without the `redis-tls`
    /// feature, with [`Error::Config`].
    pub fn new(url: &str) -> Result<Self, Error> {
        Ok(RedisTransport {
            endpoint: Endpoint::new(url)?,
            stream: DEFAULT_STREAM.to_owned(),
            batch: 256,
            max_len: None,
            counters: Arc::default(),
            fsync: FsyncPolicy::Never,
            segment_bytes: 16 << 20,
            spool: None,
            groups: linked_groups(),
        })
    }

    /// The consumer groups this producer declares before it writes its
    /// first event (default: the group of every handler linked into this
    /// binary). A declared group holds back trimming from then on, so it
    /// sees every event written after, even when its first worker starts
    /// later; a group declared and never run holds the stream until it is
    /// destroyed (`XGROUP DESTROY`). Name the groups whose handlers only
    /// the workers link; an empty list declares none. An invalid group
    /// name is [`Error::Config`].
    pub fn groups<I, S>(mut self, groups: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups.clear();
        for group in groups {
            let group = group.into();
            if let Err(reason) = crate::name::validate_group(&group) {
                return Err(Error::Config {
                    option: "groups",
                    reason: format!("invalid group `{group}`: {reason}"),
                });
            }
            if !self.groups.contains(&group) {
                self.groups.push(group);
            }
        }
        Ok(self)
    }

    /// The stream key (default `eventlib:events`).
    pub fn stream(mut self, key: impl Into<String>) -> Self {
        self.stream = key.into();
        self
    }

    /// How many events one pipelined round trip sends at most (default 256).
    pub fn batch_size(mut self, events: usize) -> Self {
        self.batch = events.max(1);
        self
    }

    /// Caps the stream at about `entries` (`XADD ... MAXLEN ~ entries`), a
    /// guard for when no worker runs for a long time. **Entries past the cap
    /// are removed whether handled or not**; workers trim handled entries
    /// without it. Off by default.
    pub fn max_len(mut self, entries: usize) -> Self {
        self.max_len = Some(entries);
        self
    }

    /// Keeps the outbox on disk, in segment files in `dir` (created if
    /// needed), instead of in memory only: `log!` writes each event there
    /// before it returns `Ok`, the sender reads them back from there, and
    /// a segment is deleted once Redis confirmed every event in it. Events
    /// a crash or a restart left in `dir` are sent first on the next start
    /// with the same `dir`, with their original event ids.
    ///
    /// Fails with [`Error::Config`] when `dir` cannot be created or
    /// written. Later, an event that cannot be written (disk full, the
    /// directory removed) is refused: `log!` returns [`Error::Transport`].
    /// One process per directory. See [`fsync`](Self::fsync) for what
    /// survives what, and `docs/distributed-processing.md` for the
    /// guarantees and the measured costs.
    ///
    /// ```no_run
    /// use eventlib::redis::{FsyncPolicy, RedisTransport};
    ///
    /// let transport = RedisTransport::new("redis://127.0.0.1/")?
    ///     .fsync(FsyncPolicy::Interval(std::time::Duration::from_millis(100)))
    ///     .spool("/var/lib/shop/eventlib-spool")?;
    /// eventlib::Dispatcher::builder().transport(transport).install()?;
    /// # Ok::<(), eventlib::Error>(())
    /// ```
    pub fn spool(mut self, dir: impl AsRef<Path>) -> Result<Self, Error> {
        self.spool = Some(Spool::open(dir.as_ref(), self.fsync, self.segment_bytes)?);
        Ok(self)
    }

    /// When the spool's writes are forced to the disk (default
    /// [`FsyncPolicy::Never`]: each event is with the operating system
    /// before `log!` returns, which survives a killed process but not a
    /// machine crash). Only matters with [`spool`](Self::spool).
    pub fn fsync(mut self, policy: FsyncPolicy) -> Self {
        self.fsync = policy;
        if let Some(spool) = self.spool.as_mut().and_then(Arc::get_mut) {
            spool.set_fsync(policy);
        }
        self
    }

    /// The size at which the spool starts a new segment file (default
    /// 16 MiB; at least 4 KiB). Only matters with [`spool`](Self::spool).
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes.max(4096);
        if let Some(spool) = self.spool.as_mut().and_then(Arc::get_mut) {
            spool.set_segment_bytes(self.segment_bytes);
        }
        self
    }

    /// The counters of this transport (live: read them at any time).
    pub fn stats(&self) -> ProducerStats {
        ProducerStats::read(&self.counters)
    }
}

/// The counters of the installed Redis transport, `None` when none runs.
pub fn producer_stats() -> Option<ProducerStats> {
    INSTALLED
        .get()
        .map(|counters| ProducerStats::read(counters))
}

impl Transport for RedisTransport {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn admission(&self) -> Option<Arc<dyn Admission>> {
        let spool = self.spool.as_ref()?;
        Some(Arc::new(SpoolAdmission(Arc::clone(spool))))
    }

    fn run(self: Box<Self>, outbox: Outbox) {
        let outbox = Arc::new(outbox);
        let source = match &self.spool {
            None => Source::Queue,
            Some(spool) => {
                let tally = Arc::new(Tally::new(Arc::clone(&outbox)));
                let drained = start_drain(&outbox, &tally);
                let reader = Reader::new(Arc::clone(spool));
                self.counters.set_spool_backlog(reader.backlog());
                Source::Spool {
                    reader,
                    spool: Arc::clone(spool),
                    tally,
                    drain_here: !drained,
                }
            }
        };
        let _ = INSTALLED.set(Arc::clone(&self.counters));
        Sender {
            link: Link::new(self.endpoint.clone(), Duration::from_secs(10)),
            transport: *self,
            outbox,
            source,
            refused: None,
            deferred: Vec::new(),
        }
        .run();
    }
}

/// The groups of the handlers linked into this binary.
fn linked_groups() -> Vec<String> {
    let mut groups: Vec<String> = crate::registry()
        .handlers()
        .map(|h| h.group().to_owned())
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// Where the sender takes events from.
enum Source {
    /// The dispatcher's queue (the in-memory outbox).
    Queue,
    /// The spool, read in order; the queue's records are only counted.
    Spool {
        reader: Reader,
        spool: Arc<Spool>,
        tally: Arc<Tally>,
        drain_here: bool,
    },
}

/// One event in a batch.
struct Item {
    envelope: Vec<u8>,
    origin: Origin,
}

enum Origin {
    Queued(Record),
    Spooled { recovered: bool },
}

/// The connection is refused for good (credentials): events are given up
/// until a try at `next_try` succeeds.
struct Refusal {
    reason: String,
    next_try: Instant,
    given_up: u64,
}

struct Sender {
    transport: RedisTransport,
    link: Link,
    outbox: Arc<Outbox>,
    source: Source,
    refused: Option<Refusal>,
    /// Outcomes of spooled events, told to the tally once the spool has
    /// recorded them: a process that exits when `flush` returns leaves no
    /// confirmed frame behind.
    deferred: Vec<(usize, Said)>,
}

impl Sender {
    /// Counts the outbox's depth, in the producer's stats and as a gauge.
    fn note_depth(&self, counters: &ProducerCounters) {
        let depth = self.outbox.depth() as u64;
        counters.set_depth(depth);
        #[cfg(feature = "metrics")]
        crate::meters::outbox_depth(&self.transport.stream, depth);
    }

    fn run(mut self) {
        let counters = Arc::clone(&self.transport.counters);
        counters.set_capacity(self.outbox.capacity() as u64);
        if let Source::Spool { spool, .. } = &self.source {
            if spool.found_bytes() > 0 {
                log::info!(
                    "eventlib: sending {} bytes of events an earlier run left in the spool `{}`",
                    spool.found_bytes(),
                    spool.dir().display()
                );
            }
        }
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
        let mut batch: Vec<Item> = Vec::new();
        let mut down_since: Option<Instant> = None;
        loop {
            if batch.is_empty() {
                self.fill(&mut batch);
                self.note_depth(&counters);
                if batch.is_empty() {
                    self.idle();
                    continue;
                }
            }
            let refused = match &mut self.refused {
                Some(refusal) if Instant::now() < refusal.next_try => {
                    refusal.given_up += batch.len() as u64;
                    Some(refusal.reason.clone())
                }
                _ => None,
            };
            let sent = match refused {
                Some(reason) => {
                    self.give_up(&mut batch, &reason);
                    None
                }
                None => Some(self.send(&batch)),
            };
            match sent {
                None => {}
                Some(Err(err)) if fault(&err) == Fault::Permanent => {
                    counters.add_failed_batch(1);
                    let reason = format!(
                        "Redis at {} refuses the producer: {}",
                        self.link.shown(),
                        describe(&err)
                    );
                    self.refuse(&reason, batch.len());
                    self.give_up(&mut batch, &reason);
                }
                Some(Err(err)) => {
                    counters.add_failed_batch(1);
                    self.note_depth(&counters);
                    if down_since.is_none() {
                        down_since = Some(Instant::now());
                        log::warn!(
                            "eventlib: cannot send to Redis at {} ({err}); events wait in the \
                             outbox ({} queued) and are sent when it is back",
                            self.link.shown(),
                            self.outbox.depth() + batch.len()
                        );
                    }
                    std::thread::sleep(backoff.next_wait());
                }
                Some(Ok(replies)) => {
                    self.accepted_again();
                    if let Some(since) = down_since.take() {
                        log::info!(
                            "eventlib: Redis at {} is back after {:.1?}",
                            self.link.shown(),
                            since.elapsed()
                        );
                    }
                    let waiting = self.settle(&mut batch, replies);
                    if waiting.is_some() {
                        counters.add_failed_batch(1);
                        std::thread::sleep(backoff.next_wait());
                    } else {
                        counters.add_batch(1);
                        backoff.reset();
                    }
                }
            }
            if batch.is_empty() {
                if let Source::Spool { reader, .. } = &mut self.source {
                    // Every frame read so far is settled.
                    reader.settled();
                    counters.set_spool_backlog(reader.backlog());
                }
            }
            if let Source::Spool { tally, .. } = &self.source {
                for (index, said) in self.deferred.drain(..) {
                    tally.settled(index, said);
                }
            }
        }
    }

    /// Nothing to send for a while: the spool syncs what is due.
    fn idle(&mut self) {
        if let Source::Spool { reader, spool, .. } = &mut self.source {
            spool.sync_if_due();
            reader.settled();
            self.transport.counters.set_spool_backlog(reader.backlog());
        }
    }

    /// Takes up to a batch of events, waiting a little for the first.
    fn fill(&mut self, batch: &mut Vec<Item>) {
        let max = self.transport.batch;
        match &mut self.source {
            Source::Queue => {
                let Some(first) = self.outbox.recv_timeout(Duration::from_millis(200)) else {
                    return;
                };
                batch.push(Item::queued(first));
                while batch.len() < max {
                    let Some(record) = self.outbox.try_recv() else {
                        break;
                    };
                    batch.push(Item::queued(record));
                }
            }
            Source::Spool {
                reader,
                tally,
                drain_here,
                ..
            } => {
                if *drain_here {
                    while let Some(record) = self.outbox.try_recv() {
                        tally.seen(record);
                    }
                }
                let wait = if *drain_here { 20 } else { 200 };
                for frame in reader.next_batch(max, Duration::from_millis(wait)) {
                    batch.push(Item {
                        envelope: frame.envelope,
                        origin: Origin::Spooled {
                            recovered: frame.recovered,
                        },
                    });
                }
            }
        }
    }

    /// Sends `batch` in one pipelined round trip: `Err` when the round trip
    /// failed as a whole, otherwise each event's own reply.
    fn send(
        &mut self,
        batch: &[Item],
    ) -> redis::RedisResult<Vec<redis::RedisResult<redis::Value>>> {
        if !self.transport.groups.is_empty() {
            // Before the first entry: a group declared now holds back
            // trimming from here on and sees every entry that follows.
            let groups: Vec<&str> = self.transport.groups.iter().map(String::as_str).collect();
            let counters = &self.transport.counters;
            groups::declare(
                &mut self.link,
                counters.reconnects(),
                &self.transport.stream,
                &groups,
            )?;
            self.transport.groups.clear();
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for item in batch {
            let cmd = pipe.cmd("XADD").arg(&self.transport.stream);
            if let Some(max_len) = self.transport.max_len {
                cmd.arg("MAXLEN").arg("~").arg(max_len);
            }
            cmd.arg("*").arg(wire::FIELD).arg(item.envelope.as_slice());
        }
        let counters = &self.transport.counters;
        self.link
            .run(counters.reconnects(), |conn| pipe.query(conn))
    }

    /// Settles what Redis answered: confirmed events are delivered, events
    /// refused for good are given up (one message for the batch), and those
    /// refused for a transient reason stay in `batch` to be sent again;
    /// returns the first transient error, if any.
    fn settle(
        &mut self,
        batch: &mut Vec<Item>,
        replies: Vec<redis::RedisResult<redis::Value>>,
    ) -> Option<RedisError> {
        let mut transient = None;
        let mut refused: Vec<Item> = Vec::new();
        let mut first_refusal: Option<RedisError> = None;
        let mut kept = Vec::new();
        let mut replies = replies.into_iter();
        for item in batch.drain(..) {
            match replies.next() {
                Some(Ok(_)) => self.delivered(item),
                Some(Err(err)) if fault(&err) == Fault::Permanent => {
                    first_refusal.get_or_insert(err);
                    refused.push(item);
                }
                Some(Err(err)) => {
                    transient.get_or_insert(err);
                    kept.push(item);
                }
                None => kept.push(item),
            }
        }
        if let Some(err) = first_refusal {
            let reason = format!(
                "Redis at {} refused it for good: {}",
                self.link.shown(),
                describe(&err)
            );
            log::error!(
                "eventlib: Redis at {} refused {} event(s) of a batch for good ({}); they are \
                 given up, counted as dropped and told to the error hook",
                self.link.shown(),
                refused.len(),
                describe(&err)
            );
            self.give_up(&mut refused, &reason);
        }
        *batch = kept;
        transient
    }

    fn delivered(&mut self, item: Item) {
        let counters = &self.transport.counters;
        counters.add_sent(1);
        match item.origin {
            Origin::Queued(record) => self.outbox.delivered(&record),
            Origin::Spooled {
                recovered: true, ..
            } => counters.add_resent(1),
            Origin::Spooled {
                recovered: false, ..
            } => {
                if let Some((index, _)) = head(&item.envelope) {
                    self.deferred.push((index, Said::Confirmed));
                }
            }
        }
    }

    /// Gives up every event of `items`: counted as dropped (those of this
    /// run) and told to the error hook with `reason`.
    fn give_up(&mut self, items: &mut Vec<Item>, reason: &str) {
        self.transport.counters.add_undelivered(items.len() as u64);
        for item in items.drain(..) {
            match item.origin {
                Origin::Queued(record) => self.outbox.undelivered(&record, reason),
                Origin::Spooled { recovered, .. } => {
                    let Some((index, id)) = head(&item.envelope) else {
                        log::error!(
                            "eventlib: a spooled event that is not an envelope was given up"
                        );
                        continue;
                    };
                    if recovered {
                        // Emitted by an earlier run: nothing to count here.
                        self.outbox.report(&Failure {
                            event: registry().decl(index as u32).name,
                            event_id: id,
                            handler: None,
                            kind: FailureKind::Undelivered(reason.to_owned()),
                        });
                    } else {
                        // The record itself, for the hook to name its id.
                        let record = wire::decode(&item.envelope, wire::StreamId::default())
                            .ok()
                            .map(|decoded| decoded.record);
                        let reason = reason.to_owned();
                        self.deferred
                            .push((index, Said::Refused { reason, record }));
                    }
                }
            }
        }
    }

    /// The connection was refused for good: give events up until the next
    /// try, and say so once per try.
    fn refuse(&mut self, reason: &str, events: usize) {
        let given_up = self.refused.as_ref().map_or(0, |r| r.given_up);
        if given_up == 0 {
            log::error!(
                "eventlib: {reason}; events are given up (counted as dropped and told to the \
                 error hook) instead of queued; the next try to connect is in {REFUSED_RETRY:?}"
            );
        } else {
            log::error!(
                "eventlib: {reason}; {given_up} event(s) given up since the last try; the next \
                 try is in {REFUSED_RETRY:?}"
            );
        }
        self.refused = Some(Refusal {
            reason: reason.to_owned(),
            next_try: Instant::now() + REFUSED_RETRY,
            given_up: events as u64,
        });
    }

    fn accepted_again(&mut self) {
        if let Some(refusal) = self.refused.take() {
            log::info!(
                "eventlib: Redis at {} accepts the producer again ({} event(s) were given up \
                 meanwhile)",
                self.link.shown(),
                refusal.given_up
            );
        }
    }
}

impl Item {
    fn queued(record: Record) -> Item {
        Item {
            envelope: wire::encode(&record),
            origin: Origin::Queued(record),
        }
    }
}

/// The event index and id of a spooled envelope (written by this crate's
/// encoder), `None` for an event this build does not know.
fn head(envelope: &[u8]) -> Option<(usize, crate::id::EventId)> {
    #[derive(serde::Deserialize)]
    struct Head {
        id: String,
        name: String,
    }
    let head: Head = serde_json::from_slice(envelope).ok()?;
    let index = registry().index_of_name(&head.name).ok()?;
    Some((index as usize, head.id.parse().ok()?))
}
