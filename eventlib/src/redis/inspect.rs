//! What an operator asks of a stream and does to it, from Redis alone (no
//! registry needed): its length and oldest entry, its dead letters, each
//! consumer group's consumers, pending entries and lag; the entries as they
//! arrive; an envelope written by hand; a group destroyed. The `eventlib`
//! command line is built on these.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Value;

use crate::error::Error;
use crate::redis::conn::{Endpoint, Link};
use crate::redis::wire::StreamId;
use crate::redis::{keys, resp, wire};

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

/// The status of `stream` on the Redis server at `url`.
///
/// # Errors
///
/// [`Error::Config`] for a malformed URL, [`Error::Connection`] when the
/// server cannot be reached or refuses the credentials, [`Error::Server`]
/// when it refuses a command (`WRONGTYPE` for a key that is not a stream).
pub fn stream_status(url: &str, stream: &str) -> Result<StreamStatus, Error> {
    let mut conn = Conn::new(url)?;
    let mut run = |cmd: &redis::Cmd| conn.run(cmd);
    let kind = kind_of(&mut run, stream)?;
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
        let progress = run(redis::cmd("HKEYS").arg(keys::progress(stream, &info.name)))?;
        let waiting_retries = resp::items(&progress)
            .iter()
            .filter_map(resp::text)
            .filter(|field| !field.ends_with(":passed"))
            .count() as u64;
        groups.push(GroupStatus {
            waiting_retries,
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

/// One connection for a few commands, with the crate's typed errors.
struct Conn {
    link: Link,
    reconnects: AtomicU64,
}

impl Conn {
    fn new(url: &str) -> Result<Conn, Error> {
        Ok(Conn {
            link: Link::new(Endpoint::new(url)?, Duration::from_secs(10)),
            reconnects: AtomicU64::new(0),
        })
    }

    fn run(&mut self, cmd: &redis::Cmd) -> Result<Value, Error> {
        let Conn { link, reconnects } = self;
        link.run(reconnects, |c| cmd.query(c))
            .map_err(|err| link.endpoint().error(&err))
    }
}

/// `stream`'s type: `stream`, or `none` when the key does not exist; any
/// other is refused (a key that is not eventlib's).
fn kind_of(
    run: &mut impl FnMut(&redis::Cmd) -> Result<Value, Error>,
    stream: &str,
) -> Result<String, Error> {
    let kind = run(redis::cmd("TYPE").arg(stream))?;
    let kind = resp::text(&kind).unwrap_or_default();
    if kind != "stream" && kind != "none" {
        return Err(Error::Server {
            reason: format!(
                "WRONGTYPE `{stream}` is a {kind}, not a stream: is it eventlib's? (see --stream)"
            ),
        });
    }
    Ok(kind)
}

/// One entry of the event stream, as `tail` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamEntry {
    /// The entry id.
    pub id: String,
    /// The envelope's `name`, when the entry has a JSON envelope with one.
    pub name: Option<String>,
    /// The envelope, as it is in the stream (`None`: no `event` field).
    pub envelope: Option<String>,
}

/// The id of `stream`'s newest entry (`0-0` when it has none): where a
/// reader that wants only what arrives from now on starts.
///
/// # Errors
///
/// As [`stream_status`].
pub fn last_entry_id(url: &str, stream: &str) -> Result<String, Error> {
    let mut conn = Conn::new(url)?;
    let mut run = |cmd: &redis::Cmd| conn.run(cmd);
    kind_of(&mut run, stream)?;
    let last = run(redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1))?;
    Ok(resp::entries(&last)
        .first()
        .map_or_else(|| "0-0".to_owned(), |e| e.id.to_string()))
}

/// Up to `count` entries of `stream` after entry id `after`, waiting up to
/// `block` for the first.
///
/// # Errors
///
/// As [`stream_status`].
pub fn read_after(
    url: &str,
    stream: &str,
    after: &str,
    block: Duration,
    count: usize,
) -> Result<Vec<StreamEntry>, Error> {
    let mut conn = Conn::new(url)?;
    let mut run = |cmd: &redis::Cmd| conn.run(cmd);
    kind_of(&mut run, stream)?;
    let reply = run(redis::cmd("XREAD")
        .arg("COUNT")
        .arg(count)
        .arg("BLOCK")
        .arg(block.as_millis() as u64)
        .arg("STREAMS")
        .arg(stream)
        .arg(after))?;
    Ok(resp::read_reply(&reply)
        .iter()
        .map(|entry| {
            let envelope = entry
                .field(wire::FIELD)
                .map(|raw| String::from_utf8_lossy(raw).into_owned());
            let name = envelope
                .as_deref()
                .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
                .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned));
            StreamEntry {
                id: entry.id.to_string(),
                name,
                envelope,
            }
        })
        .collect())
}

/// Writes a version-1 envelope of event `name` with `data` to `stream`,
/// as a producer in another language would (for testing a worker);
/// returns the entry id. The name is checked against the grammar, not
/// against a registry: this side has none.
///
/// # Errors
///
/// [`Error::InvalidName`] for a name that breaks the grammar, and the
/// errors of [`stream_status`].
pub fn emit(
    url: &str,
    stream: &str,
    name: &str,
    data: &serde_json::Value,
) -> Result<String, Error> {
    crate::name::validate_name(name).map_err(|reason| Error::InvalidName {
        name: name.to_owned(),
        reason,
    })?;
    let envelope = serde_json::json!({ "v": wire::VERSION, "name": name, "data": data });
    let mut conn = Conn::new(url)?;
    let mut run = |cmd: &redis::Cmd| conn.run(cmd);
    kind_of(&mut run, stream)?;
    let id = run(redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg(wire::FIELD)
        .arg(envelope.to_string()))?;
    Ok(resp::text(&id).unwrap_or_default())
}

/// Destroys consumer group `group` of `stream`: its pending entries are
/// released (no worker of it will acknowledge them) and it no longer
/// holds trimming back. Returns whether the group existed.
///
/// # Errors
///
/// As [`stream_status`].
pub fn destroy_group(url: &str, stream: &str, group: &str) -> Result<bool, Error> {
    let mut conn = Conn::new(url)?;
    let mut run = |cmd: &redis::Cmd| conn.run(cmd);
    if kind_of(&mut run, stream)? == "none" {
        return Ok(false);
    }
    let destroyed = run(redis::cmd("XGROUP").arg("DESTROY").arg(stream).arg(group))?;
    Ok(resp::int(&destroyed).unwrap_or(0) > 0)
}

/// How long ago entry `id` was written, by the time in its id.
fn age(id: StreamId) -> Duration {
    let written = UNIX_EPOCH + Duration::from_millis(id.ms);
    SystemTime::now()
        .duration_since(written)
        .unwrap_or_default()
}
