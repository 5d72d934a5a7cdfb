//! Reading Redis replies: the shapes of the stream commands' replies, in
//! RESP2 and RESP3 alike. Nothing here talks to a server.

use redis::Value;

use crate::redis::wire::StreamId;

pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

pub(crate) fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        other => text(other)?.parse().ok(),
    }
}

fn id(value: &Value) -> Option<StreamId> {
    text(value)?.parse().ok()
}

/// A stream entry id (an `XCLAIM ... JUSTID` reply is an array of them).
pub(crate) fn stream_id(value: &Value) -> Option<StreamId> {
    id(value)
}

pub(crate) fn items(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) | Value::Set(items) => items,
        _ => &[],
    }
}

/// A flat `[key, value, key, value]` array or a map, as pairs.
pub(crate) fn pairs(value: &Value) -> Vec<(String, &Value)> {
    match value {
        Value::Map(map) => map
            .iter()
            .filter_map(|(k, v)| Some((text(k)?, v)))
            .collect(),
        _ => items(value)
            .chunks(2)
            .filter_map(|pair| match pair {
                [k, v] => Some((text(k)?, v)),
                _ => None,
            })
            .collect(),
    }
}

fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// One stream entry as read back.
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

/// The entries of an `[[id, [field, value, ...]], ...]` array (`XRANGE`).
pub(crate) fn entries(value: &Value) -> Vec<Entry> {
    items(value)
        .iter()
        .filter_map(|entry| {
            let [entry_id, fields] = items(entry) else {
                return None;
            };
            let id = id(entry_id)?;
            let fields = match fields {
                Value::Nil => None,
                fields => Some(
                    pairs(fields)
                        .into_iter()
                        .map(|(k, v)| (k, bytes(v).map(<[u8]>::to_vec).unwrap_or_default()))
                        .collect(),
                ),
            };
            Some(Entry { id, fields })
        })
        .collect()
}

/// The entries of an `XREADGROUP` reply (one stream), empty on timeout.
pub(crate) fn read_reply(value: &Value) -> Vec<Entry> {
    let streams = match value {
        Value::Map(map) => map.iter().map(|(_, v)| v).collect::<Vec<_>>(),
        Value::Nil => return Vec::new(),
        other => items(other)
            .iter()
            .filter_map(|s| items(s).get(1))
            .collect(),
    };
    streams.into_iter().flat_map(entries).collect()
}

/// An `XAUTOCLAIM` reply: the cursor for the next scan (`0-0` when the scan
/// is complete) and the entries claimed.
pub(crate) fn autoclaim_reply(value: &Value) -> (StreamId, Vec<Entry>) {
    let parts = items(value);
    let next = parts.first().and_then(id).unwrap_or_default();
    (next, parts.get(1).map(entries).unwrap_or_default())
}

/// How many times the entry of an `XPENDING stream group id id 1` reply was
/// delivered (1 when the reply has no row).
pub(crate) fn delivery_count(value: &Value) -> u64 {
    items(value)
        .first()
        .and_then(|row| items(row).get(3))
        .and_then(int)
        .map_or(1, |n| n.max(0) as u64)
}

/// The entry ids of an extended `XPENDING stream group - + count` reply.
pub(crate) fn pending_ids(value: &Value) -> Vec<StreamId> {
    items(value)
        .iter()
        .filter_map(|row| id(items(row).first()?))
        .collect()
}

/// The oldest pending entry of a summary `XPENDING stream group` reply,
/// `None` when nothing is pending.
pub(crate) fn oldest_pending(value: &Value) -> Option<StreamId> {
    items(value).get(1).and_then(id)
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

/// The groups of an `XINFO GROUPS` reply; a group missing a field is left
/// out.
pub(crate) fn groups(value: &Value) -> Vec<GroupInfo> {
    items(value)
        .iter()
        .filter_map(|group| {
            let fields = pairs(group);
            let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
            Some(GroupInfo {
                name: get("name").and_then(text)?,
                pending: get("pending").and_then(int)?,
                last_delivered: get("last-delivered-id").and_then(id)?,
                lag: get("lag").and_then(int),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    fn sid(s: &str) -> StreamId {
        s.parse().unwrap()
    }

    fn entry(id: &str, fields: &[(&str, &str)]) -> Value {
        let flat = fields
            .iter()
            .flat_map(|(k, v)| [bulk(k), bulk(v)])
            .collect();
        array(vec![bulk(id), array(flat)])
    }

    fn stream(entries: Vec<Value>) -> Value {
        array(vec![bulk("eventlib:events"), array(entries)])
    }

    #[test]
    fn scalars_in_every_shape() {
        assert_eq!(text(&bulk("a")), Some("a".into()));
        assert_eq!(text(&Value::SimpleString("b".into())), Some("b".into()));
        assert_eq!(text(&Value::Int(7)), Some("7".into()));
        assert_eq!(text(&Value::Okay), Some("OK".into()));
        assert_eq!(text(&Value::Nil), None);
        assert_eq!(text(&array(vec![])), None);
        assert_eq!(int(&Value::Int(-3)), Some(-3));
        assert_eq!(int(&bulk("42")), Some(42));
        assert_eq!(int(&bulk("x")), None);
        assert_eq!(int(&Value::Nil), None);
        assert!(items(&Value::Nil).is_empty());
        assert!(items(&bulk("a")).is_empty());
        assert_eq!(items(&Value::Set(vec![Value::Int(1)])).len(), 1);
    }

    #[test]
    fn pairs_from_flat_arrays_and_maps() {
        let flat = array(vec![bulk("a"), Value::Int(1), bulk("b"), Value::Int(2)]);
        let map = Value::Map(vec![(bulk("a"), Value::Int(1)), (bulk("b"), Value::Int(2))]);
        for value in [flat, map] {
            let got: Vec<_> = pairs(&value)
                .into_iter()
                .map(|(k, v)| (k, int(v)))
                .collect();
            assert_eq!(got, [("a".into(), Some(1)), ("b".into(), Some(2))]);
        }
        // A dangling key is left out.
        assert_eq!(pairs(&array(vec![bulk("a")])).len(), 0);
    }

    #[test]
    fn xreadgroup_resp2_reply() {
        let reply = array(vec![stream(vec![
            entry("1-0", &[("event", "{}")]),
            entry("2-5", &[("event", "x"), ("other", "y")]),
        ])]);
        let entries = read_reply(&reply);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].id, sid("1-0"));
        assert_eq!(entries[0].field("event"), Some(&b"{}"[..]));
        assert_eq!(entries[1].id, sid("2-5"));
        assert_eq!(entries[1].field_names(), ["event", "other"]);
        assert_eq!(entries[1].field("missing"), None);
    }

    #[test]
    fn xreadgroup_resp3_reply_is_a_map() {
        let reply = Value::Map(vec![(
            bulk("eventlib:events"),
            array(vec![entry("3-1", &[("event", "{}")])]),
        )]);
        let entries = read_reply(&reply);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].id, sid("3-1"));
    }

    #[test]
    fn xreadgroup_timeout_is_nil() {
        assert!(read_reply(&Value::Nil).is_empty());
        assert!(read_reply(&array(vec![])).is_empty());
    }

    #[test]
    fn an_entry_deleted_while_pending_has_no_fields() {
        let reply = array(vec![stream(vec![array(vec![bulk("4-0"), Value::Nil])])]);
        let entries = read_reply(&reply);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].fields, None);
        assert_eq!(entries[0].field("event"), None);
        assert!(entries[0].field_names().is_empty());
    }

    #[test]
    fn malformed_entries_are_left_out() {
        let reply = array(vec![
            entry("not-an-id", &[("event", "{}")]),
            array(vec![bulk("5-0")]),
            bulk("junk"),
            entry("6-0", &[("event", "{}")]),
        ]);
        let got: Vec<_> = entries(&reply).into_iter().map(|e| e.id).collect();
        assert_eq!(got, [sid("6-0")]);
    }

    #[test]
    fn nested_field_values_read_as_empty() {
        let reply = array(vec![array(vec![
            bulk("7-0"),
            array(vec![bulk("event"), array(vec![bulk("nested")])]),
        ])]);
        let entries = entries(&reply);
        assert_eq!(entries[0].field("event"), Some(&b""[..]));
    }

    #[test]
    fn xautoclaim_reply() {
        // Redis 7 adds a third element: the ids of deleted entries.
        let reply = array(vec![
            bulk("9-0"),
            array(vec![entry("8-0", &[("event", "{}")])]),
            array(vec![]),
        ]);
        let (next, entries) = autoclaim_reply(&reply);
        assert_eq!(next, sid("9-0"));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].id, sid("8-0"));

        let (next, entries) = autoclaim_reply(&array(vec![bulk("0-0"), array(vec![])]));
        assert_eq!(next, StreamId::default());
        assert!(entries.is_empty());
        assert_eq!(autoclaim_reply(&Value::Nil), (StreamId::default(), vec![]));
    }

    #[test]
    fn xpending_extended_reply() {
        let row = |id: &str, deliveries: i64| {
            array(vec![
                bulk(id),
                bulk("worker-1"),
                Value::Int(1200),
                Value::Int(deliveries),
            ])
        };
        let reply = array(vec![row("1-0", 3), row("2-0", 1)]);
        assert_eq!(pending_ids(&reply), [sid("1-0"), sid("2-0")]);
        assert_eq!(delivery_count(&reply), 3);
        assert_eq!(delivery_count(&array(vec![])), 1);
        assert_eq!(delivery_count(&Value::Nil), 1);
        assert_eq!(delivery_count(&array(vec![row("1-0", -1)])), 0);
        assert!(pending_ids(&Value::Nil).is_empty());
    }

    #[test]
    fn xpending_summary_reply() {
        let reply = array(vec![
            Value::Int(2),
            bulk("1-0"),
            bulk("2-0"),
            array(vec![array(vec![bulk("worker-1"), bulk("2")])]),
        ]);
        assert_eq!(oldest_pending(&reply), Some(sid("1-0")));
        let none = array(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil]);
        assert_eq!(oldest_pending(&none), None);
    }

    #[test]
    fn xinfo_groups_reply() {
        let group = |name: &str, pending: i64, last: &str| {
            array(vec![
                bulk("name"),
                bulk(name),
                bulk("consumers"),
                Value::Int(1),
                bulk("pending"),
                Value::Int(pending),
                bulk("last-delivered-id"),
                bulk(last),
            ])
        };
        let resp3 = Value::Map(vec![
            (bulk("name"), bulk("c")),
            (bulk("pending"), Value::Int(0)),
            (bulk("last-delivered-id"), bulk("0-0")),
            (bulk("lag"), Value::Int(3)),
        ]);
        let partial = array(vec![bulk("name"), bulk("d")]);
        let reply = array(vec![
            group("a", 2, "5-1"),
            group("b", 0, "7-0"),
            resp3,
            partial,
        ]);
        assert_eq!(
            groups(&reply),
            [
                GroupInfo {
                    name: "a".into(),
                    pending: 2,
                    last_delivered: sid("5-1"),
                    lag: None,
                },
                GroupInfo {
                    name: "b".into(),
                    pending: 0,
                    last_delivered: sid("7-0"),
                    lag: None,
                },
                GroupInfo {
                    name: "c".into(),
                    pending: 0,
                    last_delivered: StreamId::default(),
                    lag: Some(3),
                },
            ]
        );
    }
}
