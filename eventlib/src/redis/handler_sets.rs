//! The handler sets the workers of a group publish, so that a worker whose
//! build lacks a handler its group has elsewhere leaves those entries to
//! the workers that have it instead of acknowledging them unhandled.
//!
//! Each worker writes one field of the hash `<stream>:handlers:<group>`:
//! its consumer name → `{"expires_at": <ms>, "events": {"<event>":
//! ["<handler path>", ...]}}`, refreshed on every heartbeat and removed at
//! a clean stop. The field of a worker that died expires after ten
//! heartbeats and is then removed by any worker.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::redis::conn::Link;
use crate::redis::state::Shared;
use crate::redis::wire;
use crate::registry::registry;

/// How many heartbeats a published set outlives its worker's last one.
pub(crate) const EXPIRY_HEARTBEATS: u32 = 10;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Published {
    expires_at: u64,
    #[serde(default)]
    events: BTreeMap<String, BTreeSet<String>>,
}

/// This build's handlers of `group`, by event name.
pub(crate) fn linked(group: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut events = BTreeMap::new();
    for event in registry().events() {
        let handlers: BTreeSet<String> = event
            .handlers()
            .filter(|h| h.group() == group)
            .map(|h| h.name().to_owned())
            .collect();
        if !handlers.is_empty() {
            events.insert(event.name().to_owned(), handlers);
        }
    }
    events
}

/// Publishes this worker's handler set and reads the others' (removing
/// those expired).
pub(crate) fn publish(
    shared: &Shared,
    link: &mut Link,
    heartbeat: Duration,
) -> redis::RedisResult<()> {
    let config = shared.config();
    let key = config.handlers_key();
    let now = wire::millis(SystemTime::now());
    let lifetime = u64::try_from((heartbeat * EXPIRY_HEARTBEATS).as_millis()).unwrap_or(u64::MAX);
    let mine = Published {
        expires_at: now.saturating_add(lifetime),
        events: linked(&config.group),
    };
    let json = serde_json::to_vec(&mine).unwrap_or_default();
    let all: BTreeMap<String, Vec<u8>> = link.run(shared.counters().reconnects(), |c| {
        redis::pipe()
            .cmd("HSET")
            .arg(&key)
            .arg(&config.consumer)
            .arg(json.as_slice())
            .ignore()
            .cmd("HGETALL")
            .arg(&key)
            .query::<(BTreeMap<String, Vec<u8>>,)>(c)
            .map(|(all,)| all)
    })?;
    let mut union: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut expired = Vec::new();
    for (consumer, raw) in all {
        if consumer == config.consumer {
            continue;
        }
        match read(&raw) {
            Some(published) if published.expires_at >= now => {
                for (event, handlers) in published.events {
                    union.entry(event).or_default().extend(handlers);
                }
            }
            _ => expired.push(consumer),
        }
    }
    shared.elsewhere().replace(union);
    if !expired.is_empty() {
        link.run(shared.counters().reconnects(), |c| {
            redis::cmd("HDEL").arg(&key).arg(&expired).exec(c)
        })?;
    }
    Ok(())
}

/// A published set; `None` for anything else (serde would read a struct
/// from a JSON array too).
fn read(raw: &[u8]) -> Option<Published> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(raw).ok()
}

/// Removes this worker's published set (a clean stop).
pub(crate) fn withdraw(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    link.run(shared.counters().reconnects(), |c| {
        redis::cmd("HDEL")
            .arg(config.handlers_key())
            .arg(&config.consumer)
            .exec(c)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_set_reads_back() {
        let raw = br#"{"expires_at":5,"events":{"a.B":["a::h"]}}"#;
        let published = read(raw).unwrap();
        assert_eq!(published.expires_at, 5);
        assert_eq!(published.events["a.B"].len(), 1);
        // A field of another shape counts as expired.
        for other in [&b"[99999999999999]"[..], b"{", b"", b"null"] {
            assert!(read(other).is_none(), "{other:?}");
        }
    }
}
