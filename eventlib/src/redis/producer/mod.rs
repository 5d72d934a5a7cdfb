//! The producer side: [`RedisTransport`], its options and how it plugs
//! into the dispatcher; its sender thread, its disk spool and its counters
//! are the child modules.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::error::Error;
use crate::redis::conn::Endpoint;
use crate::redis::producer::spool::{FsyncPolicy, Reader, Spool, SpoolAdmission};
use crate::redis::producer::stats::{ProducerCounters, ProducerStats};
use crate::redis::server::Server;
use crate::redis::DEFAULT_STREAM;
use crate::transport::{Admission, Outbox, Transport};

mod exposure;
mod figures;
mod route;
mod sender;
pub(crate) mod spool;
pub(crate) mod stats;

pub use route::Confirm;
use route::PartitionBy;

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
    /// How many partitions the stream is split into.
    partitions: usize,
    partition_by: PartitionBy,
    confirm: Option<Confirm>,
}

static INSTALLED: OnceLock<Arc<ProducerCounters>> = OnceLock::new();

impl RedisTransport {
    /// A transport to the Redis server at `server`: a URL,
    /// `redis://[user][:password]@host[:port][/db]` or `rediss://...` for
    /// TLS (feature `redis-tls`), or a [`Server`] with its TLS
    /// certificates. Nothing is connected yet, so this succeeds while Redis
    /// is down; it fails only on a malformed URL or certificate, or a
    /// `rediss://` one without the `redis-tls` feature, with
    /// [`Error::Config`]. Certificates the server refuses, or a server
    /// certificate they do not trust, give the events up as a wrong
    /// password does.
    pub fn new(server: impl Into<Server>) -> Result<Self, Error> {
        Ok(RedisTransport {
            endpoint: Endpoint::new(server)?,
            stream: DEFAULT_STREAM.to_owned(),
            batch: 256,
            max_len: None,
            counters: Arc::default(),
            fsync: FsyncPolicy::Never,
            segment_bytes: 16 << 20,
            spool: None,
            groups: linked_groups(),
            partitions: 1,
            partition_by: PartitionBy::default(),
            confirm: None,
        })
    }

    /// Splits the stream into `count` partitions (default 1: the stream key
    /// itself), so that the events spread over the shards of a Redis
    /// Cluster and the workers of a group share them. Partition `i` is the
    /// key `{<stream>:<i>-of-<count>:<n>}` (`docs/scaling.md`); the workers
    /// must be given the same count. An event goes to the partition of its
    /// [partition key](Self::partition_by), or, without one, the batches
    /// go to the partitions in turn. 0 or more than 1024 is
    /// [`Error::Config`] (option `"partitions"`).
    ///
    /// ```no_run
    /// use eventlib::redis::RedisTransport;
    ///
    /// let transport = RedisTransport::new("redis+cluster://10.0.0.5:6379,10.0.0.6:6379/")?
    ///     .partitions(6)?
    ///     .partition_by("order_id");
    /// # let _ = transport;
    /// # Ok::<(), eventlib::Error>(())
    /// ```
    pub fn partitions(mut self, count: usize) -> Result<Self, Error> {
        self.partitions = crate::redis::partitions::check(count)?;
        Ok(self)
    }

    /// The top-level field of an event's data whose value is its partition
    /// key: every event with the same value goes to the same partition,
    /// in the order it was logged (a string is its text, another value its
    /// JSON). Events without the field are spread. Applies to every event
    /// name unless [`partition_event_by`](Self::partition_event_by) names
    /// another field for it.
    pub fn partition_by(mut self, field: impl Into<String>) -> Self {
        self.partition_by.default = Some(field.into());
        self
    }

    /// As [`partition_by`](Self::partition_by), for the events named
    /// `event` only (`"shop.OrderPlaced"`).
    pub fn partition_event_by(
        mut self,
        event: impl Into<String>,
        field: impl Into<String>,
    ) -> Self {
        self.partition_by
            .by_event
            .insert(event.into(), field.into());
        self
    }

    /// Counts an event as delivered only once `WAIT` says that `replicas`
    /// replicas of its primary have it, waiting up to `timeout` per try
    /// (see [`Confirm`]). Off by default: an event then counts as delivered
    /// once its primary confirmed it, and a failover before a replica
    /// copied it loses it; on a cluster such events are counted
    /// ([`ProducerStats::unreplicated_at_failover`]) and said.
    pub fn confirm(mut self, confirm: Confirm) -> Self {
        self.confirm = Some(confirm).filter(|c| c.replicas > 0);
        self
    }

    /// The consumer groups this producer declares before it writes its
    /// first event (default: the group of every handler linked into this
    /// binary). A declared group holds back trimming from then on, so it
    /// sees every event written after, even when its first worker starts
    /// later; a group declared and never run holds the stream until it is
    /// destroyed (`XGROUP DESTROY`). Name the groups whose handlers only
    /// the workers link; an empty list declares none. An invalid group
    /// name is [`Error::Config`].
    ///
    /// Declaring never costs an event: when Redis refuses it (an ACL user
    /// without `XGROUP CREATE`), the producer says so once, counts the
    /// groups in [`ProducerStats::groups_undeclared`], and sends its events
    /// all the same; declare the groups at deploy then
    /// ([`declare_groups`](crate::redis::declare_groups)), before the
    /// producers start.
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
    /// survives what, and `docs/spool.md` for the guarantees and the
    /// measured costs.
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

    fn earlier(&self) -> u64 {
        self.spool
            .as_ref()
            .map_or(0, |spool| Reader::new(Arc::clone(spool)).recovered_frames())
    }

    fn admission(&self) -> Option<Arc<dyn Admission>> {
        let spool = self.spool.as_ref()?;
        Some(Arc::new(SpoolAdmission(Arc::clone(spool))))
    }

    fn on_shutdown(&self) -> Option<Box<dyn FnOnce() + Send>> {
        Some(Box::new(figures::on_shutdown))
    }

    fn run(self: Box<Self>, outbox: Outbox) {
        sender::run(*self, outbox);
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
