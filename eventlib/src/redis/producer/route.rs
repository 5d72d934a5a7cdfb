//! Where a producer's events go: the partition of each event (by its
//! partition key, or spread), and what confirms them ([`Confirm`]).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use crate::record::Record;
use crate::redis::partitions;

/// Which field of an event's data is its partition key.
#[derive(Default, Clone)]
pub(crate) struct PartitionBy {
    /// For every event name not in `by_event`.
    pub(crate) default: Option<String>,
    pub(crate) by_event: HashMap<String, String>,
}

impl PartitionBy {
    fn is_set(&self) -> bool {
        self.default.is_some() || !self.by_event.is_empty()
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.by_event
            .get(name)
            .or(self.default.as_ref())
            .map(String::as_str)
    }

    /// The partition of `record` among `count`, `None` when it has no
    /// partition key (it is spread).
    pub(crate) fn of_record(&self, record: &Record, count: usize) -> Option<usize> {
        if count <= 1 || !self.is_set() {
            return None;
        }
        let field = self.field(record.name())?;
        let key = key_text(record.data().get(field)?);
        Some(partitions::of_key(key.as_bytes(), count))
    }

    /// The partition of a spooled envelope among `count`, as
    /// [`of_record`](Self::of_record).
    pub(crate) fn of_envelope(&self, envelope: &[u8], count: usize) -> Option<usize> {
        if count <= 1 || !self.is_set() {
            return None;
        }
        #[derive(serde::Deserialize)]
        struct Parts {
            name: String,
            #[serde(default)]
            data: Value,
        }
        let parts: Parts = serde_json::from_slice(envelope).ok()?;
        let field = self.field(&parts.name)?;
        let key = key_text(parts.data.get(field)?);
        Some(partitions::of_key(key.as_bytes(), count))
    }
}

/// A partition key's text: a string as it is, any other value as JSON.
fn key_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// When an event counts as confirmed: after `WAIT` says that this many
/// replicas of the primary that took it have it.
///
/// `WAIT` follows each pipelined batch on the same connection. When fewer
/// replicas answer within the timeout, the batch's events stay unconfirmed
/// (not counted delivered) and their partition is held: its later events
/// wait unsent, in order, while the other partitions go on, and the
/// producer asks that connection again every 50 ms until enough replicas
/// have them. Once an outbox's worth of events is held, the producer takes
/// no more until some are confirmed. If the connection
/// is lost meanwhile (the primary failed over), they are sent again under
/// their own event ids, which a worker with
/// [`once_per_event_id`](crate::redis::WorkerBuilder::once_per_event_id)
/// handles once. So no event confirmed this way is lost when a replica
/// takes over; the cost is a round trip from the primary to its replicas
/// per batch, during which the producer's sender waits.
///
/// ```no_run
/// use std::time::Duration;
/// use eventlib::redis::{Confirm, RedisTransport};
///
/// let transport = RedisTransport::new("redis+cluster://10.0.0.5:6379/")?
///     .confirm(Confirm::replicas(1).timeout(Duration::from_millis(500)));
/// # let _ = transport;
/// # Ok::<(), eventlib::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirm {
    pub(crate) replicas: u32,
    pub(crate) timeout: Duration,
}

impl Confirm {
    /// Confirmed once `replicas` replicas have the event (0 turns
    /// confirmation by replicas off); each try waits up to one second.
    pub fn replicas(replicas: u32) -> Confirm {
        Confirm {
            replicas,
            timeout: Duration::from_secs(1),
        }
    }

    /// How long one `WAIT` waits for the replicas (at least 1 ms).
    pub fn timeout(mut self, timeout: Duration) -> Confirm {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The `WAIT` timeout in milliseconds (never 0, which waits for ever).
    pub(crate) fn timeout_ms(&self) -> u64 {
        u64::try_from(self.timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_keys_come_from_the_named_field() {
        let mut by = PartitionBy::default();
        assert_eq!(
            by.of_envelope(br#"{"name":"a.B","data":{"k":"x"}}"#, 6),
            None
        );
        by.default = Some("k".into());
        by.by_event.insert("a.Other".into(), "order".into());
        let of = |envelope: &str| by.of_envelope(envelope.as_bytes(), 6);
        let x = of(r#"{"name":"a.B","data":{"k":"x"}}"#);
        assert_eq!(x, Some(partitions::of_key(b"x", 6)));
        assert_eq!(
            of(r#"{"name":"a.B","data":{"k":17}}"#),
            Some(partitions::of_key(b"17", 6))
        );
        assert_eq!(of(r#"{"name":"a.B","data":{}}"#), None);
        assert_eq!(of(r#"{"name":"a.Other","data":{"k":"x"}}"#), None);
        assert_eq!(of(r#"{"name":"a.Other","data":{"order":"x"}}"#), x);
        assert_eq!(
            by.of_envelope(br#"{"name":"a.B","data":{"k":"x"}}"#, 1),
            None
        );
    }

    #[test]
    fn a_wait_timeout_is_never_zero() {
        assert_eq!(Confirm::replicas(1).timeout(Duration::ZERO).timeout_ms(), 1);
        assert_eq!(Confirm::replicas(2).timeout_ms(), 1000);
    }
}
