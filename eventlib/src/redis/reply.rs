//! Reading Redis replies into eventlib's types, in RESP2 and RESP3 alike.
//! Nothing here talks to a server.
//!
//! The redis crate's typed stream replies (`redis::streams`) read what
//! carries no entry: `XINFO GROUPS` ([`StreamInfoGroupsReply`]), the summary
//! `XPENDING` ([`StreamPendingReply`]) and the extended one
//! ([`StreamPendingCountReply`]). Replies that carry entries (`XREADGROUP`,
//! `XAUTOCLAIM`, `XRANGE`) are read here into [`Entry`], for the reasons
//! given there.

use redis::streams::{
    StreamInfoGroup, StreamInfoGroupsReply, StreamPendingCountReply, StreamPendingReply,
};
use redis::{FromRedisValue, ParsingError, Value};

use crate::redis::stream_id::StreamId;

/// A stream entry id as Redis sends it: `<ms>-<seq>` (an `XCLAIM ...
/// JUSTID` reply is an array of them).
impl FromRedisValue for StreamId {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        let id = match &value {
            Value::BulkString(bytes) => StreamId::from_text(bytes),
            Value::SimpleString(text) => StreamId::from_text(text.as_bytes()),
            _ => None,
        };
        id.ok_or_else(|| format!("a stream entry id expected, not {}", shown(&value)).into())
    }
}

/// One stream entry as read back.
///
/// An adapter rather than the crate's `streams::StreamId`, which keeps the
/// fields in a `HashMap<String, Value>`: a field name that is not UTF-8 (a
/// foreign producer's) fails the whole reply there, so a worker would stall
/// on that entry, reading it again and again, instead of dead-lettering it;
/// and a field written twice, the order of the fields, and the nil fields of
/// an entry deleted while pending (an empty map there) would be lost.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) id: StreamId,
    /// `None` when the entry was deleted while pending.
    pub(crate) fields: Option<Vec<(String, Vec<u8>)>>,
}

impl Entry {
    pub(crate) fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .as_ref()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Its size: the bytes of its field names and values.
    pub(crate) fn size(&self) -> usize {
        self.fields
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum()
    }

    /// The field names, for a message about an entry without the envelope.
    pub(crate) fn field_names(&self) -> Vec<&str> {
        self.fields
            .iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

impl FromRedisValue for Entry {
    /// Walks the reply's values by hand and moves their bytes: a worker
    /// reads every entry through here, and the crate's generic tuple and
    /// vector conversions cost about as much as the rest of its reading
    /// outside the reply's parsing.
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        // `[id, [field, value, ...]]`; `[id, nil]` for an entry deleted while
        // pending, as a consumer's own pending list shows it.
        let (id, fields) = match value {
            Value::Array(items) => match <[Value; 2]>::try_from(items) {
                Ok([id, fields]) => (id, fields),
                Err(items) => {
                    return Err(
                        format!("a stream entry of {} elements (2 expected)", items.len()).into(),
                    )
                }
            },
            other => return Err(format!("a stream entry expected, not {}", shown(&other)).into()),
        };
        let id = StreamId::from_redis_value(id)?;
        let fields = match fields {
            Value::Nil => None,
            Value::Array(items) => {
                if items.len() % 2 != 0 {
                    return Err(format!(
                        "entry {id}: {} field names and values (an even count expected)",
                        items.len()
                    )
                    .into());
                }
                let mut fields = Vec::with_capacity(items.len() / 2);
                let mut items = items.into_iter();
                while let (Some(name), Some(value)) = (items.next(), items.next()) {
                    fields.push(field(name, value)?);
                }
                Some(fields)
            }
            Value::Map(pairs) => Some(
                pairs
                    .into_iter()
                    .map(|(name, value)| field(name, value))
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(format!("entry {id}: fields expected, not {}", shown(&other)).into());
            }
        };
        Ok(Entry { id, fields })
    }
}

/// A field as an entry keeps it: its name as text, its value's bytes.
fn field(name: Value, value: Value) -> Result<(String, Vec<u8>), ParsingError> {
    Ok((lossy(bytes(name)?), bytes(value)?))
}

/// A field's name or value as Redis sends it.
fn bytes(value: Value) -> Result<Vec<u8>, ParsingError> {
    match value {
        Value::BulkString(bytes) => Ok(bytes),
        Value::SimpleString(text) => Ok(text.into_bytes()),
        other => Err(format!("a field name or value expected, not {}", shown(&other)).into()),
    }
}

/// A value of an unexpected kind, for an error: its kind, and the start
/// of a string (a reply can be large).
fn shown(value: &Value) -> String {
    const MOST: usize = 40;
    match value {
        Value::BulkString(bytes) => {
            let start = String::from_utf8_lossy(&bytes[..bytes.len().min(MOST)]);
            let more = if bytes.len() > MOST { "..." } else { "" };
            format!("the string `{start}{more}`")
        }
        Value::Array(items) => format!("an array of {} elements", items.len()),
        Value::Map(pairs) => format!("a map of {} pairs", pairs.len()),
        Value::Nil => "nil".to_owned(),
        Value::Int(n) => format!("the integer {n}"),
        other => {
            let text = format!("{other:?}");
            text.chars().take(MOST).collect()
        }
    }
}

/// A field name as text; bytes that are not UTF-8 become U+FFFD.
fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

/// The entries of an `XREADGROUP` (or `XREAD`) reply over one stream,
/// none on a timeout. An adapter rather than the crate's `StreamReadReply`
/// for the sake of its entries (see [`Entry`]).
pub(crate) struct ReadReply {
    pub(crate) entries: Vec<Entry>,
}

impl FromRedisValue for ReadReply {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        // RESP2 `[[stream, entries]]`, RESP3 `{stream: entries}`, nil on a
        // timeout: the crate's conversions read each as these pairs.
        let streams: Vec<(Value, Vec<Entry>)> = redis::from_redis_value(value)?;
        Ok(ReadReply {
            entries: streams
                .into_iter()
                .flat_map(|(_, entries)| entries)
                .collect(),
        })
    }
}

/// An `XAUTOCLAIM` reply: the cursor of the next scan (`0-0` when the scan
/// is complete) and the entries claimed. An adapter rather than the crate's
/// `StreamAutoClaimReply` for the sake of its entries (see [`Entry`]).
pub(crate) struct AutoClaimReply {
    pub(crate) next: StreamId,
    pub(crate) entries: Vec<Entry>,
}

impl FromRedisValue for AutoClaimReply {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        // `[next, entries, deleted ids]`: the third element, from Redis 7 on,
        // lists the entries deleted while pending, which Redis drops from the
        // pending list itself, so a worker has nothing to do with them.
        // Redis 6.2 has no third element and shows those entries as nil
        // among the claimed ones, skipped here.
        let mut parts: Vec<Value> = redis::from_redis_value(value)?;
        if !(2..=3).contains(&parts.len()) {
            return Err(format!(
                "an XAUTOCLAIM reply of {} elements (2 or 3 expected)",
                parts.len()
            )
            .into());
        }
        parts.truncate(2);
        let (next, entries): (StreamId, Vec<Option<Entry>>) =
            redis::from_redis_value(Value::Array(parts))?;
        Ok(AutoClaimReply {
            next,
            entries: entries.into_iter().flatten().collect(),
        })
    }
}

/// How many times the entry of an `XPENDING stream group id id 1` reply was
/// delivered (1 when the reply has no row).
pub(crate) fn delivery_count(pending: &StreamPendingCountReply) -> u64 {
    pending.ids.first().map_or(1, |row| {
        u64::try_from(row.times_delivered).unwrap_or(u64::MAX)
    })
}

/// The entry ids of an extended `XPENDING stream group - + count` reply.
pub(crate) fn pending_ids(pending: &StreamPendingCountReply) -> Vec<StreamId> {
    pending
        .ids
        .iter()
        .filter_map(|row| row.id.parse().ok())
        .collect()
}

/// The oldest pending entry of a summary `XPENDING stream group` reply,
/// `None` when nothing is pending.
pub(crate) fn oldest(summary: &StreamPendingReply) -> Option<StreamId> {
    match summary {
        StreamPendingReply::Data(data) => data.start_id.parse().ok(),
        _ => None,
    }
}

/// One consumer group of an `XINFO GROUPS` reply.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GroupInfo {
    pub(crate) name: String,
    pub(crate) pending: i64,
    pub(crate) last_delivered: StreamId,
    /// Entries not yet delivered to the group (Redis 7 and later; `None`
    /// when Redis cannot tell, as after some deletions).
    pub(crate) lag: Option<i64>,
}

impl GroupInfo {
    /// The group as the crate's typed reply reads it; `None` when its
    /// last-delivered id is missing or not an id.
    fn read(group: StreamInfoGroup) -> Option<GroupInfo> {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        Some(GroupInfo {
            last_delivered: group.last_delivered_id.parse().ok()?,
            pending: count(group.pending),
            lag: group.lag.map(count),
            name: group.name,
        })
    }
}

/// The groups of an `XINFO GROUPS` reply; a group without a last-delivered
/// id is left out.
pub(crate) fn group_infos(reply: StreamInfoGroupsReply) -> Vec<GroupInfo> {
    reply
        .groups
        .into_iter()
        .filter_map(GroupInfo::read)
        .collect()
}

#[cfg(test)]
mod tests {
    use redis::streams::{StreamRangeReply, StreamReadReply};

    use super::*;

    // Replies of redis-server 7.0.15, recorded byte for byte over a socket,
    // in RESP2 and (after `HELLO 3`) RESP3, after:
    //   XADD s 1-0 event {}          XADD s 2-5 event x other y
    //   XADD s 3-0 a 1 a 2           XADD s 4-0 "\xffname" x
    //   XGROUP CREATE s g 0
    //   XREADGROUP GROUP g c COUNT 10 STREAMS s >      (XREADGROUP_NEW)
    //   XDEL s 2-5                                     (deleted while pending)
    // then, for XINFO_GROUPS_LAG_UNKNOWN and XAUTOCLAIM_WITH_DELETED:
    //   XADD s 5-0 event b   XADD s 6-0 event c   XADD s 7-0 event d
    //   XREADGROUP GROUP g dead COUNT 2 STREAMS s >    XDEL s 6-0   XDEL s 7-0
    // and, for the empty replies: XGROUP CREATE e g2 $ MKSTREAM.
    // A reply sent alike in both protocols is kept once.

    // XREADGROUP GROUP g c COUNT 10 STREAMS s >
    const XREADGROUP_NEW_RESP2: &[u8] = b"*1\r\n*2\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n1-0\r\n*2\r\n\
        $5\r\nevent\r\n$2\r\n{}\r\n*2\r\n$3\r\n2-5\r\n*4\r\n$5\r\nevent\r\n$1\r\nx\r\n$5\r\n\
        other\r\n$1\r\ny\r\n*2\r\n$3\r\n3-0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n\
        2\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$5\r\n\xffname\r\n$1\r\nx\r\n";
    const XREADGROUP_NEW_RESP3: &[u8] = b"%1\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n1-0\r\n*2\r\n\
        $5\r\nevent\r\n$2\r\n{}\r\n*2\r\n$3\r\n2-5\r\n*4\r\n$5\r\nevent\r\n$1\r\nx\r\n$5\r\n\
        other\r\n$1\r\ny\r\n*2\r\n$3\r\n3-0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n\
        2\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$5\r\n\xffname\r\n$1\r\nx\r\n";
    // XREADGROUP GROUP g c COUNT 10 STREAMS s 0 (its own pending entries)
    const XREADGROUP_OWN_PENDING_RESP2: &[u8] = b"*1\r\n*2\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n\
        1-0\r\n*2\r\n$5\r\nevent\r\n$2\r\n{}\r\n*2\r\n$3\r\n2-5\r\n*-1\r\n*2\r\n$3\r\n3-0\r\n\
        *4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$5\r\n\
        \xffname\r\n$1\r\nx\r\n";
    const XREADGROUP_OWN_PENDING_RESP3: &[u8] = b"%1\r\n$1\r\ns\r\n*4\r\n*2\r\n$3\r\n1-0\r\n\
        *2\r\n$5\r\nevent\r\n$2\r\n{}\r\n*2\r\n$3\r\n2-5\r\n_\r\n*2\r\n$3\r\n3-0\r\n*4\r\n\
        $1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$5\r\n\
        \xffname\r\n$1\r\nx\r\n";
    // XREADGROUP GROUP g c COUNT 10 BLOCK 10 STREAMS s >
    const XREADGROUP_TIMEOUT_RESP2: &[u8] = b"*-1\r\n";
    const XREADGROUP_TIMEOUT_RESP3: &[u8] = b"_\r\n";
    // XAUTOCLAIM s g c 0 5-0 COUNT 10
    const XAUTOCLAIM_WITH_DELETED: &[u8] = b"*3\r\n$3\r\n0-0\r\n*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n\
        $5\r\nevent\r\n$1\r\nb\r\n*1\r\n$3\r\n6-0\r\n";
    // XAUTOCLAIM e g2 c 0 0-0 COUNT 10
    const XAUTOCLAIM_NONE: &[u8] = b"*3\r\n$3\r\n0-0\r\n*0\r\n*0\r\n";
    // XCLAIM s g c 0 1-0 2-5 3-0 JUSTID
    const XCLAIM_JUSTID: &[u8] = b"*2\r\n$3\r\n1-0\r\n$3\r\n3-0\r\n";
    // XRANGE s 3-0 3-0
    const XRANGE_ONE: &[u8] = b"*1\r\n*2\r\n$3\r\n3-0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n\
        $1\r\n2\r\n";
    // XRANGE s 2-5 2-5 (deleted), XREVRANGE e + - COUNT 1 (empty stream)
    const XRANGE_NONE: &[u8] = b"*0\r\n";
    // XREVRANGE s + - COUNT 1
    const XREVRANGE_LAST: &[u8] = b"*1\r\n*2\r\n$3\r\n4-0\r\n*2\r\n$5\r\n\xffname\r\n$1\r\nx\r\n";
    // XPENDING s g 3-0 3-0 1
    const XPENDING_ONE: &[u8] = b"*1\r\n*4\r\n$3\r\n3-0\r\n$1\r\nc\r\n:23\r\n:2\r\n";
    // XPENDING s g 9-0 9-0 1
    const XPENDING_NONE: &[u8] = b"*0\r\n";
    // XPENDING s g - + 10 c
    const XPENDING_MINE: &[u8] = b"*4\r\n*4\r\n$3\r\n1-0\r\n$1\r\nc\r\n:23\r\n:2\r\n*4\r\n\
        $3\r\n2-5\r\n$1\r\nc\r\n:23\r\n:1\r\n*4\r\n$3\r\n3-0\r\n$1\r\nc\r\n:23\r\n:2\r\n*4\r\n\
        $3\r\n4-0\r\n$1\r\nc\r\n:23\r\n:2\r\n";
    // XPENDING s g
    const XPENDING_SUMMARY: &[u8] = b"*4\r\n:4\r\n$3\r\n1-0\r\n$3\r\n4-0\r\n*1\r\n*2\r\n$1\r\n\
        c\r\n$1\r\n4\r\n";
    // XPENDING e g2
    const XPENDING_SUMMARY_EMPTY_RESP2: &[u8] = b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n";
    const XPENDING_SUMMARY_EMPTY_RESP3: &[u8] = b"*4\r\n:0\r\n_\r\n_\r\n_\r\n";
    // XINFO GROUPS e
    const XINFO_GROUPS_RESP2: &[u8] = b"*1\r\n*12\r\n$4\r\nname\r\n$2\r\ng2\r\n$9\r\n\
        consumers\r\n:0\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n0-0\r\n\
        $12\r\nentries-read\r\n$-1\r\n$3\r\nlag\r\n:0\r\n";
    const XINFO_GROUPS_RESP3: &[u8] = b"*1\r\n%6\r\n$4\r\nname\r\n$2\r\ng2\r\n$9\r\n\
        consumers\r\n:0\r\n$7\r\npending\r\n:0\r\n$17\r\nlast-delivered-id\r\n$3\r\n0-0\r\n\
        $12\r\nentries-read\r\n_\r\n$3\r\nlag\r\n:0\r\n";
    // XINFO GROUPS s, once 7-0 was deleted before its delivery
    const XINFO_GROUPS_LAG_UNKNOWN_RESP2: &[u8] = b"*1\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n\
        $9\r\nconsumers\r\n:2\r\n$7\r\npending\r\n:5\r\n$17\r\nlast-delivered-id\r\n$3\r\n\
        6-0\r\n$12\r\nentries-read\r\n:6\r\n$3\r\nlag\r\n$-1\r\n";
    const XINFO_GROUPS_LAG_UNKNOWN_RESP3: &[u8] = b"*1\r\n%6\r\n$4\r\nname\r\n$1\r\ng\r\n\
        $9\r\nconsumers\r\n:2\r\n$7\r\npending\r\n:5\r\n$17\r\nlast-delivered-id\r\n$3\r\n\
        6-0\r\n$12\r\nentries-read\r\n:6\r\n$3\r\nlag\r\n_\r\n";

    fn value(raw: &[u8]) -> Value {
        redis::parse_redis_value(raw).expect("a recorded reply")
    }

    fn read<T: FromRedisValue>(raw: &[u8]) -> T {
        redis::from_redis_value(value(raw)).expect("a readable reply")
    }

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    fn sid(s: &str) -> StreamId {
        s.parse().unwrap()
    }

    fn ids(entries: &[Entry]) -> Vec<StreamId> {
        entries.iter().map(|e| e.id).collect()
    }

    fn fields(entry: &Entry) -> Vec<(&str, &[u8])> {
        entry
            .fields
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect()
    }

    #[test]
    fn stream_ids() {
        assert_eq!(read::<StreamId>(b"$3\r\n2-5\r\n"), sid("2-5"));
        assert_eq!(
            read::<Vec<StreamId>>(XCLAIM_JUSTID),
            [sid("1-0"), sid("3-0")]
        );
        assert!(redis::from_redis_value::<StreamId>(bulk("2-x")).is_err());
        assert!(redis::from_redis_value::<StreamId>(Value::Nil).is_err());
    }

    #[test]
    fn xreadgroup_of_new_entries() {
        for (protocol, raw) in [(2, XREADGROUP_NEW_RESP2), (3, XREADGROUP_NEW_RESP3)] {
            // RESP3 sends the streams as a map.
            assert_eq!(matches!(value(raw), Value::Map(_)), protocol == 3);
            let entries = read::<ReadReply>(raw).entries;
            assert_eq!(
                ids(&entries),
                [sid("1-0"), sid("2-5"), sid("3-0"), sid("4-0")]
            );
            assert_eq!(entries[0].field("event"), Some(&b"{}"[..]));
            assert_eq!(entries[1].field_names(), ["event", "other"]);
            assert_eq!(entries[1].field("missing"), None);
            assert_eq!(entries[1].size(), "eventxothery".len());
            // A field written twice is kept twice, in order; the first wins.
            assert_eq!(fields(&entries[2]), [("a", &b"1"[..]), ("a", &b"2"[..])]);
            assert_eq!(entries[2].field("a"), Some(&b"1"[..]));
            // A field name that is not UTF-8 reads, so the entry can be
            // dead-lettered.
            assert_eq!(entries[3].field_names(), ["\u{fffd}name"]);
            assert_eq!(entries[3].field("event"), None);
        }
    }

    #[test]
    fn an_entry_deleted_while_pending_has_no_fields() {
        for raw in [XREADGROUP_OWN_PENDING_RESP2, XREADGROUP_OWN_PENDING_RESP3] {
            let entries = read::<ReadReply>(raw).entries;
            assert_eq!(
                ids(&entries),
                [sid("1-0"), sid("2-5"), sid("3-0"), sid("4-0")]
            );
            assert_eq!(entries[1].fields, None);
            assert_eq!(entries[1].field("event"), None);
            assert!(entries[1].field_names().is_empty());
            assert_eq!(entries[1].size(), 0);
            assert_eq!(entries[0].field("event"), Some(&b"{}"[..]));
            assert_eq!(entries[2].field_names(), ["a", "a"]);
        }
    }

    #[test]
    fn xreadgroup_timeout_is_no_entries() {
        for raw in [XREADGROUP_TIMEOUT_RESP2, XREADGROUP_TIMEOUT_RESP3] {
            assert_eq!(value(raw), Value::Nil);
            assert!(read::<ReadReply>(raw).entries.is_empty());
        }
    }

    /// Why entries are read here: the crate's typed replies refuse the
    /// whole reply for one field name that is not UTF-8.
    #[test]
    fn the_crates_entry_replies_refuse_a_field_name_that_is_not_utf8() {
        assert!(redis::from_redis_value::<StreamReadReply>(value(XREADGROUP_NEW_RESP2)).is_err());
        assert!(redis::from_redis_value::<StreamReadReply>(value(XREADGROUP_NEW_RESP3)).is_err());
        assert!(redis::from_redis_value::<StreamRangeReply>(value(XREVRANGE_LAST)).is_err());
    }

    #[test]
    fn entries_that_are_not_entries_are_refused() {
        let entry =
            |fields: Value| redis::from_redis_value::<Entry>(array(vec![bulk("1-0"), fields]));
        // An odd count of field names and values.
        assert!(entry(array(vec![bulk("a"), bulk("1"), bulk("b")])).is_err());
        // A field value that is not a string.
        assert!(entry(array(vec![bulk("a"), Value::Int(1)])).is_err());
        assert!(entry(Value::Int(1)).is_err());
        assert!(redis::from_redis_value::<Entry>(array(vec![bulk("1-0")])).is_err());
        assert!(redis::from_redis_value::<Entry>(bulk("1-0")).is_err());
        // The error shows what came, bounded.
        let long = array(vec![bulk("x"); 1000]);
        let err =
            redis::from_redis_value::<Entry>(array(vec![bulk("1-0"), bulk(&"y".repeat(1000))]))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("entry 1-0: fields expected, not the string `yyy") && err.len() < 200,
            "{err}"
        );
        let err = redis::from_redis_value::<StreamId>(long)
            .unwrap_err()
            .to_string();
        assert!(err.contains("an array of 1000 elements"), "{err}");
        // Fields sent as a map read as the same pairs.
        let map = Value::Map(vec![(bulk("event"), bulk("{}")), (bulk("a"), bulk("1"))]);
        let read = entry(map).expect("fields as a map");
        assert_eq!(fields(&read), [("event", &b"{}"[..]), ("a", &b"1"[..])]);
        assert_eq!(
            entry(array(vec![])).expect("no fields").fields,
            Some(vec![])
        );
    }

    #[test]
    fn xautoclaim_reply() {
        // Redis 7 lists 6-0, deleted while pending, apart and drops it.
        let reply = read::<AutoClaimReply>(XAUTOCLAIM_WITH_DELETED);
        assert_eq!(reply.next, StreamId::default());
        assert_eq!(ids(&reply.entries), [sid("5-0")]);
        assert_eq!(reply.entries[0].field("event"), Some(&b"b"[..]));

        let reply = read::<AutoClaimReply>(XAUTOCLAIM_NONE);
        assert_eq!(reply.next, StreamId::default());
        assert!(reply.entries.is_empty());

        // Redis 6.2: no third element; a deleted entry is a nil among the
        // claimed ones.
        let Value::Array(mut parts) = value(XAUTOCLAIM_WITH_DELETED) else {
            panic!("an array");
        };
        parts.truncate(2);
        parts[0] = bulk("9-1");
        if let Value::Array(claimed) = &mut parts[1] {
            claimed.push(Value::Nil);
        }
        let reply: AutoClaimReply = redis::from_redis_value(array(parts)).unwrap();
        assert_eq!(reply.next, sid("9-1"));
        assert_eq!(ids(&reply.entries), [sid("5-0")]);

        for wrong in [array(vec![bulk("0-0")]), Value::Nil, bulk("0-0")] {
            assert!(redis::from_redis_value::<AutoClaimReply>(wrong).is_err());
        }
    }

    #[test]
    fn xrange_entries() {
        let one = read::<Vec<Entry>>(XRANGE_ONE);
        assert_eq!(ids(&one), [sid("3-0")]);
        assert_eq!(fields(&one[0]), [("a", &b"1"[..]), ("a", &b"2"[..])]);
        assert!(read::<Vec<Entry>>(XRANGE_NONE).is_empty());
        let last = read::<Vec<Entry>>(XREVRANGE_LAST);
        assert_eq!(ids(&last), [sid("4-0")]);
        assert_eq!(fields(&last[0]), [("\u{fffd}name", &b"x"[..])]);
    }

    #[test]
    fn xpending_extended_reply() {
        let one: StreamPendingCountReply = read(XPENDING_ONE);
        assert_eq!(delivery_count(&one), 2);
        assert_eq!(pending_ids(&one), [sid("3-0")]);
        let none: StreamPendingCountReply = read(XPENDING_NONE);
        assert_eq!(delivery_count(&none), 1);
        assert!(pending_ids(&none).is_empty());
        let mine: StreamPendingCountReply = read(XPENDING_MINE);
        assert_eq!(
            pending_ids(&mine),
            [sid("1-0"), sid("2-5"), sid("3-0"), sid("4-0")]
        );
    }

    #[test]
    fn xpending_summary_reply() {
        assert_eq!(
            oldest(&read::<StreamPendingReply>(XPENDING_SUMMARY)),
            Some(sid("1-0"))
        );
        for raw in [XPENDING_SUMMARY_EMPTY_RESP2, XPENDING_SUMMARY_EMPTY_RESP3] {
            assert_eq!(oldest(&read::<StreamPendingReply>(raw)), None);
        }
    }

    #[test]
    fn xinfo_groups_reply() {
        let empty = GroupInfo {
            name: "g2".into(),
            pending: 0,
            last_delivered: StreamId::default(),
            lag: Some(0),
        };
        // Redis cannot tell the lag once an entry was deleted before its
        // delivery: nil.
        let lag_unknown = GroupInfo {
            name: "g".into(),
            pending: 5,
            last_delivered: sid("6-0"),
            lag: None,
        };
        for (raw, want) in [
            (XINFO_GROUPS_RESP2, &empty),
            (XINFO_GROUPS_RESP3, &empty),
            (XINFO_GROUPS_LAG_UNKNOWN_RESP2, &lag_unknown),
            (XINFO_GROUPS_LAG_UNKNOWN_RESP3, &lag_unknown),
        ] {
            assert_eq!(group_infos(read(raw)), std::slice::from_ref(want));
        }
    }
}
