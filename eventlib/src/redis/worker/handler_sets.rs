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
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::redis::conn::Link;
use crate::redis::wire;
use crate::redis::worker::peers::Events;
use crate::redis::worker::shared::Shared;
use crate::registry::registry;

/// How many heartbeats a published set outlives its worker's last one.
pub(crate) const EXPIRY_HEARTBEATS: u32 = 10;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Published {
    expires_at: u64,
    #[serde(default)]
    events: Events,
}

/// This build's handlers of `group`, by event name.
fn linked(group: &str) -> Events {
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

/// Sets as published, without their expiry, and what they say: a worker
/// writes `{"events":{...},"expires_at":<ms>}`, so the part before the
/// expiry stays the same from one heartbeat to the next and between the
/// workers of one build. Each distinct set is read (and this build's is
/// written) once per process, however many workers and heartbeats see it:
/// a set lists every event of the registry that has a handler in the group.
struct Known {
    sets: Vec<(Vec<u8>, Arc<Events>)>,
}

/// At most this many distinct sets are remembered (more builds of one
/// group at once than a rolling deploy makes).
const KNOWN_SETS: usize = 16;

static KNOWN: Mutex<Known> = Mutex::new(Known { sets: Vec::new() });

const EVENTS_FIELD: &[u8] = br#"{"events":"#;
const EXPIRY_FIELD: &[u8] = br#","expires_at":"#;

impl Known {
    fn get(&self, stable: &[u8]) -> Option<Arc<Events>> {
        self.sets
            .iter()
            .find(|(known, _)| known.as_slice() == stable)
            .map(|(_, events)| Arc::clone(events))
    }

    fn put(&mut self, stable: Vec<u8>, events: Arc<Events>) {
        if self.sets.len() >= KNOWN_SETS {
            self.sets.remove(0);
        }
        self.sets.push((stable, events));
    }
}

fn known() -> std::sync::MutexGuard<'static, Known> {
    KNOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// This build's set for `group` as written, without its expiry (built once
/// per process and group).
fn own_stable(group: &str) -> Vec<u8> {
    static OWN: Mutex<BTreeMap<String, Vec<u8>>> = Mutex::new(BTreeMap::new());
    let mut own = OWN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(stable) = own.get(group) {
        return stable.clone();
    }
    let events = linked(group);
    let mut stable = EVENTS_FIELD.to_vec();
    stable.extend(serde_json::to_vec(&events).unwrap_or_else(|_| b"{}".to_vec()));
    known().put(stable.clone(), Arc::new(events));
    own.insert(group.to_owned(), stable.clone());
    stable
}

/// A set with its expiry, as written.
fn written(stable: &[u8], expires_at: u64) -> Vec<u8> {
    let mut json = stable.to_vec();
    json.extend_from_slice(EXPIRY_FIELD);
    json.extend_from_slice(expires_at.to_string().as_bytes());
    json.push(b'}');
    json
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
    let json = written(&own_stable(&config.group), now.saturating_add(lifetime));
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
    let mut live: Vec<(String, Arc<Events>)> = Vec::new();
    let mut expired = Vec::new();
    for (consumer, raw) in all {
        if consumer == config.consumer {
            continue;
        }
        match read(&raw) {
            Some((expires_at, events)) if expires_at >= now => live.push((consumer, events)),
            _ => expired.push(consumer),
        }
    }
    shared.elsewhere().replace(live);
    if !expired.is_empty() {
        link.run(shared.counters().reconnects(), |c| {
            redis::cmd("HDEL").arg(&key).arg(&expired).exec(c)
        })?;
    }
    Ok(())
}

/// The expiry and the events of a published set; `None` for anything else
/// (serde would read a struct from a JSON array too).
fn read(raw: &[u8]) -> Option<(u64, Arc<Events>)> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let split = split(raw);
    if let Some((stable, expires_at)) = split {
        if let Some(events) = known().get(stable) {
            return Some((expires_at, events));
        }
    }
    let published: Published = serde_json::from_slice(raw).ok()?;
    let events = Arc::new(published.events);
    if let Some((stable, _)) = split {
        known().put(stable.to_vec(), Arc::clone(&events));
    }
    Some((published.expires_at, events))
}

/// A set as this version writes it: the part before the expiry, and the
/// expiry; `None` for another layout (read in full, not remembered).
fn split(raw: &[u8]) -> Option<(&[u8], u64)> {
    if !raw.starts_with(EVENTS_FIELD) || !raw.ends_with(b"}") {
        return None;
    }
    let at = raw
        .windows(EXPIRY_FIELD.len())
        .rposition(|w| w == EXPIRY_FIELD)?;
    let digits = &raw[at + EXPIRY_FIELD.len()..raw.len() - 1];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let expires_at = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((&raw[..at], expires_at))
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
        let (expires_at, events) = read(raw).unwrap();
        assert_eq!(expires_at, 5);
        assert_eq!(events["a.B"].len(), 1);
        // A field of another shape counts as expired.
        for other in [&b"[99999999999999]"[..], b"{", b"", b"null"] {
            assert!(read(other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn a_set_as_written_is_read_once_whatever_its_expiry() {
        let stable = br#"{"events":{"cache.Test":["cache::one","cache::two"]}"#;
        let (at, first) = read(&written(stable, 10)).unwrap();
        assert_eq!(at, 10);
        assert_eq!(first["cache.Test"].len(), 2);
        let (at, again) = read(&written(stable, 20)).unwrap();
        assert_eq!(at, 20);
        assert!(Arc::ptr_eq(&first, &again), "read a second time");
        let other = br#"{"events":{"cache.Test":["cache::three"]}"#;
        let (_, other) = read(&written(other, 20)).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        // Only the layout this version writes is remembered; others are read in full.
        assert_eq!(split(br#"{"events":{},"expires_at":}"#), None);
        assert_eq!(split(br#"{"expires_at":5,"events":{}}"#), None);
    }
}
