//! The dead-letter stream: the fields of a dead letter as a worker writes
//! them, and inspecting and replaying them.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::Value;

use crate::error::Error;
use crate::id::EventId;
use crate::redis::conn::{Endpoint, Link};
use crate::redis::resp::{self, Entry};
use crate::redis::{keys, wire, DEFAULT_STREAM};

/// A dead letter a worker writes, as the fields of its `XADD`.
pub(crate) struct DeadLetterOut(Vec<(&'static str, Vec<u8>)>);

impl DeadLetterOut {
    /// The dead letter of `entry`: for `handler` after `attempts` runs, or
    /// (`None`, 0) for an entry no handler could be given; `event` is the
    /// event's name and id when the envelope could be read.
    pub(crate) fn new(
        entry: &Entry,
        group: &str,
        worker: &str,
        event: Option<(&str, EventId)>,
        handler: Option<&str>,
        reason: &str,
        attempts: u32,
    ) -> Self {
        let mut fields = vec![
            ("source_id", entry.id.to_string().into_bytes()),
            ("group", group.as_bytes().to_vec()),
            ("handler", handler.unwrap_or("").as_bytes().to_vec()),
            ("reason", reason.as_bytes().to_vec()),
            ("attempts", attempts.to_string().into_bytes()),
            (
                "failed_at",
                wire::millis(SystemTime::now()).to_string().into_bytes(),
            ),
            ("worker", worker.as_bytes().to_vec()),
        ];
        if let Some((name, id)) = event {
            fields.push(("name", name.as_bytes().to_vec()));
            fields.push(("id", id.to_string().into_bytes()));
        }
        match entry.field(wire::FIELD) {
            Some(raw) => fields.push((wire::FIELD, raw.to_vec())),
            None => {
                let all: serde_json::Map<String, serde_json::Value> = entry
                    .fields
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned().into()))
                    .collect();
                fields.push(("fields", serde_json::to_vec(&all).unwrap_or_default()));
            }
        }
        DeadLetterOut(fields)
    }

    /// The same without a copy of the entry (too large to copy): its size
    /// instead, the original being referred to by `source_id`.
    pub(crate) fn without_copy(mut self, size: usize) -> Self {
        self.0.retain(|(k, _)| *k != wire::FIELD && *k != "fields");
        self.0.push(("size", size.to_string().into_bytes()));
        self
    }

    pub(crate) fn fields(&self) -> &[(&'static str, Vec<u8>)] {
        &self.0
    }
}

/// One entry of the dead-letter stream: an event a handler could not
/// handle in its attempts, or a poison entry no handler could be given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// This dead letter's id in the dead-letter stream.
    pub id: String,
    /// The id of the original entry in the event stream.
    pub source_id: String,
    /// The handler group whose worker gave up.
    pub group: String,
    /// The handler that failed (its path), or `None` for a poison entry
    /// (malformed JSON, unknown event, invalid data) or an entry that kept
    /// crashing its workers.
    pub handler: Option<String>,
    /// Why: the handler's last error, or what is wrong with the entry.
    pub reason: String,
    /// How many times the handler ran (0 for a poison entry).
    pub attempts: u32,
    /// When the worker gave up.
    pub failed_at: SystemTime,
    /// The consumer name of that worker.
    pub worker: String,
    /// The event's name, when the envelope could be read.
    pub name: Option<String>,
    /// The event's id, when the envelope could be read.
    pub event_id: Option<String>,
    /// The original envelope (JSON, as it was in the stream), if the entry
    /// had one.
    pub envelope: Option<String>,
    /// The original entry's fields as a JSON object, when it had no
    /// envelope.
    pub fields: Option<String>,
}

/// The dead-letter stream of an event stream; from [`dead_letters`].
///
/// ```no_run
/// let mut dead = eventlib::redis::dead_letters("redis://127.0.0.1/")?;
/// for letter in dead.list(100)? {
///     println!("{} {:?}: {}", letter.source_id, letter.handler, letter.reason);
///     if letter.handler.is_some() {
///         // The handler is fixed and deployed: run it again, it alone.
///         dead.replay(&letter)?;
///     }
/// }
/// # Ok::<(), eventlib::Error>(())
/// ```
///
/// Each method connects on first use (and again after a failure): it fails
/// with [`Error::Connection`] when the server cannot be reached or refuses
/// the credentials, and with [`Error::Server`] when it answers with an
/// error.
pub struct DeadLetters {
    link: Link,
    stream: String,
    reconnects: AtomicU64,
}

/// The dead letters of the default stream (`eventlib:events`, dead letters
/// in `eventlib:events:dead`) on the Redis server at `url`; use
/// [`DeadLetters::stream`] for another stream. Nothing is connected yet:
/// this fails only with [`Error::Config`], for a malformed URL.
pub fn dead_letters(url: &str) -> Result<DeadLetters, Error> {
    Ok(DeadLetters {
        link: Link::new(Endpoint::new(url)?, Duration::from_secs(10)),
        stream: DEFAULT_STREAM.to_owned(),
        reconnects: AtomicU64::new(0),
    })
}

impl DeadLetters {
    /// The event stream whose dead letters these are.
    pub fn stream(mut self, key: impl Into<String>) -> Self {
        self.stream = key.into();
        self
    }

    /// How many dead letters there are.
    pub fn len(&mut self) -> Result<u64, Error> {
        let key = keys::dead_letters(&self.stream);
        self.run(|c| redis::cmd("XLEN").arg(&key).query(c))
    }

    /// Runs `f` on the connection; a failure is a connection or a server
    /// error.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, Error> {
        self.link
            .run(&self.reconnects, f)
            .map_err(|err| self.link.endpoint().error(&err))
    }

    /// Whether there are none.
    pub fn is_empty(&mut self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// The oldest `count` dead letters.
    pub fn list(&mut self, count: usize) -> Result<Vec<DeadLetter>, Error> {
        self.page(None, count)
    }

    /// Up to `count` dead letters after the one with id `after` (from the
    /// oldest when `None`), oldest first: one page of a listing, without
    /// reading what comes before it.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an `after` that is not a stream entry id, and
    /// the connection and server errors of every method.
    pub fn page(&mut self, after: Option<&str>, count: usize) -> Result<Vec<DeadLetter>, Error> {
        let start = match after {
            Some(id) => format!("({}", entry_id(id)?),
            None => "-".to_owned(),
        };
        let key = keys::dead_letters(&self.stream);
        let reply: Value = self.run(|c| {
            redis::cmd("XRANGE")
                .arg(&key)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query(c)
        })?;
        Ok(resp::entries(&reply).iter().map(parse).collect())
    }

    /// The dead letter with id `id`, if there is one.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an `id` that is not a stream entry id, and the
    /// connection and server errors of every method.
    pub fn get(&mut self, id: &str) -> Result<Option<DeadLetter>, Error> {
        let id = entry_id(id)?;
        let key = keys::dead_letters(&self.stream);
        let reply: Value = self.run(|c| {
            redis::cmd("XRANGE")
                .arg(&key)
                .arg(id.to_string())
                .arg(id.to_string())
                .query(c)
        })?;
        Ok(resp::entries(&reply).first().map(parse))
    }

    /// Puts the event back in the event stream for the group that gave up
    /// on it (and, for a handler's failure, for that handler alone: its
    /// siblings do not run again), and removes the dead letter; both in one
    /// transaction. Returns the new entry's id.
    ///
    /// A poison entry whose envelope is a JSON object is replayed like any
    /// other once its cause is fixed (a handler crate linked, a registry
    /// deployed); one without a usable envelope cannot be: fix it and
    /// `XADD` it yourself (see `docs/wire-format.md`), then
    /// [`remove`](Self::remove) it.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] for a dead letter that cannot be replayed as it
    /// is (no envelope, or one that is not a JSON object); otherwise those
    /// of the connection (see [`DeadLetters`]).
    pub fn replay(&mut self, letter: &DeadLetter) -> Result<String, Error> {
        let envelope = letter.envelope.as_deref().ok_or_else(|| {
            Error::Transport(format!(
                "dead letter {} has no envelope to replay: fix the entry and XADD it yourself",
                letter.id
            ))
        })?;
        let handlers = letter.handler.clone().map(|h| vec![h]);
        let envelope = wire::retarget(envelope.as_bytes(), &letter.group, handlers.as_deref())
            .map_err(|reason| {
                Error::Transport(format!(
                    "dead letter {} cannot be replayed: {reason}",
                    letter.id
                ))
            })?;
        let (stream, dead) = (self.stream.clone(), keys::dead_letters(&self.stream));
        let (new_id, _): (String, i64) = self.run(|c| {
            redis::pipe()
                .atomic()
                .cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg(wire::FIELD)
                .arg(envelope.as_slice())
                .cmd("XDEL")
                .arg(&dead)
                .arg(&letter.id)
                .query(c)
        })?;
        Ok(new_id)
    }

    /// Deletes a dead letter (handled by hand, or not worth handling).
    pub fn remove(&mut self, letter: &DeadLetter) -> Result<(), Error> {
        let key = keys::dead_letters(&self.stream);
        self.run(|c| redis::cmd("XDEL").arg(&key).arg(&letter.id).exec(c))
    }
}

/// A dead letter's id, checked before it reaches Redis.
fn entry_id(id: &str) -> Result<crate::redis::wire::StreamId, Error> {
    id.parse().map_err(|reason| Error::Config {
        option: "id",
        reason: format!("{reason} (`<ms>-<seq>`, such as `1700000000000-0`)"),
    })
}

fn parse(entry: &Entry) -> DeadLetter {
    let text = |name: &str| {
        entry
            .field(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let some = |name: &str| text(name).filter(|v| !v.is_empty());
    let millis = text("failed_at").and_then(|v| v.parse().ok()).unwrap_or(0);
    DeadLetter {
        id: entry.id.to_string(),
        source_id: text("source_id").unwrap_or_default(),
        group: text("group").unwrap_or_default(),
        handler: some("handler"),
        reason: text("reason").unwrap_or_default(),
        attempts: text("attempts").and_then(|v| v.parse().ok()).unwrap_or(0),
        failed_at: UNIX_EPOCH + Duration::from_millis(millis),
        worker: text("worker").unwrap_or_default(),
        name: some("name"),
        event_id: some("id"),
        envelope: text(wire::FIELD),
        fields: text("fields"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::wire::StreamId;

    fn entry(fields: &[(&str, &str)]) -> Entry {
        Entry {
            id: StreamId { ms: 5, seq: 1 },
            fields: Some(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                    .collect(),
            ),
        }
    }

    /// What a worker writes, read back as the dead-letter stream would give it.
    fn read_back(letter: &DeadLetterOut) -> DeadLetter {
        parse(&Entry {
            id: StreamId { ms: 9, seq: 0 },
            fields: Some(
                letter
                    .fields()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            ),
        })
    }

    #[test]
    fn a_handler_failure_reads_back_as_written() {
        let source = entry(&[("event", r#"{"v":1}"#)]);
        let id = EventId::from_u128(0xab);
        let out = DeadLetterOut::new(
            &source,
            "billing",
            "host-1",
            Some(("shop.Paid", id)),
            Some("shop::charge"),
            "card declined",
            5,
        );
        let letter = read_back(&out);
        assert_eq!(letter.id, "9-0");
        assert_eq!(letter.source_id, "5-1");
        assert_eq!(letter.group, "billing");
        assert_eq!(letter.worker, "host-1");
        assert_eq!(letter.handler.as_deref(), Some("shop::charge"));
        assert_eq!(letter.reason, "card declined");
        assert_eq!(letter.attempts, 5);
        assert_eq!(letter.name.as_deref(), Some("shop.Paid"));
        assert_eq!(letter.event_id, Some(id.to_string()));
        assert_eq!(letter.envelope.as_deref(), Some(r#"{"v":1}"#));
        assert_eq!(letter.fields, None);
        assert!(letter.failed_at > UNIX_EPOCH);
    }

    #[test]
    fn an_oversized_entry_is_not_copied() {
        let source = entry(&[("event", "x".repeat(100).as_str())]);
        let out = DeadLetterOut::new(&source, "g", "w", None, None, "too big", 0).without_copy(106);
        let letter = read_back(&out);
        assert_eq!(letter.source_id, "5-1");
        assert_eq!(letter.envelope, None);
        assert_eq!(letter.fields, None);
        assert!(out
            .fields()
            .iter()
            .any(|(k, v)| *k == "size" && v == b"106"));
    }

    #[test]
    fn a_poison_entry_keeps_its_fields() {
        let out = DeadLetterOut::new(
            &entry(&[("x", "1")]),
            "g",
            "w",
            None,
            None,
            "no envelope",
            0,
        );
        let letter = read_back(&out);
        assert_eq!(letter.handler, None);
        assert_eq!(letter.name, None);
        assert_eq!(letter.event_id, None);
        assert_eq!(letter.attempts, 0);
        assert_eq!(letter.envelope, None);
        assert_eq!(letter.fields.as_deref(), Some(r#"{"x":"1"}"#));
    }
}
