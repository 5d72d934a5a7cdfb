//! Once per event id, in Redis: whether the group finished an event
//! before, read from its marker (written with the acknowledgement), for a
//! whole read at once or for one entry.

use crate::redis::conn::Link;
use crate::redis::keys;
use crate::redis::reply::Entry;
use crate::redis::wire;
use crate::redis::worker::shared::Shared;

/// For each of `entries` just read, whether the group already finished
/// its event (with `once_per_event_id`), for every envelope that leads
/// with its event id, as eventlib's producers write it: one `EXISTS` of
/// all their markers, whose count is 0 for a read that holds no event
/// finished before (nearly every read); only otherwise is each marker
/// looked up (one `EXISTS` per marker, pipelined). `None` where it was not
/// looked up (the option off, another envelope shape, Redis failing): the
/// handler thread then looks with [`finished_before`].
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
            Some(keys::done(&config.stream, &config.group, id))
        })
        .collect();
    let keys: Vec<&str> = markers.iter().flatten().map(String::as_str).collect();
    if keys.is_empty() {
        return unknown;
    }
    match link.run(shared.counters().reconnects(), |c| look_up(c, &keys)) {
        Ok(found) => {
            let mut found = found.into_iter();
            markers
                .iter()
                .map(|marker| marker.as_ref().and_then(|_| found.next()))
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

/// Whether each of `keys` exists: the count of all of them first, then,
/// only if some exist (and there are several), each one.
fn look_up(c: &mut redis::Connection, keys: &[&str]) -> redis::RedisResult<Vec<bool>> {
    let existing: u64 = redis::cmd("EXISTS").arg(keys).query(c)?;
    if existing == 0 || keys.len() == 1 {
        return Ok(vec![existing > 0; keys.len()]);
    }
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.exists(key);
    }
    let each: Vec<u64> = pipe.query(c)?;
    Ok(each.into_iter().map(|n| n > 0).collect())
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
