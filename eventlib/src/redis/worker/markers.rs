//! Once per event id, in Redis: whether the group finished an event
//! before, read from its marker (written with the acknowledgement), for a
//! whole read at once or for one entry.

use crate::redis::conn::Link;
use crate::redis::keys;
use crate::redis::reply::Entry;
use crate::redis::wire;
use crate::redis::worker::shared::Shared;

/// For each of `entries` just read, whether the group already finished
/// its event (with `once_per_event_id`): one pipelined `EXISTS` per
/// envelope that leads with its event id, as eventlib's producers write
/// it. `None` where it was not looked up (the option off, another
/// envelope shape, Redis failing): the handler thread then looks with
/// [`finished_before`].
pub(crate) fn finished(shared: &Shared, link: &mut Link, entries: &[Entry]) -> Vec<Option<bool>> {
    let config = shared.config();
    let unknown = vec![None; entries.len()];
    if config.once_window.is_none() {
        return unknown;
    }
    let markers: Vec<Option<String>> = entries
        .iter()
        .map(|entry| {
            let id = wire::leading_id(entry.field(wire::FIELD)?)?;
            Some(keys::done(&config.stream, &config.group, &id.to_string()))
        })
        .collect();
    let mut pipe = redis::pipe();
    for marker in markers.iter().flatten() {
        pipe.exists(marker);
    }
    if pipe.is_empty() {
        return unknown;
    }
    match link.run(shared.counters().reconnects(), |c| {
        pipe.query::<Vec<u64>>(c)
    }) {
        Ok(found) => {
            let mut found = found.into_iter();
            markers
                .iter()
                .map(|marker| marker.as_ref().and_then(|_| found.next()).map(|n| n > 0))
                .collect()
        }
        Err(err) => {
            log::warn!(
                "eventlib worker: cannot look up the markers of {} entries ({err}); each is \
                 looked up again before it is handled",
                entries.len()
            );
            unknown
        }
    }
}

/// Whether the group already finished the event of marker `key`; an error
/// reads as not finished (handled again rather than lost).
pub(crate) fn finished_before(shared: &Shared, link: &mut Link, key: &str) -> bool {
    match link.run(shared.counters().reconnects(), |c| {
        redis::cmd("EXISTS").arg(key).query::<u64>(c)
    }) {
        Ok(found) => found > 0,
        Err(err) => {
            let line = format!(
                "eventlib worker `{}`: cannot look up the once-per-event-id marker {key} ({}); \
                 handling the entry, so a copy of an event finished before may run again (the \
                 worker's Redis user needs +exists)",
                shared.config().consumer,
                crate::redis::fault::describe(&err)
            );
            // Told once per process even with no logger; every time to `log`.
            static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if TOLD.swap(true, std::sync::atomic::Ordering::Relaxed) {
                log::warn!("{line}");
            } else {
                crate::notice::warn(&line);
            }
            false
        }
    }
}
