//! The wire format: the JSON envelope of one event in a stream entry.
//! `docs/wire-format.md` is the specification.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::context::Context;
use crate::id::EventId;
use crate::metadata::Metadata;
use crate::record::Record;
use crate::registry::registry;
use crate::trace::Trace;

pub(crate) use crate::redis::stream_id::{millis, StreamId};

/// The stream entry field that holds the envelope.
pub(crate) const FIELD: &str = "event";

/// The envelope version this crate writes and reads.
pub(crate) const VERSION: u32 = 1;

/// How far in the future an envelope's `emitted_at` may be (clock skew
/// between producers and workers): one day.
const MAX_CLOCK_AHEAD_MS: u64 = 24 * 3600 * 1000;

/// Why an entry cannot be handled as it is.
#[derive(Debug)]
pub(crate) enum Undecodable {
    /// The envelope is fine but names an event this build does not link.
    UnknownEvent { name: String, reason: String },
    /// Anything else: malformed, out of range, invalid data.
    Poison(String),
}

impl Undecodable {
    pub(crate) fn reason(&self) -> &str {
        match self {
            Undecodable::UnknownEvent { reason, .. } | Undecodable::Poison(reason) => reason,
        }
    }
}

/// What a worker reads: every field but `v`, `name` and `data` may be
/// missing (a producer in another language may leave them out).
#[derive(Deserialize)]
struct Incoming<'a> {
    v: Option<u32>,
    /// Borrowed from the entry unless written with escapes.
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    emitted_at: Option<u64>,
    /// `Some` of JSON `null` for `"data": null` (a unit struct's data),
    /// `None` when the field is missing.
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
    group: Option<String>,
    handlers: Option<Vec<String>>,
    /// Request metadata: an object of strings, in the order written.
    #[serde(default, deserialize_with = "string_pairs")]
    meta: Option<Vec<(String, String)>>,
    /// The producer's W3C trace context.
    traceparent: Option<String>,
    tracestate: Option<String>,
    /// Set by [`as_encoded`] in place of `id` and `data`: the id, read,
    /// and the text of `data`, not yet read (building the event reads it).
    #[serde(skip)]
    encoded: Option<(EventId, &'a str)>,
}

/// The trace context an envelope carries (read with the `opentelemetry`
/// feature, ignored without it).
fn trace(traceparent: Option<String>, tracestate: Option<String>) -> Trace {
    #[cfg(feature = "opentelemetry")]
    if let Some(traceparent) = traceparent {
        return Trace::remote(crate::trace::Remote {
            traceparent,
            tracestate,
        });
    }
    #[cfg(not(feature = "opentelemetry"))]
    let _ = (traceparent, tracestate);
    Trace::default()
}

fn string_pairs<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<(String, String)>>, D::Error> {
    struct Pairs;
    impl<'de> serde::de::Visitor<'de> for Pairs {
        type Value = Option<Vec<(String, String)>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::new();
            while let Some(pair) = map.next_entry::<String, String>()? {
                pairs.push(pair);
            }
            Ok(Some(pairs))
        }
    }
    deserializer.deserialize_map(Pairs)
}

fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// The envelope of `record`, as the producer sends it: the one it was read
/// from, if it keeps it (an outbox row's), or else [`encode`]d.
pub(crate) fn envelope(record: &Record) -> Cow<'_, [u8]> {
    match record.kept_envelope() {
        Some(raw) => Cow::Borrowed(raw),
        None => Cow::Owned(encode(record)),
    }
}

/// The envelope of `record`, written directly, with the event serialized
/// straight into it (no `Value` in between).
pub(crate) fn encode(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    #[cfg(feature = "opentelemetry")]
    let remote = record.context().trace().w3c();
    #[cfg(feature = "opentelemetry")]
    let trace = remote
        .as_ref()
        .map(|remote| (remote.traceparent.as_str(), remote.tracestate.as_deref()));
    #[cfg(not(feature = "opentelemetry"))]
    let trace = None;
    let millis = record.context().emitted_nanos() / 1_000_000;
    write_head(
        &mut out,
        record.id(),
        record.name(),
        millis,
        record.metadata(),
        trace,
    );
    record.write_data(&mut out);
    out.push(b'}');
    out
}

/// Writes an envelope up to its data's value: [`LEAD`], the id, name and
/// time, the metadata and trace context if any, and `"data":`.
fn write_head(
    out: &mut Vec<u8>,
    id: EventId,
    name: &str,
    millis: u64,
    metadata: &Metadata,
    trace: Option<(&str, Option<&str>)>,
) {
    out.extend_from_slice(LEAD);
    out.extend_from_slice(&id.hex());
    out.extend_from_slice(b"\",\"name\":");
    // Writing into a Vec cannot fail; the name is quoted by serde_json.
    let _ = serde_json::to_writer(&mut *out, name);
    out.extend_from_slice(b",\"emitted_at\":");
    out.extend_from_slice(itoa::Buffer::new().format(millis).as_bytes());
    out.push(b',');
    if !metadata.is_empty() {
        out.extend_from_slice(b"\"meta\":{");
        for (n, (key, value)) in metadata.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            let _ = serde_json::to_writer(&mut *out, key);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, value);
        }
        out.extend_from_slice(b"},");
    }
    if let Some((traceparent, tracestate)) = trace {
        out.extend_from_slice(b"\"traceparent\":");
        let _ = serde_json::to_writer(&mut *out, traceparent);
        out.push(b',');
        if let Some(state) = tracestate {
            out.extend_from_slice(b"\"tracestate\":");
            let _ = serde_json::to_writer(&mut *out, state);
            out.push(b',');
        }
    }
    out.extend_from_slice(b"\"data\":");
}

/// How [`encode`] starts every envelope, up to the event id's value.
const LEAD: &[u8] = b"{\"v\":1,\"id\":\"";
const _: () = assert!(VERSION == 1, "LEAD writes the version");

/// The event id of an envelope that leads with it, as [`encode`] writes
/// it, read without parsing the rest; `None` for any other shape (the
/// worker's full [`decode`] reads those).
pub(crate) fn leading_id(raw: &[u8]) -> Option<EventId> {
    let (id, rest) = leading_hex(raw)?;
    rest.starts_with(b"\"").then_some(id)
}

/// The id an envelope leads with, as [`encode`] writes it (32 hex
/// digits), and what follows it.
fn leading_hex(raw: &[u8]) -> Option<(EventId, &[u8])> {
    let rest = raw.strip_prefix(LEAD)?;
    Some((EventId::from_hex(rest.get(..32)?)?, &rest[32..]))
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

/// An envelope read from the stream and checked against the registry.
pub(crate) struct Decoded {
    pub(crate) id: EventId,
    pub(crate) index: u32,
    pub(crate) name: &'static str,
    pub(crate) emitted_at: SystemTime,
    /// The text of `data`.
    pub(crate) data: Box<str>,
    /// Set on a replayed entry: only this group handles it.
    pub(crate) group: Option<String>,
    /// Set on a replayed entry: only these handlers (by path) run.
    pub(crate) handlers: Option<Vec<String>>,
    pub(crate) metadata: Metadata,
    trace: Trace,
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
        build(self.index, &self.data, self.context(attempt))
    }

    fn context(&self, attempt: u32) -> Context {
        Context::restore(
            self.id,
            self.index,
            self.emitted_at,
            attempt,
            self.metadata.clone(),
            self.trace.clone(),
        )
    }
}

fn build(index: u32, data: &str, context: Context) -> Result<Record, String> {
    let decl = registry().decl(index);
    (decl.from_json_text)(data, context).map_err(|err| err.to_string())
}

/// What an envelope says, checked for shape but not yet against the
/// registry.
#[derive(Debug)]
struct Envelope<'a> {
    id: EventId,
    name: Cow<'a, str>,
    emitted_at: SystemTime,
    /// The text of `data`: one JSON value, or (read by [`as_encoded`])
    /// text that building the event finds is not.
    data: &'a str,
    group: Option<String>,
    handlers: Option<Vec<String>>,
    metadata: Metadata,
    trace: Trace,
}

/// Reads an envelope laid out as [`encode`] writes it (its fields in that
/// order, no spaces, an id, name and time without escapes) without
/// serde's general path, which reads any order and looks each field up
/// by name: the fields it knows are found where they start. `None` for
/// any other shape, which the general path reads (or refuses) instead.
///
/// `data` is taken to be what is left before the closing brace, unread:
/// the event is built from it, which reads it whole, and [`either_way`]
/// reads the envelope again through the general path when that (or
/// anything else) fails. What this returns, with `data` one JSON value,
/// is what the general path would.
fn as_encoded(raw: &[u8]) -> Option<Incoming<'_>> {
    let (id, rest) = leading_hex(raw)?;
    let rest = rest.strip_prefix(b"\",\"name\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let (name, rest) = (&rest[..end], &rest[end + 1..]);
    if name.iter().any(|&b| b == b'\\' || b < 0x20) {
        return None;
    }
    let rest = rest.strip_prefix(b",\"emitted_at\":")?;
    let end = rest.iter().position(|&b| b == b',')?;
    let (digits, mut rest) = (&rest[..end], &rest[end + 1..]);
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits[0] == b'0')
    {
        return None;
    }
    let emitted_at = digits.iter().try_fold(0u64, |at, &digit| {
        at.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })?;
    let mut meta = None;
    if let Some(after) = rest.strip_prefix(b"\"meta\":") {
        let (pairs, after) = value_at::<Pairs>(after)?;
        (meta, rest) = (Some(pairs.0), after.strip_prefix(b",")?);
    }
    let mut traceparent = None;
    let mut tracestate = None;
    if let Some(after) = rest.strip_prefix(b"\"traceparent\":") {
        let (value, after) = value_at::<String>(after)?;
        (traceparent, rest) = (Some(value), after.strip_prefix(b",")?);
        if let Some(after) = rest.strip_prefix(b"\"tracestate\":") {
            let (value, after) = value_at::<String>(after)?;
            (tracestate, rest) = (Some(value), after.strip_prefix(b",")?);
        }
    }
    let data = rest.strip_prefix(b"\"data\":")?.strip_suffix(b"}")?;
    if data.first().is_none_or(u8::is_ascii_whitespace) {
        return None;
    }
    Some(Incoming {
        v: Some(VERSION),
        id: None,
        name: Some(Cow::Borrowed(std::str::from_utf8(name).ok()?)),
        emitted_at: Some(emitted_at),
        data: None,
        group: None,
        handlers: None,
        meta,
        traceparent,
        tracestate,
        encoded: Some((id, std::str::from_utf8(data).ok()?)),
    })
}

/// The JSON value at the start of `raw`, and what follows it.
fn value_at<'a, T: Deserialize<'a>>(raw: &'a [u8]) -> Option<(T, &'a [u8])> {
    let mut values = serde_json::Deserializer::from_slice(raw).into_iter::<T>();
    let value = values.next()?.ok()?;
    Some((value, &raw[values.byte_offset()..]))
}

/// `meta` as [`Incoming`] reads it.
struct Pairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        string_pairs(deserializer).map(|pairs| Pairs(pairs.unwrap_or_default()))
    }
}

/// How [`parse`] reads an envelope.
#[derive(Clone, Copy)]
enum Reading {
    /// With [`as_encoded`] when it can, else through serde's general path.
    Encoded,
    /// Through serde's general path.
    General,
}

/// Reads the envelope of stream entry `entry`: `Err` is the reason it is
/// poison. A missing `id` or `emitted_at` comes from the entry id.
fn parse(raw: &[u8], entry: StreamId, reading: Reading) -> Result<Envelope<'_>, String> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("the envelope is not a JSON object".into());
    }
    let encoded = match reading {
        Reading::Encoded => as_encoded(raw),
        Reading::General => None,
    };
    let incoming: Incoming<'_> = match encoded {
        Some(incoming) => incoming,
        None => serde_json::from_slice(raw).map_err(|err| format!("malformed JSON: {err}"))?,
    };
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
    let (id, data) = match incoming.encoded {
        Some((id, data)) => (id, data),
        None => {
            let data = incoming.data.ok_or("the envelope has no `data` field")?;
            let id = match incoming.id {
                Some(id) => id.parse::<EventId>().map_err(|err| {
                    format!("invalid `id` `{id}` (32 hex digits expected): {err}")
                })?,
                // One id per stream entry, the same on every delivery.
                None => EventId::from_u128((u128::from(entry.ms) << 64) | u128::from(entry.seq)),
            };
            (id, data.get())
        }
    };
    let emitted_ms = incoming.emitted_at.unwrap_or(entry.ms);
    let latest = millis(SystemTime::now()).saturating_add(MAX_CLOCK_AHEAD_MS);
    if emitted_ms > latest {
        return Err(format!(
            "`emitted_at` {emitted_ms} is more than a day in the future (milliseconds since \
             1970 expected)"
        ));
    }
    let emitted_at = UNIX_EPOCH + Duration::from_millis(emitted_ms);
    let metadata = match incoming.meta {
        Some(pairs) => Metadata::from_pairs(pairs).map_err(|err| format!("`meta`: {err}"))?,
        None => Metadata::new(),
    };
    Ok(Envelope {
        id,
        name,
        emitted_at,
        data,
        group: incoming.group,
        handlers: incoming.handlers,
        metadata,
        trace: trace(incoming.traceparent, incoming.tracestate),
    })
}

/// Reads an envelope and checks its name against the registry: the
/// envelope and its event's index.
fn checked(
    raw: &[u8],
    entry: StreamId,
    reading: Reading,
) -> Result<(Envelope<'_>, u32), Undecodable> {
    let envelope = parse(raw, entry, reading).map_err(Undecodable::Poison)?;
    match registry().index_of_name(&envelope.name) {
        Ok(index) => Ok((envelope, index)),
        Err(err @ crate::error::Error::UnknownEvent { .. }) => Err(Undecodable::UnknownEvent {
            name: envelope.name.into_owned(),
            reason: err.to_string(),
        }),
        Err(err) => Err(Undecodable::Poison(err.to_string())),
    }
}

/// Reads an envelope (checked against the registry) and `then` makes
/// what its reader needs of it, first with [`as_encoded`] when the
/// envelope's shape allows. Only a success of that reading stands: it
/// leaves `data` to the building of the event, so on any failure the
/// envelope is read again through serde's general path, whose outcome
/// (and reason) is the one given.
fn either_way<'a, T>(
    raw: &'a [u8],
    entry: StreamId,
    then: impl Fn(Envelope<'a>, u32) -> Result<T, Undecodable>,
) -> Result<T, Undecodable> {
    let read =
        |reading| checked(raw, entry, reading).and_then(|(envelope, index)| then(envelope, index));
    match read(Reading::Encoded) {
        Err(_) if raw.starts_with(LEAD) => read(Reading::General),
        outcome => outcome,
    }
}

/// Reads an envelope and builds its event: `Err` is the reason it is
/// poison.
pub(crate) fn decode(raw: &[u8], entry: StreamId) -> Result<Decoded, Undecodable> {
    either_way(raw, entry, |envelope, index| {
        let context = Context::restore(
            envelope.id,
            index,
            envelope.emitted_at,
            1,
            envelope.metadata.clone(),
            envelope.trace.clone(),
        );
        let record = build(index, envelope.data, context).map_err(Undecodable::Poison)?;
        Ok(Decoded {
            id: envelope.id,
            index,
            name: registry().decl(index).name,
            emitted_at: envelope.emitted_at,
            data: envelope.data.into(),
            group: envelope.group,
            handlers: envelope.handlers,
            metadata: envelope.metadata,
            trace: envelope.trace,
            record,
        })
    })
}

/// Reads an envelope and builds its event, as [`decode`] does, for an
/// event handed on once (an outbox row's): nothing is kept to build it
/// again. The flag tells whether the envelope targets a replay (`group`
/// or `handlers`).
pub(crate) fn decode_once(raw: &[u8]) -> Result<(Record, bool), Undecodable> {
    // A stored envelope has its id and time: the entry id is unused.
    either_way(raw, StreamId::default(), |envelope, index| {
        let replay = envelope.group.is_some() || envelope.handlers.is_some();
        let context = Context::restore(
            envelope.id,
            index,
            envelope.emitted_at,
            1,
            envelope.metadata,
            envelope.trace,
        );
        let record = build(index, envelope.data, context).map_err(Undecodable::Poison)?;
        Ok((record, replay))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: StreamId = StreamId {
        ms: 1_700_000_000_000,
        seq: 3,
    };
    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn value(data: &str) -> Value {
        serde_json::from_str(data).unwrap()
    }

    /// [`parse`] as [`either_way`] reads: through the general path when
    /// the encoded reading fails.
    fn read(raw: &[u8], entry: StreamId) -> Result<Envelope<'_>, String> {
        match parse(raw, entry, Reading::Encoded) {
            Err(_) if raw.starts_with(LEAD) => parse(raw, entry, Reading::General),
            outcome => outcome,
        }
    }

    fn poison(raw: &str) -> String {
        match read(raw.as_bytes(), ENTRY) {
            Err(reason) => reason,
            Ok(envelope) => panic!("`{raw}` was accepted: {envelope:?}"),
        }
    }

    #[test]
    fn the_leading_id_is_read_from_what_encode_writes_and_nothing_else() {
        let lead = format!(r#"{{"v":{VERSION},"id":"{ID}","name":"shop.Paid","data":{{}}}}"#);
        assert_eq!(leading_id(lead.as_bytes()), Some(ID.parse().unwrap()));
        for other in [
            format!(r#"{{"id":"{ID}","v":1,"name":"shop.Paid","data":{{}}}}"#),
            format!(r#"{{"v":1,"id":"{}","name":"a.B"}}"#, &ID[..31]),
            format!(r#"{{"v":1,"id":"{}x","name":"a.B"}}"#, &ID[..31]),
            format!(r#"{{"v":1,"id":"\u0030{}","name":"a.B"}}"#, &ID[1..]),
            format!(r#"{{"v":2,"id":"{ID}","name":"a.B"}}"#),
            r#"{"v":1,"id":""#.to_owned(),
        ] {
            assert_eq!(leading_id(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn a_full_envelope() {
        let raw = format!(
            r#"{{"v":1,"id":"{ID}","name":"shop.Paid","emitted_at":1700000000123,
                "data":{{"amount":5}},"group":"billing","handlers":["shop::charge"],
                "unknown_field":true}}"#
        );
        let envelope = read(raw.as_bytes(), ENTRY).unwrap();
        assert_eq!(envelope.id, ID.parse().unwrap());
        assert_eq!(envelope.name, "shop.Paid");
        assert_eq!(
            envelope.emitted_at,
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)
        );
        assert_eq!(value(envelope.data), serde_json::json!({ "amount": 5 }));
        assert_eq!(envelope.group.as_deref(), Some("billing"));
        assert_eq!(envelope.handlers, Some(vec!["shop::charge".to_owned()]));
        assert!(envelope.metadata.is_empty());
    }

    /// What an [`Incoming`] holds, to compare two readings of an envelope.
    type Fields = (
        Option<u32>,
        Option<EventId>,
        Option<String>,
        Option<u64>,
        Option<String>,
        Option<String>,
        Option<Vec<String>>,
        Option<Vec<(String, String)>>,
        Option<String>,
        Option<String>,
    );

    fn fields(incoming: Incoming<'_>) -> Fields {
        (
            incoming.v,
            match incoming.encoded {
                Some((id, _)) => Some(id),
                None => incoming.id.map(|id| id.parse().unwrap()),
            },
            incoming.name.map(Cow::into_owned),
            incoming.emitted_at,
            match incoming.encoded {
                Some((_, data)) => Some(data.to_owned()),
                None => incoming.data.map(|data| data.get().to_owned()),
            },
            incoming.group,
            incoming.handlers,
            incoming.meta,
            incoming.traceparent,
            incoming.tracestate,
        )
    }

    /// Whether [`as_encoded`] reads `raw` rather than leave it to serde's
    /// general path, checking that it then reads what that path does. When
    /// what it takes for `data` is not one JSON value, building the event
    /// from it fails and [`either_way`] reads `raw` through the general
    /// path: that is left to the general path too.
    fn read_as_encoded(raw: &[u8]) -> bool {
        let text = String::from_utf8_lossy(raw);
        let Some(fast) = as_encoded(raw) else {
            return false;
        };
        let (_, data) = fast
            .encoded
            .expect("what `as_encoded` reads has its id and data");
        if serde_json::from_str::<&RawValue>(data).is_err() {
            return false;
        }
        let general: Incoming<'_> = serde_json::from_slice(raw)
            .unwrap_or_else(|err| panic!("`{text}` read as encoded, refused as JSON: {err}"));
        assert_eq!(fields(fast), fields(general), "{text}");
        true
    }

    #[test]
    fn what_encode_writes_is_read_as_encoded() {
        let meta = Metadata::new()
            .extend([("request_id", "r-1"), ("client_ip", "::1")])
            .unwrap()
            .with("note", "a\"b\\ \u{e9}\n}, \"data\":")
            .unwrap();
        let traces = [
            None,
            Some((
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None,
            )),
            Some((
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Some("k=\"v\""),
            )),
        ];
        for metadata in [Metadata::new(), meta] {
            for trace in traces {
                for (name, data) in [
                    ("shop.Paid", r#"{"amount":5}"#),
                    ("\u{e9}t\u{e9}.\u{dc}", "null"),
                    ("a.B", r#"[1,{"x":"}"},"\"}"]"#),
                    ("a.B", r#""}""#),
                ] {
                    let mut raw = Vec::new();
                    let id = ID.parse().unwrap();
                    write_head(&mut raw, id, name, 1_700_000_000_123, &metadata, trace);
                    raw.extend_from_slice(data.as_bytes());
                    raw.push(b'}');
                    assert!(read_as_encoded(&raw), "{}", String::from_utf8_lossy(&raw));
                }
            }
        }
    }

    #[test]
    fn any_other_shape_is_left_to_the_general_path() {
        let lead = r#"{"v":1,"id":""#;
        let good = format!(r#"{lead}{ID}","name":"a.B","emitted_at":1700000000123,"data":{{}}}}"#);
        let with = |from: &str, to: &str| good.replacen(from, to, 1);
        assert!(read_as_encoded(good.as_bytes()));
        assert!(read_as_encoded(with(ID, &ID.to_uppercase()).as_bytes()));
        for other in [
            with("a.B", r#"a\u002eB"#),
            with("a.B", "a\tB"),
            with(&ID[..1], r#"\u0030"#),
            // The id is "a" and `x` a field of another producer's.
            format!(
                r#"{lead}a","x":"{}","name":"a.B","emitted_at":1,"data":{{}}}}"#,
                "b".repeat(24)
            ),
            with("1700000000123", "01700000000123"),
            with("1700000000123", "99999999999999999999999"),
            with("1700000000123", "-1"),
            with("1700000000123", "1.5"),
            with(r#""data":{}"#, r#""data":{},"group":"g""#),
            with(r#""data":{}"#, r#""data":{},"data":{}"#),
            with(r#""data":{}"#, r#""data":{}}"#),
            with(r#""data":{}"#, r#""data": {}"#),
            with(r#""data":"#, r#""meta":null,"data":"#),
            with(r#""data":"#, r#""meta":{"a":"1"},"meta":{"a":"2"},"data":"#),
            with(r#""data":"#, r#""traceparent":null,"data":"#),
            with(r#""data":"#, r#""tracestate":"k=v","data":"#),
            format!("{good} "),
            good[..good.len() - 1].to_owned(),
            good.replacen(r#""v":1"#, r#""v":2"#, 1),
        ] {
            assert!(!read_as_encoded(other.as_bytes()), "{other}");
        }
    }

    #[test]
    fn an_id_and_a_name_written_with_escapes_read_as_without() {
        // Another producer's JSON writer may escape any character: the id
        // and the name are then unescaped into strings of their own.
        let raw = format!(
            r#"{{"v":1,"id":"\u0030{}","name":"shop\u002ePaid","data":{{"note":"a\"b"}}}}"#,
            &ID[1..]
        );
        let envelope = read(raw.as_bytes(), ENTRY).unwrap();
        assert_eq!(envelope.id, ID.parse().unwrap());
        assert_eq!(envelope.name, "shop.Paid");
        assert_eq!(value(envelope.data), serde_json::json!({ "note": "a\"b" }));
        assert!(read(br#"{"v":1,"id":"\u00zz","name":"a.B","data":{}}"#, ENTRY).is_err());
    }

    #[test]
    fn metadata_keeps_its_order_and_limits() {
        let envelope = read(
            br#"{"v":1,"name":"a.B","data":{},"meta":{"z":"1","client_ip":"::1"}}"#,
            ENTRY,
        )
        .unwrap();
        let pairs: Vec<_> = envelope.metadata.iter().collect();
        assert_eq!(pairs, [("z", "1"), ("client_ip", "::1")]);
        for (meta, says) in [
            (r#""meta":{"n":1}"#, "expected a string"),
            (r#""meta":["a"]"#, "an object of strings"),
            (
                r#""meta":{"bad key":"v"}"#,
                "`meta`: invalid metadata: key `bad key`",
            ),
        ] {
            let reason = poison(&format!(r#"{{"v":1,"name":"a.B","data":{{}},{meta}}}"#));
            assert!(reason.contains(says), "{meta}: {reason}");
        }
        let big = "x".repeat(crate::metadata::MAX_BYTES);
        let reason = poison(&format!(
            r#"{{"v":1,"name":"a.B","data":{{}},"meta":{{"k":"{big}"}}}}"#
        ));
        assert!(reason.contains("bytes of keys and values"), "{reason}");
    }

    #[test]
    fn a_minimal_envelope_takes_id_and_time_from_the_entry() {
        let envelope = read(br#" {"v":1,"name":"shop.Paid","data":[]}"#, ENTRY).unwrap();
        assert_eq!(
            envelope.id,
            EventId::from_u128((1_700_000_000_000u128 << 64) | 3)
        );
        assert_eq!(
            envelope.emitted_at,
            UNIX_EPOCH + Duration::from_millis(ENTRY.ms)
        );
        assert_eq!(value(envelope.data), serde_json::json!([]));
        assert_eq!(envelope.group, None);
        assert_eq!(envelope.handlers, None);
    }

    #[test]
    fn null_data_is_data() {
        // What a unit struct serializes to.
        let envelope = read(br#"{"v":1,"name":"a.B","data":null}"#, ENTRY).unwrap();
        assert_eq!(value(envelope.data), Value::Null);
    }

    #[test]
    fn missing_fields() {
        assert!(poison(r#"{"name":"a.B","data":{}}"#).contains("no version"));
        assert!(poison(r#"{"v":1,"data":{}}"#).contains("no `name`"));
        assert!(poison(r#"{"v":1,"name":"a.B"}"#).contains("no `data`"));
    }

    #[test]
    fn fields_of_the_wrong_type() {
        for raw in [
            r#"{"v":"1","name":"a.B","data":{}}"#,
            r#"{"v":1,"name":7,"data":{}}"#,
            r#"{"v":1,"name":"a.B","data":{},"emitted_at":"now"}"#,
            r#"{"v":1,"name":"a.B","data":{},"emitted_at":-1}"#,
            r#"{"v":1,"name":"a.B","data":{},"group":1}"#,
            r#"{"v":1,"name":"a.B","data":{},"handlers":"a::b"}"#,
        ] {
            assert!(poison(raw).starts_with("malformed JSON"), "{raw}");
        }
        let reason = poison(r#"{"v":1,"id":"xyz","name":"a.B","data":{}}"#);
        assert!(reason.contains("invalid `id` `xyz`"), "{reason}");
    }

    #[test]
    fn emitted_at_in_the_far_future_is_poison() {
        let reason = poison(&format!(
            r#"{{"v":1,"name":"a.B","data":{{}},"emitted_at":{}}}"#,
            u64::MAX
        ));
        assert!(reason.contains("more than a day in the future"), "{reason}");
        let in_two_days = millis(SystemTime::now()) + 2 * MAX_CLOCK_AHEAD_MS;
        let reason = poison(&format!(
            r#"{{"v":1,"name":"a.B","data":{{}},"emitted_at":{in_two_days}}}"#
        ));
        assert!(reason.contains("`emitted_at`"), "{reason}");
        // A little ahead (clock skew) is fine.
        let soon = millis(SystemTime::now()) + 60_000;
        let raw = format!(r#"{{"v":1,"name":"a.B","data":{{}},"emitted_at":{soon}}}"#);
        assert!(read(raw.as_bytes(), ENTRY).is_ok());
    }

    #[test]
    fn unknown_versions() {
        let reason = poison(r#"{"v":2,"name":"a.B","data":{}}"#);
        assert!(
            reason.contains("unsupported envelope version `v: 2`"),
            "{reason}"
        );
        assert!(poison(r#"{"v":0,"name":"a.B","data":{}}"#).contains("`v: 0`"));
    }

    #[test]
    fn not_an_object() {
        for raw in ["", "null", "42", r#""text""#, r#"[1,null,"a.B",null,{}]"#] {
            assert_eq!(poison(raw), "the envelope is not a JSON object", "{raw}");
        }
        assert!(poison("{not json").starts_with("malformed JSON"));
        assert!(poison(r#"{"v":1,"name":"a.B","data":{}} trailing"#).starts_with("malformed JSON"));
    }

    #[test]
    fn an_unknown_event_is_poison() {
        let undecodable = decode(br#"{"v":1,"name":"nobody.Declared","data":{}}"#, ENTRY)
            .err()
            .unwrap();
        assert!(
            matches!(&undecodable, Undecodable::UnknownEvent { name, .. } if name == "nobody.Declared"),
            "{undecodable:?}"
        );
        let reason = undecodable.reason();
        assert!(
            reason.contains("unknown event `nobody.Declared`"),
            "{reason}"
        );
        let undecodable = decode(br#"{"v":1,"name":"no dots","data":{}}"#, ENTRY)
            .err()
            .unwrap();
        assert!(
            undecodable.reason().contains("invalid event name"),
            "{undecodable:?}"
        );
    }

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Paid {
        amount: u64,
    }

    #[eventlib::event(name = "wire.Paid")]
    impl Paid {}

    /// An envelope as `encode` writes it, up to `data`, then `tail`.
    fn encoded(name: &str, tail: &str) -> Vec<u8> {
        let mut raw = Vec::new();
        let id = ID.parse().unwrap();
        write_head(
            &mut raw,
            id,
            name,
            1_700_000_000_123,
            &Metadata::new(),
            None,
        );
        raw.extend_from_slice(tail.as_bytes());
        raw
    }

    #[test]
    fn data_that_is_not_one_value_is_read_through_the_general_path() {
        let decoded = decode(&encoded("wire.Paid", r#"{"amount":5}}"#), ENTRY).unwrap();
        assert_eq!(&*decoded.data, r#"{"amount":5}"#);
        assert_eq!(decoded.record.downcast_ref::<Paid>().unwrap().amount, 5);
        // Another producer's field after `data`: read, as serde reads it.
        let raw = encoded("wire.Paid", r#"{"amount":5},"group":"g"}"#);
        let decoded = decode(&raw, ENTRY).unwrap();
        assert_eq!(
            (&*decoded.data, decoded.group.as_deref()),
            (r#"{"amount":5}"#, Some("g"))
        );
        assert!(decode_once(&raw).unwrap().1, "a replay");
        // A second `name` is malformed JSON, not the first name's event
        // (nor, for a name not linked, an unknown event).
        for name in ["wire.Paid", "nobody.Declared"] {
            let raw = encoded(name, r#"{"amount":5},"name":"wire.Paid"}"#);
            for reason in [
                decode(&raw, ENTRY).err().unwrap().reason().to_owned(),
                decode_once(&raw).err().unwrap().reason().to_owned(),
            ] {
                assert!(reason.starts_with("malformed JSON"), "{name}: {reason}");
            }
        }
        // Data of the wrong type: the reason building gives.
        let reason = decode(&encoded("wire.Paid", r#"{"amount":"5"}}"#), ENTRY)
            .err()
            .unwrap()
            .reason()
            .to_owned();
        assert!(reason.contains("amount"), "{reason}");
    }

    #[test]
    fn retarget_sets_the_group_and_the_handlers() {
        let raw = br#"{"v":1,"name":"a.B","data":{},"handlers":["old"]}"#;
        let handlers = ["a::h".to_owned()];
        let out: Value =
            serde_json::from_slice(&retarget(raw, "g", Some(&handlers)).unwrap()).unwrap();
        assert_eq!(out["group"], "g");
        assert_eq!(out["handlers"], serde_json::json!(["a::h"]));
        let out: Value = serde_json::from_slice(&retarget(raw, "g", None).unwrap()).unwrap();
        assert_eq!(out.get("handlers"), None);
        assert!(retarget(b"[1]", "g", None).is_err());
        assert!(retarget(b"{", "g", None).is_err());
    }
}
