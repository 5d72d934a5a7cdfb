//! Following a stream: its newest entry id, and the entries after an id.

use std::time::Duration;

use crate::error::Error;
use crate::redis::ops::operator::READ_TIMEOUT;
use crate::redis::ops::Operator;
use crate::redis::stream_id::StreamId;
use crate::redis::{reply, wire};

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
    /// On a partitioned stream, the entry's partition, as operators name
    /// it (`2-of-6`); `None` for the stream's own key.
    pub partition: Option<String>,
}

/// Where a tail of a stream is: after which entry of each of its keys (on
/// a partitioned stream, of every partition). Made by
/// [`Operator::tail_from_now`], moved on by [`Operator::tail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailPosition {
    /// Each key: its partition's name, the key, the last id read.
    keys: Vec<(Option<String>, String, String)>,
}

/// The longest a read waits for an entry: half the time a reply may take,
/// so that a server that does not answer is told from an empty stream.
const MAX_BLOCK: Duration = Duration::from_millis(READ_TIMEOUT.as_millis() as u64 / 2);

/// How often a tail across partitions looks again while nothing arrives
/// (each partition may be on another node: one blocking read cannot wait
/// on them all).
const TAIL_POLL: Duration = Duration::from_millis(100);

impl Operator {
    /// A tail's position at the stream's newest entry now (of each
    /// partition on a partitioned stream): [`tail`](Self::tail) from it
    /// returns only what arrives next.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// let mut op = eventlib::redis::Operator::new("redis://127.0.0.1/")?;
    /// let mut at = op.tail_from_now()?;
    /// loop {
    ///     for entry in op.tail(&mut at, Duration::from_secs(5), 100)? {
    ///         println!("{} {}", entry.id, entry.name.as_deref().unwrap_or("-"));
    ///     }
    /// }
    /// # Ok::<(), eventlib::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`status`](Self::status).
    pub fn tail_from_now(&mut self) -> Result<TailPosition, Error> {
        let mut keys = vec![(None, self.stream.clone(), self.last_entry_id()?)];
        if self.partitioned()? {
            for part in &mut self.parts {
                let last = part.op.last_entry_id()?;
                keys.push((Some(part.label.clone()), part.op.stream.clone(), last));
            }
        }
        Ok(TailPosition { keys })
    }

    /// Up to `count` entries after `at` (of every partition, in the order
    /// of their ids), waiting up to `block` (at most 5 s) for the first;
    /// `at` moves past them. A partition that appears after `at` was made
    /// is read from its start.
    ///
    /// # Errors
    ///
    /// As [`status`](Self::status).
    pub fn tail(
        &mut self,
        at: &mut TailPosition,
        block: Duration,
        count: usize,
    ) -> Result<Vec<StreamEntry>, Error> {
        if self.partitioned()? {
            for part in &self.parts {
                if !at.keys.iter().any(|(_, key, _)| *key == part.op.stream) {
                    let key = (
                        Some(part.label.clone()),
                        part.op.stream.clone(),
                        "0-0".into(),
                    );
                    at.keys.push(key);
                }
            }
        }
        if at.keys.len() == 1 {
            let (partition, key, after) = &mut at.keys[0];
            let Some(op) = self.on_stream(key) else {
                return Ok(Vec::new());
            };
            let entries = op.read_after(after, block, count)?;
            if let Some(last) = entries.last() {
                *after = last.id.clone();
            }
            return Ok(entries
                .into_iter()
                .map(|entry| StreamEntry {
                    partition: partition.clone(),
                    ..entry
                })
                .collect());
        }
        let deadline = std::time::Instant::now() + block.min(MAX_BLOCK);
        loop {
            let mut found = Vec::new();
            for (partition, key, after) in &mut at.keys {
                let Some(op) = self.on_stream(key) else {
                    continue;
                };
                let entries = op.read_after(after, Duration::ZERO, count)?;
                if let Some(last) = entries.last() {
                    *after = last.id.clone();
                }
                found.extend(entries.into_iter().map(|entry| StreamEntry {
                    partition: partition.clone(),
                    ..entry
                }));
            }
            if !found.is_empty() || std::time::Instant::now() >= deadline {
                found.sort_by_key(|e| e.id.parse::<StreamId>().unwrap_or_default());
                return Ok(found);
            }
            std::thread::sleep(TAIL_POLL);
        }
    }

    /// The id of the stream's newest entry (`0-0` when it has none): where
    /// a reader that wants only what arrives from now on starts.
    ///
    /// # Errors
    ///
    /// As [`status`](Self::status).
    pub fn last_entry_id(&mut self) -> Result<String, Error> {
        self.stream_exists()?;
        // The id alone (see `status`).
        let last: Vec<(String, redis::Value)> = self.read(
            redis::cmd("XREVRANGE")
                .arg(&self.stream)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1),
        )?;
        Ok(last
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |(id, _)| id))
    }

    /// Up to `count` entries of the stream's own key after entry id
    /// `after`, oldest first, waiting up to `block` (at most 5 s; zero: not
    /// at all) for the first; none when nothing arrived in that time. On a
    /// partitioned stream, [`tail`](Self::tail) reads every partition.
    ///
    /// # Errors
    ///
    /// As [`status`](Self::status).
    pub fn read_after(
        &mut self,
        after: &str,
        block: Duration,
        count: usize,
    ) -> Result<Vec<StreamEntry>, Error> {
        self.stream_exists()?;
        // Not the crate's `StreamReadReply`: it reads field names as UTF-8
        // and fails the whole reply on one that is not (a foreign
        // producer's), which would stop the tail at that entry for good
        // (see `reply::Entry`).
        let mut xread = redis::cmd("XREAD");
        xread.arg("COUNT").arg(count);
        // `BLOCK 0` would wait for ever.
        if !block.is_zero() {
            xread
                .arg("BLOCK")
                .arg(block.min(MAX_BLOCK).as_millis().max(1) as u64);
        }
        xread.arg("STREAMS").arg(&self.stream).arg(after);
        let reply: reply::ReadReply = self.read(&xread)?;
        Ok(reply
            .entries
            .into_iter()
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
                    partition: None,
                }
            })
            .collect())
    }
}
