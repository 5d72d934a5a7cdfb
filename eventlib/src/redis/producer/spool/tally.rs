//! With a spool, matching what Redis said about this run's events with the
//! records that went through the dispatcher's queue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::record::Record;
use crate::transport::Outbox;

/// With a spool, the in-memory queue only carries the records to be
/// counted: a thread of its own empties it at once, so that the overflow
/// policy never drops an event that is safe on disk. `false` when that
/// thread cannot be started (the sender then drains between batches).
pub(crate) fn start_drain(outbox: &Arc<Outbox>, tally: &Arc<Tally>) -> bool {
    let (outbox, tally) = (Arc::clone(outbox), Arc::clone(tally));
    std::thread::Builder::new()
        .name("eventlib-redis-drain".into())
        .spawn(move || loop {
            if let Some(record) = outbox.recv_timeout(Duration::from_secs(1)) {
                tally.seen(record);
            }
        })
        .map_err(|err| {
            log::warn!(
                "eventlib: cannot start the spool's drain thread ({err}); the sender drains"
            );
        })
        .is_ok()
}

/// With a spool, matches what Redis said about this run's events with the
/// records that went through the dispatcher's queue, so that each record
/// is confirmed (delivered or given up) exactly once. Only counts per
/// event type are kept, and one record of each type to confirm with: the
/// dispatcher's counters are per event type.
pub(crate) struct Tally {
    outbox: Arc<Outbox>,
    by_event: Mutex<HashMap<usize, Owed>>,
}

#[derive(Default)]
struct Owed {
    sample: Option<Record>,
    /// Records taken from the queue whose outcome is not known yet.
    unsettled: u64,
    /// Outcomes that came before their record.
    delivered: u64,
    refused: VecDeque<String>,
}

/// What Redis said about one spooled event.
pub(crate) enum Said {
    Confirmed,
    /// Refused for good; `record` is the event read back from the spool,
    /// when it could be, so that the hook names its own id.
    Refused {
        reason: String,
        record: Option<Record>,
    },
}

enum Outcome {
    Delivered(Record),
    Refused(Record, String),
}

impl Tally {
    pub(crate) fn new(outbox: Arc<Outbox>) -> Tally {
        Tally {
            outbox,
            by_event: Mutex::new(HashMap::new()),
        }
    }

    /// A record taken off the queue.
    pub(crate) fn seen(&self, record: Record) {
        let outcome = {
            let mut by_event = self.by_event.lock().unwrap_or_else(|e| e.into_inner());
            let owed = by_event.entry(record.index()).or_default();
            if owed.delivered > 0 {
                owed.delivered -= 1;
                Some(Outcome::Delivered(record))
            } else if let Some(reason) = owed.refused.pop_front() {
                Some(Outcome::Refused(record, reason))
            } else {
                owed.unsettled += 1;
                owed.sample.get_or_insert(record);
                None
            }
        };
        self.apply(outcome);
    }

    /// What Redis said about an event of type `index` of this run.
    pub(crate) fn settled(&self, index: usize, said: Said) {
        let outcome = {
            let mut by_event = self.by_event.lock().unwrap_or_else(|e| e.into_inner());
            let owed = by_event.entry(index).or_default();
            match (owed.unsettled > 0, owed.sample.clone()) {
                (true, Some(sample)) => {
                    owed.unsettled -= 1;
                    Some(match said {
                        Said::Confirmed => Outcome::Delivered(sample),
                        Said::Refused { reason, record } => {
                            Outcome::Refused(record.unwrap_or(sample), reason)
                        }
                    })
                }
                _ => {
                    match said {
                        Said::Confirmed => owed.delivered += 1,
                        Said::Refused { reason, .. } => owed.refused.push_back(reason),
                    }
                    None
                }
            }
        };
        self.apply(outcome);
    }

    fn apply(&self, outcome: Option<Outcome>) {
        match outcome {
            Some(Outcome::Delivered(record)) => self.outbox.delivered(&record),
            Some(Outcome::Refused(record, reason)) => self.outbox.undelivered(&record, reason),
            None => {}
        }
    }
}
