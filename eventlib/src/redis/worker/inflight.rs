//! The entries a worker holds: taken from the stream and not yet
//! acknowledged or let go. Their number is bounded by the prefetch (the
//! slots); the set keeps an entry from being taken twice and tells the
//! heartbeat which entries to keep alive.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::redis::reply::Entry;
use crate::redis::stream_id::StreamId;

pub(crate) struct InFlight {
    held: Mutex<HashSet<StreamId>>,
    /// `held.len()`, readable without the lock (for the stats).
    count: AtomicU64,
    /// Slots reserved or held count against `total`.
    free: Mutex<Free>,
    changed: Condvar,
    total: usize,
}

/// The free slots, and how many the reader waits for: a slot freed
/// wakes it only once that many are free (or all are), not for each
/// entry handled.
struct Free {
    slots: usize,
    wanted: usize,
}

impl InFlight {
    /// Room for `total` entries at once.
    pub(crate) fn new(total: usize) -> Self {
        InFlight {
            held: Mutex::new(HashSet::new()),
            count: AtomicU64::new(0),
            free: Mutex::new(Free {
                slots: total,
                wanted: usize::MAX,
            }),
            changed: Condvar::new(),
            total,
        }
    }

    /// Reserves up to `max` free slots, waiting at most `timeout` for
    /// `at_least` of them (or, after the timeout, for any); returns how
    /// many. Each is given back with
    /// [`give_back`](Self::give_back) or, once an entry fills it, with
    /// [`release`](Self::release).
    pub(crate) fn take_slots(&self, max: usize, at_least: usize, timeout: Duration) -> usize {
        let at_least = at_least.clamp(1, self.total.max(1));
        let mut guard = self.free.lock().unwrap_or_else(|e| e.into_inner());
        guard.wanted = at_least;
        let (mut free, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |free| free.slots < at_least)
            .unwrap_or_else(|e| e.into_inner());
        free.wanted = usize::MAX;
        let n = free.slots.min(max);
        free.slots -= n;
        n
    }

    /// Gives back `n` reserved slots no entry filled.
    pub(crate) fn give_back(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free.slots = (free.slots + n).min(self.total);
        // The reader waits for `wanted`, `wait_all_free` for all of them.
        if free.slots >= free.wanted || free.slots == self.total {
            self.changed.notify_all();
        }
    }

    /// Holds `entries` in reserved slots: drops those held already (an
    /// entry redelivered while it is being handled is not taken twice),
    /// keeps at most `slots`, and returns how many are now held.
    pub(crate) fn hold(&self, entries: &mut Vec<Entry>, slots: usize) -> usize {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|e| !held.contains(&e.id));
        entries.truncate(slots);
        held.extend(entries.iter().map(|e| e.id));
        self.count.store(held.len() as u64, Ordering::Relaxed);
        entries.len()
    }

    /// Frees the slot of an entry whose handlers are done and which only
    /// waits for its acknowledgement: the reader may take the next entry
    /// while the acknowledgement is on its way. The entry stays held (not
    /// taken twice, kept alive) until [`release`](Self::release)d.
    pub(crate) fn handled(&self) {
        self.give_back(1);
    }

    /// Lets settled entries go (acknowledged, or left pending for another
    /// worker), freeing their slots but for `handled` of them, which
    /// [`handled`](Self::handled) freed already.
    pub(crate) fn release(&self, ids: &[StreamId], handled: usize) {
        if ids.is_empty() {
            return;
        }
        {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            for id in ids {
                held.remove(id);
            }
            self.count.store(held.len() as u64, Ordering::Relaxed);
        }
        // Under the lock, so that a `wait_all_free` that read the count
        // before it changed is waiting by now, and is woken.
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free.slots = (free.slots + ids.len().saturating_sub(handled)).min(self.total);
        self.changed.notify_all();
    }

    /// The entries held now.
    pub(crate) fn held(&self) -> Vec<StreamId> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.iter().copied().collect()
    }

    /// How many entries are held now.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Waits until every slot is free again and nothing is held (every
    /// entry acknowledged or let go), or until `deadline`; returns whether
    /// it is.
    pub(crate) fn wait_all_free(&self, deadline: Instant) -> bool {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while free.slots < self.total || self.count() > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            free = self
                .changed
                .wait_timeout(free, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_WAIT: Duration = Duration::ZERO;

    fn entries(ids: &[u64]) -> Vec<Entry> {
        ids.iter()
            .map(|&ms| Entry {
                id: StreamId { ms, seq: 0 },
                fields: None,
            })
            .collect()
    }

    fn id(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }

    #[test]
    fn slots_bound_what_is_taken() {
        let inflight = InFlight::new(4);
        assert_eq!(inflight.take_slots(3, 1, NO_WAIT), 3);
        assert_eq!(inflight.take_slots(3, 1, NO_WAIT), 1);
        assert_eq!(inflight.take_slots(3, 1, Duration::from_millis(10)), 0);
        inflight.give_back(2);
        assert_eq!(inflight.take_slots(10, 1, NO_WAIT), 2);
    }

    #[test]
    fn an_entry_is_held_once() {
        let inflight = InFlight::new(8);
        let slots = inflight.take_slots(8, 1, NO_WAIT);
        let mut first = entries(&[1, 2]);
        assert_eq!(inflight.hold(&mut first, slots), 2);
        let mut again = entries(&[2, 3]);
        assert_eq!(inflight.hold(&mut again, slots - 2), 1);
        assert_eq!(again[0].id, id(3));
        assert_eq!(inflight.count(), 3);
        let mut held = inflight.held();
        held.sort();
        assert_eq!(held, [id(1), id(2), id(3)]);
    }

    #[test]
    fn hold_keeps_no_more_than_the_slots() {
        let inflight = InFlight::new(8);
        let mut batch = entries(&[1, 2, 3]);
        assert_eq!(inflight.hold(&mut batch, 2), 2);
        assert_eq!(batch.len(), 2);
    }

    #[test]
    fn release_frees_entries_and_slots() {
        let inflight = InFlight::new(2);
        let slots = inflight.take_slots(2, 1, NO_WAIT);
        inflight.hold(&mut entries(&[1, 2]), slots);
        assert!(!inflight.wait_all_free(Instant::now()));
        inflight.release(&[id(1)], 0);
        assert_eq!(inflight.count(), 1);
        assert_eq!(inflight.take_slots(2, 1, NO_WAIT), 1);
        inflight.give_back(1);
        inflight.release(&[id(2)], 0);
        assert_eq!(inflight.count(), 0);
        assert!(inflight.wait_all_free(Instant::now()));
        // Released entries may be held again.
        assert_eq!(inflight.hold(&mut entries(&[1]), 1), 1);
    }

    #[test]
    fn a_handled_entry_frees_its_slot_and_stays_held_until_released() {
        let inflight = InFlight::new(2);
        let slots = inflight.take_slots(2, 1, NO_WAIT);
        inflight.hold(&mut entries(&[1, 2]), slots);
        inflight.handled();
        assert_eq!(inflight.take_slots(2, 1, NO_WAIT), 1);
        assert_eq!(
            inflight.hold(&mut entries(&[1, 3]), 1),
            1,
            "1 is still held"
        );
        assert_eq!(inflight.count(), 3);
        inflight.release(&[id(1)], 1);
        assert_eq!(inflight.take_slots(2, 1, NO_WAIT), 0);
        inflight.release(&[id(2), id(3)], 0);
        assert!(inflight.wait_all_free(Instant::now()));
    }

    #[test]
    fn wait_all_free_wakes_on_release() {
        let inflight = std::sync::Arc::new(InFlight::new(1));
        let slots = inflight.take_slots(1, 1, NO_WAIT);
        inflight.hold(&mut entries(&[1]), slots);
        let releaser = {
            let inflight = std::sync::Arc::clone(&inflight);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                inflight.release(&[id(1)], 0);
            })
        };
        assert!(inflight.wait_all_free(Instant::now() + Duration::from_secs(10)));
        releaser.join().unwrap();
    }
}
