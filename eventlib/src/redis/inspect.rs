//! What an operator asks of a stream, read from Redis alone (no registry
//! needed): its length and oldest entry, its dead letters, and each
//! consumer group's consumers, pending entries and lag. The `eventlib`
//! command line's `status` is this.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Value;

use crate::error::Error;
use crate::redis::conn::{Endpoint, Link};
use crate::redis::wire::StreamId;
use crate::redis::{keys, resp};

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

/// The status of `stream` on the Redis server at `url`.
///
/// # Errors
///
/// [`Error::Config`] for a malformed URL, [`Error::Connection`] when the
/// server cannot be reached or refuses the credentials, [`Error::Server`]
/// when it refuses a command (`WRONGTYPE` for a key that is not a stream).
pub fn stream_status(url: &str, stream: &str) -> Result<StreamStatus, Error> {
    let mut link = Link::new(Endpoint::new(url)?, Duration::from_secs(10));
    let reconnects = AtomicU64::new(0);
    let mut run = |cmd: &redis::Cmd| -> Result<Value, Error> {
        link.run(&reconnects, |c| cmd.query(c))
            .map_err(|err| link.endpoint().error(&err))
    };
    let kind = run(redis::cmd("TYPE").arg(stream))?;
    let kind = resp::text(&kind).unwrap_or_default();
    if kind != "stream" && kind != "none" {
        return Err(Error::Server {
            reason: format!(
                "WRONGTYPE `{stream}` is a {kind}, not a stream: is it eventlib's? (see --stream)"
            ),
        });
    }
    let dead = resp::int(&run(redis::cmd("XLEN").arg(keys::dead_letters(stream)))?).unwrap_or(0);
    if kind == "none" {
        return Ok(StreamStatus {
            stream: stream.to_owned(),
            exists: false,
            length: 0,
            oldest_entry_age: None,
            dead_letters: dead.max(0) as u64,
            groups: Vec::new(),
        });
    }
    let length = resp::int(&run(redis::cmd("XLEN").arg(stream))?).unwrap_or(0);
    let first = run(redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1))?;
    let oldest_entry_age = resp::entries(&first).first().map(|e| age(e.id));
    let infos = run(redis::cmd("XINFO").arg("GROUPS").arg(stream))?;
    let mut groups = Vec::new();
    for info in resp::groups(&infos) {
        let summary = run(redis::cmd("XPENDING").arg(stream).arg(&info.name))?;
        let consumers = run(redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(stream)
            .arg(&info.name))?;
        groups.push(GroupStatus {
            pending: info.pending.max(0) as u64,
            lag: info.lag.and_then(|lag| u64::try_from(lag).ok()),
            oldest_pending_age: resp::oldest_pending(&summary).map(age),
            consumers: consumer_list(&consumers),
            name: info.name,
        });
    }
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(StreamStatus {
        stream: stream.to_owned(),
        exists: true,
        length: length.max(0) as u64,
        oldest_entry_age,
        dead_letters: dead.max(0) as u64,
        groups,
    })
}

fn consumer_list(reply: &Value) -> Vec<ConsumerStatus> {
    resp::items(reply)
        .iter()
        .filter_map(|consumer| {
            let fields = resp::pairs(consumer);
            let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
            Some(ConsumerStatus {
                name: get("name").and_then(resp::text)?,
                pending: get("pending").and_then(resp::int).unwrap_or(0).max(0) as u64,
                idle: Duration::from_millis(
                    get("idle").and_then(resp::int).unwrap_or(0).max(0) as u64
                ),
            })
        })
        .collect()
}

/// How long ago entry `id` was written, by the time in its id.
fn age(id: StreamId) -> Duration {
    let written = UNIX_EPOCH + Duration::from_millis(id.ms);
    SystemTime::now()
        .duration_since(written)
        .unwrap_or_default()
}
