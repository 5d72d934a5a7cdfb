//! The wire format: the JSON envelope of one event in a stream entry, and
//! stream entry ids. `docs/wire-format.md` is the specification.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;

use crate::event::{Context, EventId};
use crate::record::Record;
use crate::registry::registry;

/// The stream entry field that holds the envelope.
pub(crate) const FIELD: &str = "event";

/// The envelope version this crate writes and reads.
pub(crate) const VERSION: u32 = 1;

/// What a worker reads: every field but `v`, `name` and `data` may be
/// missing (a producer in another language may leave them out).
#[derive(Deserialize)]
struct Incoming {
    v: Option<u32>,
    id: Option<String>,
    name: Option<String>,
    emitted_at: Option<u64>,
    data: Option<Value>,
    group: Option<String>,
    handlers: Option<Vec<String>>,
}

/// The envelope of `record`, as the producer sends it: written directly,
/// with the event serialized straight into it (no `Value` in between).
pub(crate) fn encode(record: &Record) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(160);
    // Writing into a Vec cannot fail; the name is quoted by serde_json.
    let _ = write!(
        out,
        "{{\"v\":{VERSION},\"id\":\"{}\",\"name\":",
        record.id()
    );
    let _ = serde_json::to_writer(&mut out, record.name());
    let _ = write!(
        out,
        ",\"emitted_at\":{},\"data\":",
        millis(record.context().emitted_at())
    );
    record.write_data(&mut out);
    out.push(b'}');
    out
}

/// Adds replay targeting (`group`, `handlers`) to an envelope.
pub(crate) fn retarget(
    raw: &[u8],
    group: &str,
    handlers: Option<&[String]>,
) -> Result<Vec<u8>, String> {
    let mut value: Value =
        serde_json::from_slice(raw).map_err(|err| format!("malformed JSON: {err}"))?;
    let Some(object) = value.as_object_mut() else {
        return Err("the envelope is not a JSON object".into());
    };
    object.insert("group".into(), Value::String(group.into()));
    match handlers {
        Some(handlers) => object.insert("handlers".into(), serde_json::json!(handlers)),
        None => object.remove("handlers"),
    };
    Ok(serde_json::to_vec(&value).unwrap_or_default())
}

pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// An envelope read from the stream and checked against the registry.
pub(crate) struct Decoded {
    pub(crate) id: EventId,
    pub(crate) index: u32,
    pub(crate) name: &'static str,
    pub(crate) emitted_at: SystemTime,
    pub(crate) data: Value,
    /// Set on a replayed entry: only this group handles it.
    pub(crate) group: Option<String>,
    /// Set on a replayed entry: only these handlers (by path) run.
    pub(crate) handlers: Option<Vec<String>>,
    /// The event built from `data`, at attempt 1.
    pub(crate) record: Record,
}

impl Decoded {
    /// The record again, at another attempt (runs `#[validate]` again,
    /// which passed once).
    pub(crate) fn at_attempt(&self, attempt: u32) -> Result<Record, String> {
        if attempt == self.record.context().attempt() {
            return Ok(self.record.clone());
        }
        build(self.index, self.data.clone(), self.context(attempt))
    }

    fn context(&self, attempt: u32) -> Context {
        Context::restore(self.id, self.index, self.emitted_at, attempt)
    }
}

fn build(index: u32, data: Value, context: Context) -> Result<Record, String> {
    let decl = registry().decl(index);
    (decl.from_json)(data, index)
        .map(|record| record.with_context(context))
        .map_err(|err| err.to_string())
}

/// Reads an envelope: `Err` is the reason it is poison.
pub(crate) fn decode(raw: &[u8], entry: StreamId) -> Result<Decoded, String> {
    let incoming: Incoming =
        serde_json::from_slice(raw).map_err(|err| format!("malformed JSON: {err}"))?;
    match incoming.v {
        Some(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "unsupported envelope version `v: {v}` (this worker reads {VERSION})"
            ))
        }
        None => {
            return Err(format!(
                "the envelope has no version: add `\"v\": {VERSION}`"
            ))
        }
    }
    let name = incoming.name.ok_or("the envelope has no `name` field")?;
    let data = incoming.data.ok_or("the envelope has no `data` field")?;
    let id = match incoming.id {
        Some(id) => id
            .parse::<EventId>()
            .map_err(|err| format!("invalid `id` `{id}` (32 hex digits expected): {err}"))?,
        // One id per stream entry, the same on every delivery.
        None => EventId::from_u128((u128::from(entry.ms) << 64) | u128::from(entry.seq)),
    };
    let emitted_at = UNIX_EPOCH + Duration::from_millis(incoming.emitted_at.unwrap_or(entry.ms));
    let index = registry()
        .index_of_name(&name)
        .map_err(|err| err.to_string())?;
    let decl = registry().decl(index);
    let context = Context::restore(id, index, emitted_at, 1);
    let record = build(index, data.clone(), context)?;
    Ok(Decoded {
        id,
        index,
        name: decl.name,
        emitted_at,
        data,
        group: incoming.group,
        handlers: incoming.handlers,
        record,
    })
}

/// A stream entry id, `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct StreamId {
    pub(crate) ms: u64,
    pub(crate) seq: u64,
}

impl StreamId {
    /// The smallest id after this one.
    pub(crate) fn next(self) -> StreamId {
        match self.seq.checked_add(1) {
            Some(seq) => StreamId { ms: self.ms, seq },
            None => StreamId {
                ms: self.ms + 1,
                seq: 0,
            },
        }
    }
}

impl FromStr for StreamId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a stream entry id");
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        Ok(StreamId {
            ms: ms.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}
