//! A dead letter: the fields a worker writes to the dead-letter stream
//! (`<stream>:dead`), and [`DeadLetter`], one read back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::id::EventId;
use crate::redis::reply::Entry;
use crate::redis::wire;

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
    /// The key of the event stream whose dead letters hold it: on a
    /// partitioned stream, its partition's key.
    pub stream: String,
    /// On a partitioned stream, its partition, as operators name it
    /// (`2-of-6`); `None` on a stream of one key.
    pub partition: Option<String>,
}

impl DeadLetter {
    /// How an operator names this letter: its [`id`](Self::id) on a stream
    /// of one key, `<partition>/<id>` (`2-of-6/1700000000000-0`) on a
    /// partitioned one, where ids of different partitions may be equal.
    /// What the `eventlib` command prints and takes, and what
    /// [`DeadLetters::get`](crate::redis::DeadLetters::get) finds.
    pub fn reference(&self) -> String {
        match &self.partition {
            Some(partition) => format!("{partition}/{}", self.id),
            None => self.id.clone(),
        }
    }
}

pub(crate) fn parse(entry: &Entry) -> DeadLetter {
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
        stream: String::new(),
        partition: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::stream_id::StreamId;

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
