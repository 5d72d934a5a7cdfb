//! The jobs the reader hands to the handler threads: an entry held by this
//! worker, and whether it was delivered before.

use crossbeam_channel::Sender;

use crate::redis::conn::Link;
use crate::redis::reply::Entry;
use crate::redis::worker::markers;
use crate::redis::worker::shared::Shared;

/// An entry handed to a handler thread.
pub(crate) struct Job {
    pub(crate) entry: Entry,
    /// Delivered before (own pending entries at start, reclaimed ones):
    /// look for saved progress.
    pub(crate) redelivered: bool,
    /// With `once_per_event_id`: whether the group had finished the
    /// entry's event when the entry was read; `None` when that was not
    /// looked up then (the handler thread looks).
    pub(crate) finished: Option<bool>,
}

/// Queues entries just held for the handler threads, with whether their
/// events were finished before, looked up in one round trip on `link`.
pub(crate) fn hand_over(
    shared: &Shared,
    link: &mut Link,
    jobs: &Sender<Job>,
    entries: Vec<Entry>,
    redelivered: bool,
) {
    if entries.is_empty() {
        return;
    }
    shared.counters().add_received(entries.len() as u64);
    let finished = markers::finished(shared, link, &entries);
    for (entry, finished) in entries.into_iter().zip(finished) {
        // The channel holds as many jobs as there are slots: never full.
        let _ = jobs.send(Job {
            entry,
            redelivered,
            finished,
        });
    }
}
