//! Step 1: an entry read as an event, or settled at once: a deleted entry
//! is acknowledged, an oversized or poison one dead-lettered, one of an
//! event only other workers of the group know handed to them.

use crate::redis::wire::{self, Decoded, Undecodable};
use crate::redis::worker::ack::Settled;
use crate::redis::worker::jobs::Job;
use crate::redis::worker::shared::Shared;

use super::outcome::{ack, dead_letter, leave};

pub(super) fn decode(shared: &Shared, job: &Job) -> Result<Decoded, Settled> {
    let config = shared.config();
    let counters = shared.counters();
    let entry = &job.entry;
    let id = entry.id;
    if entry.fields.is_none() {
        // Deleted from the stream while pending: nothing to handle.
        return Err(ack(id, Vec::new(), job.redelivered));
    }
    let size = entry.size();
    if size > config.max_entry_bytes {
        let reason = format!(
            "the entry is {size} bytes, over the worker's `max_entry_bytes` of {}: not copied \
             here; the original is entry {id} of `{}` (until trimmed)",
            config.max_entry_bytes, config.stream
        );
        log::warn!("eventlib worker: entry {id} is dead-lettered: {reason}");
        counters.add_oversized(1);
        let dead = dead_letter(shared, entry, None, None, &reason, 0).without_copy(size);
        return Err(ack(id, vec![dead], job.redelivered));
    }
    let decoded = match entry.field(wire::FIELD) {
        Some(raw) => wire::decode(raw, id),
        None => Err(Undecodable::Poison(format!(
            "the entry has no `{}` field (it has: {})",
            wire::FIELD,
            entry.field_names().join(", ")
        ))),
    };
    match decoded {
        Ok(decoded) => Ok(decoded),
        Err(Undecodable::UnknownEvent { name, .. }) if shared.elsewhere().handles(&name, None) => {
            Err(leave(shared, id, &name, None, None))
        }
        Err(undecodable) => {
            let reason = undecodable.reason();
            log::warn!(
                "eventlib worker: entry {id} of `{}` is dead-lettered: {reason}",
                config.stream
            );
            counters.add_poison(1);
            let dead = dead_letter(shared, entry, None, None, reason, 0);
            Err(ack(id, vec![dead], job.redelivered))
        }
    }
}
