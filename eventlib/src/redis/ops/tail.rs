//! Following a stream: its newest entry id, and the entries after an id.

use std::time::Duration;

use crate::error::Error;
use crate::redis::ops::operator::READ_TIMEOUT;
use crate::redis::ops::Operator;
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
}

/// The longest a read waits for an entry: half the time a reply may take,
/// so that a server that does not answer is told from an empty stream.
const MAX_BLOCK: Duration = Duration::from_millis(READ_TIMEOUT.as_millis() as u64 / 2);

impl Operator {
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

    /// Up to `count` entries of the stream after entry id `after`, oldest
    /// first, waiting up to `block` (at most 5 s) for the first; none when
    /// nothing arrived in that time.
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
        let reply: reply::ReadReply = self.read(
            redis::cmd("XREAD")
                .arg("COUNT")
                .arg(count)
                .arg("BLOCK")
                .arg(block.min(MAX_BLOCK).as_millis() as u64)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(after),
        )?;
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
                }
            })
            .collect())
    }
}
