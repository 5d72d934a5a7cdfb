//! The entries of a worker that wait for a retry, by when they are due.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::redis::stream_id::StreamId;

/// The entries of this worker that wait for a retry: pending in Redis,
/// their progress saved, holding no slot and no thread. The reader takes
/// them again when they are due.
#[derive(Default)]
pub(crate) struct Waiting {
    schedule: Mutex<Schedule>,
    count: AtomicU64,
}

#[derive(Default)]
struct Schedule {
    by_due: BTreeSet<(Instant, StreamId)>,
    due_of: HashMap<StreamId, Instant>,
    /// Entries set aside for a paused handler: due when it resumes.
    aside: HashSet<StreamId>,
}

impl Schedule {
    fn count(&self) -> u64 {
        (self.due_of.len() + self.aside.len()) as u64
    }
}

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Entry `id` is to be taken again at `due` (replacing an earlier
    /// time).
    pub(crate) fn schedule(&self, id: StreamId, due: Instant) {
        let mut schedule = self.lock();
        if let Some(old) = schedule.due_of.insert(id, due) {
            schedule.by_due.remove(&(old, id));
        }
        schedule.by_due.insert((due, id));
        schedule.aside.remove(&id);
        self.count.store(schedule.count(), Ordering::Relaxed);
    }

    /// Entry `id` waits for a paused handler: it is due when
    /// [`wake_aside`](Self::wake_aside) is called.
    pub(crate) fn set_aside(&self, id: StreamId) {
        let mut schedule = self.lock();
        if let Some(old) = schedule.due_of.remove(&id) {
            schedule.by_due.remove(&(old, id));
        }
        schedule.aside.insert(id);
        self.count.store(schedule.count(), Ordering::Relaxed);
    }

    /// Every entry set aside is due now (a pause ended).
    pub(crate) fn wake_aside(&self) -> usize {
        let aside: Vec<StreamId> = self.lock().aside.drain().collect();
        let now = Instant::now();
        for id in &aside {
            self.schedule(*id, now);
        }
        aside.len()
    }

    /// Removes and returns up to `max` entries due at `now`, the earliest
    /// first.
    pub(crate) fn take_due(&self, now: Instant, max: usize) -> Vec<StreamId> {
        let mut schedule = self.lock();
        let mut due = Vec::new();
        while due.len() < max {
            match schedule.by_due.first() {
                Some(&(at, id)) if at <= now => {
                    schedule.by_due.remove(&(at, id));
                    schedule.due_of.remove(&id);
                    due.push(id);
                }
                _ => break,
            }
        }
        self.count.store(schedule.count(), Ordering::Relaxed);
        due
    }

    /// Puts entries taken by [`take_due`](Self::take_due) back, due now
    /// (they could not be claimed).
    pub(crate) fn put_back(&self, ids: &[StreamId]) {
        let now = Instant::now();
        for id in ids {
            self.schedule(*id, now);
        }
    }

    /// When the earliest entry is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.lock().by_due.first().map(|(at, _)| *at)
    }

    /// The entries waiting now.
    pub(crate) fn ids(&self) -> Vec<StreamId> {
        let schedule = self.lock();
        schedule
            .due_of
            .keys()
            .chain(schedule.aside.iter())
            .copied()
            .collect()
    }

    /// How many entries wait now.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn id(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }

    #[test]
    fn waiting_entries_come_back_when_due_earliest_first() {
        let waiting = Waiting::default();
        let now = Instant::now();
        waiting.schedule(id(1), now + Duration::from_secs(60));
        waiting.schedule(id(2), now + Duration::from_millis(5));
        waiting.schedule(id(3), now);
        assert_eq!(waiting.count(), 3);
        assert_eq!(waiting.next_due(), Some(now));
        assert_eq!(waiting.take_due(now, 10), [id(3)]);
        let later = now + Duration::from_millis(10);
        assert_eq!(waiting.take_due(later, 10), [id(2)]);
        assert!(waiting.take_due(later, 10).is_empty());
        // Scheduled again: the new time replaces the old one.
        waiting.schedule(id(1), now);
        assert_eq!(waiting.count(), 1);
        assert_eq!(waiting.take_due(later, 0), Vec::<StreamId>::new());
        assert_eq!(waiting.take_due(later, 1), [id(1)]);
        assert_eq!(waiting.count(), 0);
        waiting.put_back(&[id(4)]);
        assert_eq!(waiting.ids(), [id(4)]);
    }

    #[test]
    fn entries_set_aside_wait_until_woken() {
        let waiting = Waiting::default();
        let now = Instant::now();
        waiting.schedule(id(1), now);
        waiting.set_aside(id(1));
        waiting.set_aside(id(2));
        assert_eq!(waiting.count(), 2);
        assert!(waiting
            .take_due(now + Duration::from_secs(3600), 10)
            .is_empty());
        let mut ids = waiting.ids();
        ids.sort();
        assert_eq!(ids, [id(1), id(2)]);
        assert_eq!(waiting.wake_aside(), 2);
        assert_eq!(waiting.take_due(Instant::now(), 10).len(), 2);
        assert_eq!(waiting.count(), 0);
    }
}
