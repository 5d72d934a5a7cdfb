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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::redis::conn::Link;
use crate::redis::wire;
use crate::redis::worker::Shared;
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

/// What the other live workers of the group published, as last read.
#[derive(Default)]
pub(crate) struct Elsewhere {
    events: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// Whether it was read at least once: until then, assume others may
    /// handle anything (leaving an entry loses nothing; acknowledging
    /// could).
    known: AtomicBool,
}

impl Elsewhere {
    /// Whether another live worker of the group handles `event` (with
    /// every one of `handlers`, when given).
    pub(crate) fn handles(&self, event: &str, handlers: Option<&[&str]>) -> bool {
        if !self.known.load(Ordering::Acquire) {
            return true;
        }
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        match (events.get(event), handlers) {
            (None, _) => false,
            (Some(set), None) => !set.is_empty(),
            (Some(set), Some(wanted)) => wanted.iter().all(|h| set.contains(*h)),
        }
    }
}

impl Elsewhere {
    /// The handlers of `event` other live workers of the group have and
    /// `done` does not count (empty until the sets were read once: an
    /// entry this build can handle is not held back on a guess).
    pub(crate) fn beyond(&self, event: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
        if !self.known.load(Ordering::Acquire) {
            return Vec::new();
        }
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events
            .get(event)
            .into_iter()
            .flatten()
            .filter(|h| !done(h))
            .cloned()
            .collect()
    }
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
    *shared
        .elsewhere()
        .events
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = union;
    shared.elsewhere().known.store(true, Ordering::Release);
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

    fn elsewhere(events: &[(&str, &[&str])]) -> Elsewhere {
        let elsewhere = Elsewhere::default();
        *elsewhere.events.lock().unwrap() = events
            .iter()
            .map(|(e, hs)| (e.to_string(), hs.iter().map(|h| h.to_string()).collect()))
            .collect();
        elsewhere.known.store(true, Ordering::Release);
        elsewhere
    }

    #[test]
    fn before_the_first_read_anything_may_be_handled_elsewhere() {
        let unknown = Elsewhere::default();
        assert!(unknown.handles("a.B", None));
        assert!(unknown.handles("a.B", Some(&["a::h"])));
    }

    #[test]
    fn handled_elsewhere_by_event_and_by_handler() {
        let elsewhere = elsewhere(&[("a.B", &["a::h", "a::i"]), ("a.Empty", &[])]);
        assert!(elsewhere.handles("a.B", None));
        assert!(elsewhere.handles("a.B", Some(&["a::h"])));
        assert!(elsewhere.handles("a.B", Some(&["a::h", "a::i"])));
        assert!(!elsewhere.handles("a.B", Some(&["a::h", "a::gone"])));
        assert!(!elsewhere.handles("a.Empty", None));
        assert!(!elsewhere.handles("a.Nobody", None));
        assert_eq!(elsewhere.beyond("a.B", |h| h == "a::h"), ["a::i"]);
        assert!(elsewhere.beyond("a.B", |_| true).is_empty());
        assert!(elsewhere.beyond("a.Nobody", |_| false).is_empty());
        assert!(Elsewhere::default().beyond("a.B", |_| false).is_empty());
    }

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
