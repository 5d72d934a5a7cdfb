//! Once per event id: whether the group finished an event before (its
//! marker in Redis, looked up for a whole read at once), and which event
//! ids this worker is handling or handled lately, under which stream
//! entry, so that a second entry of the same event taken while the first
//! is still in flight (before its marker reaches Redis) is known as a
//! duplicate. The marker covers the rest of the window and the other
//! workers.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::id::EventId;
use crate::redis::conn::Link;
use crate::redis::keys;
use crate::redis::reply::Entry;
use crate::redis::stream_id::StreamId;
use crate::redis::wire;
use crate::redis::worker::shared::Shared;

/// For each of `entries` just read, whether the group already finished
/// its event (with `once_per_event_id`): one pipelined `EXISTS` per
/// envelope that leads with its event id, as eventlib's producers write
/// it. `None` where it was not looked up (the option off, another
/// envelope shape, Redis failing): the handler thread then looks with
/// [`finished_before`].
pub(crate) fn finished(shared: &Shared, link: &mut Link, entries: &[Entry]) -> Vec<Option<bool>> {
    let config = shared.config();
    let unknown = vec![None; entries.len()];
    if config.once_window.is_none() {
        return unknown;
    }
    let markers: Vec<Option<String>> = entries
        .iter()
        .map(|entry| {
            let id = wire::leading_id(entry.field(wire::FIELD)?)?;
            Some(keys::done(&config.stream, &config.group, &id.to_string()))
        })
        .collect();
    let mut pipe = redis::pipe();
    for marker in markers.iter().flatten() {
        pipe.exists(marker);
    }
    if pipe.is_empty() {
        return unknown;
    }
    match link.run(shared.counters().reconnects(), |c| {
        pipe.query::<Vec<u64>>(c)
    }) {
        Ok(found) => {
            let mut found = found.into_iter();
            markers
                .iter()
                .map(|marker| marker.as_ref().and_then(|_| found.next()).map(|n| n > 0))
                .collect()
        }
        Err(err) => {
            log::warn!(
                "eventlib worker: cannot look up the markers of {} entries ({err}); each is \
                 looked up again before it is handled",
                entries.len()
            );
            unknown
        }
    }
}

/// Whether the group already finished the event of marker `key`; an error
/// reads as not finished (handled again rather than lost).
pub(crate) fn finished_before(shared: &Shared, link: &mut Link, key: &str) -> bool {
    match link.run(shared.counters().reconnects(), |c| {
        redis::cmd("EXISTS").arg(key).query::<u64>(c)
    }) {
        Ok(found) => found > 0,
        Err(err) => {
            log::warn!("eventlib worker: cannot check the marker {key} ({err}); handling it");
            false
        }
    }
}

/// How long an event id is kept here: long enough to cover the entries in
/// flight at once, short enough to stay small.
const KEEP: Duration = Duration::from_secs(60);
/// The most event ids kept: past it, the oldest go first.
const AT_MOST: usize = 16_384;

/// The event ids this worker took lately, each with its stream entry.
#[derive(Default)]
pub(crate) struct Recent {
    taken: Mutex<Taken>,
}

#[derive(Default)]
struct Taken {
    by_event: HashMap<EventId, (StreamId, Instant)>,
    /// The same ids in the order taken, to let the oldest go.
    order: VecDeque<(EventId, Instant)>,
}

impl Recent {
    /// Takes event `event` for stream entry `entry`: false when another
    /// entry took it lately (a duplicate); true for the first entry, and
    /// for the same entry coming back (a retry).
    pub(crate) fn take(&self, event: EventId, entry: StreamId) -> bool {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some((by, at)) = taken.by_event.get(&event) {
            if *by != entry && now.duration_since(*at) < KEEP {
                return false;
            }
        }
        taken.by_event.insert(event, (entry, now));
        taken.order.push_back((event, now));
        // Each id is let go once, at its last taking.
        while let Some(&(oldest, at)) = taken.order.front() {
            if taken.order.len() <= AT_MOST && now.duration_since(at) < KEEP {
                break;
            }
            taken.order.pop_front();
            if taken
                .by_event
                .get(&oldest)
                .is_some_and(|(_, last)| *last == at)
            {
                taken.by_event.remove(&oldest);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_entry_of_one_event_is_a_duplicate_and_a_retry_is_not() {
        let recent = Recent::default();
        let (first, second) = (StreamId { ms: 1, seq: 0 }, StreamId { ms: 2, seq: 0 });
        let (e1, e2) = (EventId::from_u128(1), EventId::from_u128(2));
        assert!(recent.take(e1, first));
        assert!(recent.take(e1, first), "the same entry again: a retry");
        assert!(!recent.take(e1, second));
        assert!(recent.take(e2, second));
    }

    #[test]
    fn past_the_limit_the_oldest_ids_go_and_the_rest_stay() {
        let recent = Recent::default();
        let entry = |n: u64| StreamId { ms: n, seq: 0 };
        for n in 0..(AT_MOST as u64 + 10) {
            assert!(recent.take(EventId::from_u128(n.into()), entry(n)));
        }
        let taken = recent.taken.lock().unwrap();
        assert_eq!(
            (taken.by_event.len(), taken.order.len()),
            (AT_MOST, AT_MOST)
        );
        drop(taken);
        // The oldest went: a second entry of it is no longer known here.
        assert!(recent.take(EventId::from_u128(0), entry(u64::MAX)));
        // A recent one stays.
        let last = AT_MOST as u64 + 9;
        assert!(!recent.take(EventId::from_u128(last.into()), entry(u64::MAX)));
    }
}
