//! Once per event id: which event ids this worker is handling or handled
//! lately, and under which stream entry, so that a second entry of the
//! same event taken while the first is still in flight (before its marker
//! reaches Redis) is known as a duplicate. The marker in Redis covers the
//! rest of the window and the other workers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::redis::stream_id::StreamId;

/// How long an event id is kept here: long enough to cover the entries in
/// flight at once, short enough to stay small.
const KEEP: Duration = Duration::from_secs(60);
/// Past this many event ids, the old ones are dropped.
const PRUNE_AT: usize = 16_384;

/// The event ids this worker took lately, each with its stream entry.
#[derive(Default)]
pub(crate) struct Recent {
    taken: Mutex<HashMap<String, (StreamId, Instant)>>,
}

impl Recent {
    /// Takes event `event` for stream entry `entry`: false when another
    /// entry took it lately (a duplicate); true for the first entry, and
    /// for the same entry coming back (a retry).
    pub(crate) fn take(&self, event: &str, entry: StreamId) -> bool {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if taken.len() >= PRUNE_AT {
            taken.retain(|_, (_, at)| now.duration_since(*at) < KEEP);
        }
        match taken.get(event) {
            Some((by, at)) if *by != entry && now.duration_since(*at) < KEEP => false,
            _ => {
                taken.insert(event.to_owned(), (entry, now));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_entry_of_one_event_is_a_duplicate_and_a_retry_is_not() {
        let recent = Recent::default();
        let (first, second) = (StreamId { ms: 1, seq: 0 }, StreamId { ms: 2, seq: 0 });
        assert!(recent.take("e1", first));
        assert!(recent.take("e1", first), "the same entry again: a retry");
        assert!(!recent.take("e1", second));
        assert!(recent.take("e2", second));
    }
}
