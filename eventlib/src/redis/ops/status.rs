//! A stream's status, from Redis alone (no registry needed): its length and
//! oldest entry, its dead letters, each consumer group's consumers, pending
//! entries, retries waiting and lag.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::streams::{StreamInfoConsumersReply, StreamInfoGroupsReply, StreamPendingReply};

use crate::error::Error;
use crate::redis::keys;
use crate::redis::ops::Operator;
use crate::redis::server::Server;
use crate::redis::stream_id::StreamId;
use crate::redis::worker::progress;

/// A stream as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStatus {
    /// The stream key.
    pub stream: String,
    /// Whether the key exists (a stream nothing was written to has none).
    pub exists: bool,
    /// Entries in the stream (`XLEN`).
    pub length: u64,
    /// How old its oldest entry is, by the entry's id.
    pub oldest_entry_age: Option<Duration>,
    /// Entries in its dead-letter stream.
    pub dead_letters: u64,
    /// Its consumer groups, by name.
    pub groups: Vec<GroupStatus>,
    /// On a partitioned stream, each partition's status (the fields above
    /// are then their totals); empty for a stream of one key.
    pub partitions: Vec<StreamStatus>,
}

/// One consumer group of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupStatus {
    /// The group (a handler group).
    pub name: String,
    /// Entries delivered to a consumer and not acknowledged yet (being
    /// handled, waiting for a retry, or held by a dead consumer).
    pub pending: u64,
    /// Entries not delivered to the group yet; `None` when Redis cannot
    /// tell (before Redis 7, or after some deletions).
    pub lag: Option<u64>,
    /// How old the oldest pending entry is, by its id.
    pub oldest_pending_age: Option<Duration>,
    /// Entries whose progress a worker saved: a failed handler waiting for
    /// its retry (its siblings done), or an entry left to a worker that has
    /// the handlers this one lacks.
    pub waiting_retries: u64,
    /// The group's consumers (workers).
    pub consumers: Vec<ConsumerStatus>,
}

/// One consumer (worker) of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStatus {
    /// The consumer name (`WorkerBuilder::consumer`).
    pub name: String,
    /// Entries it holds, unacknowledged.
    pub pending: u64,
    /// Since its last read or claim.
    pub idle: Duration,
}

impl GroupStatus {
    /// Whether the group has no consumer seen in the last `within`: it
    /// holds the stream back (trimming keeps what it has not acknowledged)
    /// and handles nothing.
    pub fn has_no_live_consumer(&self, within: Duration) -> bool {
        self.consumers.iter().all(|c| c.idle > within)
    }
}

impl Operator {
    /// The stream's status: its length, oldest entry and dead letters, and
    /// each consumer group's consumers, pending entries, retries waiting
    /// and lag.
    ///
    /// # Errors
    ///
    /// Those of every call (see [`Operator`]); [`Error::Server`] with
    /// `WRONGTYPE` for a key that is not a stream.
    ///
    /// On a stream split into partitions (`RedisTransport::partitions`),
    /// whose counts producers and workers record in `<stream>:partitions`,
    /// the status is the totals over every partition (and the stream's own
    /// key, if it holds entries or dead letters too), each partition's status in
    /// [`StreamStatus::partitions`]: lengths, dead letters, pending
    /// entries, lags and retries add up, ages are the oldest, and a
    /// consumer's pending entries add up over the partitions it reads.
    pub fn status(&mut self) -> Result<StreamStatus, Error> {
        if !self.partitioned()? {
            return self.key_status();
        }
        let mut parts = Vec::new();
        // The stream's own key (a group declared on it makes it exist)
        // counts when it holds entries or dead letters.
        let own = self.key_status()?;
        if own.length > 0 || own.dead_letters > 0 {
            parts.push(own);
        }
        for part in &mut self.parts {
            parts.push(part.op.key_status()?);
        }
        Ok(total(&self.stream, parts))
    }

    /// The status of the handle's own key.
    fn key_status(&mut self) -> Result<StreamStatus, Error> {
        let stream = self.stream.clone();
        let exists = self.stream_exists()?;
        let dead = keys::dead_letters(&stream);
        let xlen_dead = redis::cmd("XLEN").arg(&dead).clone();
        // On a cluster a key without a hash tag and its dead letters are in
        // two slots.
        let dead_letters: u64 =
            if self.on_cluster() && !crate::redis::partitions::has_hash_tag(&stream) {
                self.on_key(&dead).read(&xlen_dead)?
            } else {
                self.read(&xlen_dead)?
            };
        if !exists {
            return Ok(StreamStatus {
                stream,
                exists: false,
                length: 0,
                oldest_entry_age: None,
                dead_letters,
                groups: Vec::new(),
                partitions: Vec::new(),
            });
        }
        let length: u64 = self.read(redis::cmd("XLEN").arg(&stream))?;
        // The id alone: an entry's fields may hold a name that is not UTF-8
        // (a foreign producer's), which the crate's `StreamRangeReply`
        // refuses, failing the whole reply.
        let first: Vec<(String, redis::Value)> = self.read(
            redis::cmd("XRANGE")
                .arg(&stream)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(1),
        )?;
        let oldest_entry_age = first.first().and_then(|(id, _)| age(id));
        let infos: StreamInfoGroupsReply =
            self.read(redis::cmd("XINFO").arg("GROUPS").arg(&stream))?;
        let mut groups = Vec::new();
        for info in infos.groups {
            let summary: StreamPendingReply =
                self.read(redis::cmd("XPENDING").arg(&stream).arg(&info.name))?;
            let consumers: StreamInfoConsumersReply = self.read(
                redis::cmd("XINFO")
                    .arg("CONSUMERS")
                    .arg(&stream)
                    .arg(&info.name),
            )?;
            let saved: Vec<String> =
                self.read(redis::cmd("HKEYS").arg(keys::progress(&stream, &info.name)))?;
            let waiting_retries = saved
                .iter()
                .filter(|field| progress::is_progress_field(field))
                .count() as u64;
            groups.push(GroupStatus {
                waiting_retries,
                pending: info.pending as u64,
                lag: info.lag.map(|lag| lag as u64),
                oldest_pending_age: match &summary {
                    StreamPendingReply::Data(pending) => age(&pending.start_id),
                    _ => None,
                },
                consumers: consumers
                    .consumers
                    .into_iter()
                    .map(|c| ConsumerStatus {
                        name: c.name,
                        pending: c.pending as u64,
                        idle: Duration::from_millis(c.idle as u64),
                    })
                    .collect(),
                name: info.name,
            });
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(StreamStatus {
            stream,
            exists: true,
            length,
            oldest_entry_age,
            dead_letters,
            groups,
            partitions: Vec::new(),
        })
    }
}

/// The totals of a partitioned stream named `stream` over its `parts`.
fn total(stream: &str, parts: Vec<StreamStatus>) -> StreamStatus {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<String, GroupStatus> = BTreeMap::new();
    for part in &parts {
        for group in &part.groups {
            let sum = groups
                .entry(group.name.clone())
                .or_insert_with(|| GroupStatus {
                    name: group.name.clone(),
                    pending: 0,
                    lag: Some(0),
                    oldest_pending_age: None,
                    waiting_retries: 0,
                    consumers: Vec::new(),
                });
            sum.pending += group.pending;
            sum.lag = sum.lag.zip(group.lag).map(|(a, b)| a + b);
            sum.oldest_pending_age = sum.oldest_pending_age.max(group.oldest_pending_age);
            sum.waiting_retries += group.waiting_retries;
            for consumer in &group.consumers {
                match sum.consumers.iter_mut().find(|c| c.name == consumer.name) {
                    Some(c) => {
                        c.pending += consumer.pending;
                        c.idle = c.idle.min(consumer.idle);
                    }
                    None => sum.consumers.push(consumer.clone()),
                }
            }
        }
    }
    let mut groups: Vec<GroupStatus> = groups.into_values().collect();
    for group in &mut groups {
        group.consumers.sort_by(|a, b| a.name.cmp(&b.name));
    }
    StreamStatus {
        stream: stream.to_owned(),
        exists: parts.iter().any(|p| p.exists),
        length: parts.iter().map(|p| p.length).sum(),
        oldest_entry_age: parts.iter().filter_map(|p| p.oldest_entry_age).max(),
        dead_letters: parts.iter().map(|p| p.dead_letters).sum(),
        groups,
        partitions: parts,
    }
}

/// The status of `stream` on the Redis server at `server`, on a
/// connection of its own: [`Operator::status`] for one call. An operator
/// asking more than once keeps an [`Operator`].
///
/// # Errors
///
/// [`Error::Config`] for a malformed URL, and those of
/// [`Operator::status`].
pub fn stream_status(server: impl Into<Server>, stream: &str) -> Result<StreamStatus, Error> {
    Operator::new(server)?.stream(stream).status()
}

/// How long ago entry `id` was written, by the time in its id; `None` for
/// a malformed id.
fn age(id: &str) -> Option<Duration> {
    let id: StreamId = id.parse().ok()?;
    let written = UNIX_EPOCH + Duration::from_millis(id.ms);
    Some(
        SystemTime::now()
            .duration_since(written)
            .unwrap_or_default(),
    )
}
