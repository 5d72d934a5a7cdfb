//! The settlements any step may decide for an entry: acknowledge it, hand
//! it to another worker of the group, and the dead letters written with
//! them.

use crate::notice::{self, Unhandled};
use crate::redis::dead_letter::DeadLetterOut;
use crate::redis::reply::Entry;
use crate::redis::stream_id::StreamId;
use crate::redis::wire::Decoded;
use crate::redis::worker::ack::Settled;
use crate::redis::worker::progress::Progress;
use crate::redis::worker::shared::Shared;

/// Hands the entry to a live worker of the group that has the handlers
/// (every one of `handlers`, or any of the event's when `None`), with the
/// progress and dead letters of what ran here; when no such worker is known
/// yet, leaves it pending for whichever takes it over after the visibility
/// timeout.
pub(super) fn leave(
    shared: &Shared,
    id: StreamId,
    event: &str,
    handlers: Option<&[&str]>,
    ran: Option<(Progress, Vec<DeadLetterOut>)>,
) -> Settled {
    let config = shared.config();
    shared.counters().add_left_for_others(1);
    let to = shared.elsewhere().taker(event, handlers);
    notice::unhandled(
        Unhandled::LeftForOthers,
        event,
        &config.group,
        &id.to_string(),
    );
    let (progress, dead) = match ran {
        Some((progress, dead)) => (Some(progress.encode()), dead),
        None => (None, Vec::new()),
    };
    Settled::Leave {
        id,
        dead,
        progress,
        to,
    }
}

/// Acknowledges the entry with these dead letters (and, for an entry
/// delivered before, clears its saved progress).
pub(super) fn ack(id: StreamId, dead: Vec<DeadLetterOut>, clear_progress: bool) -> Settled {
    Settled::Ack {
        id,
        dead,
        clear_progress,
        done: None,
    }
}

/// The dead letter of `entry` as this worker writes it.
pub(super) fn dead_letter(
    shared: &Shared,
    entry: &Entry,
    decoded: Option<&Decoded>,
    handler: Option<&str>,
    reason: &str,
    attempts: u32,
) -> DeadLetterOut {
    let config = shared.config();
    DeadLetterOut::new(
        entry,
        &config.group,
        &config.consumer,
        decoded.map(|d| (d.name, d.id)),
        handler,
        reason,
        attempts,
    )
}
