//! The jobs the reader hands to the handler threads: an entry held by this
//! worker, and whether it was delivered before.

use crossbeam_channel::Sender;

use crate::redis::reply::Entry;
use crate::redis::worker::shared::Shared;

/// An entry handed to a handler thread.
pub(crate) struct Job {
    pub(crate) entry: Entry,
    /// Delivered before (own pending entries at start, reclaimed ones):
    /// look for saved progress.
    pub(crate) redelivered: bool,
}

/// Queues entries just held for the handler threads.
pub(crate) fn hand_over(
    shared: &Shared,
    jobs: &Sender<Job>,
    entries: Vec<Entry>,
    redelivered: bool,
) {
    if entries.is_empty() {
        return;
    }
    shared.counters().add_received(entries.len() as u64);
    for entry in entries {
        // The channel holds as many jobs as there are slots: never full.
        let _ = jobs.send(Job { entry, redelivered });
    }
}
