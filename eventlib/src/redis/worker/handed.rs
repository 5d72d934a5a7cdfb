//! Entries handed to this worker by another of its group: a worker that
//! lacks handlers of an entry (a rolling deploy, with two builds side by
//! side) moves it to the pending list of one that has them with
//! `XCLAIM ... JUSTID`. The reader looks at its own pending list every
//! [`LOOK_EVERY`] for entries it neither holds nor waits to retry, and takes
//! them with `XCLAIM` (which counts a delivery, so an entry that keeps
//! coming back is dead-lettered after `max_deliveries`).

use std::time::Duration;

use crossbeam_channel::Sender;
use redis::streams::StreamPendingCountReply;

use crate::redis::conn::Link;
use crate::redis::reply::{self, Entry};
use crate::redis::worker::jobs::{hand_over, Job};
use crate::redis::worker::shared::Shared;

/// How often the reader looks for entries handed to it.
pub(crate) const LOOK_EVERY: Duration = Duration::from_millis(500);

/// Takes up to `free` entries of this worker's pending list that it does
/// not know (handed to it); returns how many were taken.
pub(crate) fn take_handed(
    shared: &Shared,
    link: &mut Link,
    jobs: &Sender<Job>,
    free: usize,
) -> redis::RedisResult<usize> {
    let config = shared.config();
    let known = shared.in_hand();
    let reconnects = shared.counters().reconnects();
    let mine: StreamPendingCountReply = link.run(reconnects, |c| {
        redis::cmd("XPENDING")
            .arg(&config.stream)
            .arg(&config.group)
            .arg("-")
            .arg("+")
            .arg(known.len() + free)
            .arg(&config.consumer)
            .query(c)
    })?;
    let handed: Vec<String> = reply::pending_ids(&mine)
        .into_iter()
        .filter(|id| !known.contains(id))
        .take(free)
        .map(|id| id.to_string())
        .collect();
    if handed.is_empty() {
        return Ok(0);
    }
    // Redis 6.2 answers nil for an entry deleted meanwhile; Redis 7 leaves
    // it out.
    let claimed: Vec<Option<Entry>> = link.run(reconnects, |c| {
        redis::cmd("XCLAIM")
            .arg(&config.stream)
            .arg(&config.group)
            .arg(&config.consumer)
            .arg(0)
            .arg(&handed)
            .query(c)
    })?;
    let mut entries: Vec<Entry> = claimed.into_iter().flatten().collect();
    let taken = shared.inflight().hold(&mut entries, free);
    hand_over(shared, link, jobs, entries, true);
    Ok(taken)
}
