//! What this worker's handlers did since it last published it: per event
//! and handler of its group, the runs by outcome and run time, the retries
//! and the dead letters. The upkeep thread takes the counts every few
//! seconds and adds them to the buckets in Redis (`redis/timeline.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::redis::timeline::{run_time_bucket, Count, RUN_TIME_BUCKETS};
use crate::registry::registry;

/// The counts of one handler for one event.
struct Slot {
    event: &'static str,
    handler: &'static str,
    counts: [AtomicU64; Count::ALL.len()],
    run_times: [AtomicU64; RUN_TIME_BUCKETS],
}

/// The counts of one handler for one event, taken.
pub(crate) struct Taken {
    pub(crate) event: &'static str,
    pub(crate) handler: &'static str,
    pub(crate) counts: [u64; Count::ALL.len()],
    pub(crate) run_times: [u64; RUN_TIME_BUCKETS],
}

/// Every handler of the group for every event, in registry order.
pub(crate) struct Tally {
    slots: Vec<Slot>,
    /// For each event of the registry, its first slot and its handlers of
    /// the group (registry indices), in slot order.
    events: Vec<(usize, Vec<u32>)>,
}

impl Tally {
    /// Zero counts for every handler of `group`.
    pub(crate) fn new(group: &str) -> Tally {
        let registry = registry();
        let (mut slots, mut events) = (Vec::new(), Vec::new());
        for event in &registry.events {
            let first = slots.len();
            let mut mine = Vec::new();
            for &h in &event.handlers {
                let decl = registry.handlers[h as usize].decl;
                if decl.group() != group {
                    continue;
                }
                mine.push(h);
                slots.push(Slot {
                    event: event.decl.name,
                    handler: decl.name,
                    counts: Default::default(),
                    run_times: std::array::from_fn(|_| AtomicU64::new(0)),
                });
            }
            events.push((first, mine));
        }
        Tally { slots, events }
    }

    fn slot(&self, event: u32, handler: u32) -> Option<&Slot> {
        let (first, handlers) = self.events.get(event as usize)?;
        let at = handlers.iter().position(|&h| h == handler)?;
        self.slots.get(first + at)
    }

    /// A run of `handler` for `event` ended as `outcome` after `took`.
    pub(crate) fn ran(&self, event: u32, handler: u32, outcome: Count, took: Duration) {
        if let Some(slot) = self.slot(event, handler) {
            slot.counts[outcome.index()].fetch_add(1, Ordering::Relaxed);
            slot.run_times[run_time_bucket(took)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one `count` (a retry, a dead letter) of `handler` for `event`.
    pub(crate) fn add(&self, event: u32, handler: u32, count: Count) {
        if let Some(slot) = self.slot(event, handler) {
            slot.counts[count.index()].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the counts since the last time, leaving zeros (handlers that
    /// did nothing are left out).
    pub(crate) fn take(&self) -> Vec<Taken> {
        self.slots
            .iter()
            .filter_map(|slot| {
                let counts = std::array::from_fn(|i| slot.counts[i].swap(0, Ordering::Relaxed));
                let run_times =
                    std::array::from_fn(|i| slot.run_times[i].swap(0, Ordering::Relaxed));
                let any = counts.iter().chain(run_times.iter()).any(|&n| n > 0);
                any.then_some(Taken {
                    event: slot.event,
                    handler: slot.handler,
                    counts,
                    run_times,
                })
            })
            .collect()
    }

    /// Puts counts taken back (they could not be published).
    pub(crate) fn put_back(&self, taken: &[Taken]) {
        for t in taken {
            let Some(slot) = self
                .slots
                .iter()
                .find(|s| s.event == t.event && s.handler == t.handler)
            else {
                continue;
            };
            for (a, n) in slot.counts.iter().zip(t.counts) {
                a.fetch_add(n, Ordering::Relaxed);
            }
            for (a, n) in slot.run_times.iter().zip(t.run_times) {
                a.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}
