//! Once per event id: which event ids this worker is handling or handled
//! lately, and under which stream entry, so that a second entry of the
//! same event taken while the first is still in flight (before its marker
//! reaches Redis) is known as a duplicate. The marker (`markers`) covers
//! the rest of the window and the other workers.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::id::EventId;
use crate::redis::stream_id::StreamId;

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
