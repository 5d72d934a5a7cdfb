//! Step 2: which of the group's handlers run for a decoded entry. An entry
//! meant for another group, of an event no worker of the group handles,
//! already finished (once per event id), redelivered too often or not yet
//! due is settled here; otherwise the plan says which handlers run, with
//! the progress saved by earlier attempts.

use std::time::{Duration, Instant, SystemTime};

use crate::notice::{self, Unhandled};
use crate::redis::conn::Link;
use crate::redis::dead_letter::DeadLetterOut;
use crate::redis::groups;
use crate::redis::keys;
use crate::redis::wire::{self, Decoded};
use crate::redis::worker::ack::Settled;
use crate::redis::worker::jobs::Job;
use crate::redis::worker::markers;
use crate::redis::worker::progress::{self, Progress};
use crate::redis::worker::shared::Shared;
use crate::registry::registry;

use super::handler_name;
use super::outcome::{ack, dead_letter, leave};

/// What runs for an entry.
pub(super) struct Plan {
    /// The handlers to run, in dispatch order.
    pub(super) handlers: Vec<u32>,
    /// What earlier attempts did.
    pub(super) progress: Progress,
    /// Dead letters already due (handlers a replay names that nobody has).
    pub(super) dead: Vec<DeadLetterOut>,
    /// The marker to write once the group finished the event (with
    /// `once_per_event_id`).
    pub(super) done_key: Option<String>,
    /// Handlers of the entry left out because an operator paused them.
    pub(super) paused: bool,
}

pub(super) fn plan(
    shared: &Shared,
    link: &mut Link,
    job: &Job,
    decoded: &Decoded,
) -> Result<Plan, Settled> {
    let config = shared.config();
    let counters = shared.counters();
    let entry = &job.entry;
    let id = entry.id;
    if let Some(target) = decoded.group.as_deref().filter(|g| *g != config.group) {
        return Err(for_another_group(shared, link, job, decoded, target));
    }
    let mine: Vec<u32> = registry()
        .group_handlers(decoded.index, &config.group)
        .collect();
    let mut dead = Vec::new();
    // Replay targets no worker of the group has: dead-lettered once (they
    // are then saved as done with the rest of the progress).
    let mut misdirected: Vec<&str> = Vec::new();
    if let Some(targets) = &decoded.handlers {
        let missing: Vec<&str> = targets
            .iter()
            .map(String::as_str)
            .filter(|t| !mine.iter().any(|&h| handler_name(h) == *t))
            .collect();
        if !missing.is_empty() {
            if shared.elsewhere().handles(decoded.name, Some(&missing)) {
                return Err(leave(shared, id, decoded.name, Some(&missing), None));
            }
            misdirected = missing;
        }
    } else if mine.is_empty() {
        if shared.elsewhere().handles(decoded.name, None) {
            return Err(leave(shared, id, decoded.name, None, None));
        }
        counters.add_no_handler(1);
        notice::unhandled(
            Unhandled::NoHandler,
            decoded.name,
            &config.group,
            &id.to_string(),
        );
        return Err(ack(id, Vec::new(), job.redelivered));
    }
    // A replay names its handlers and always runs; other entries run once
    // per event id when the group remembers them.
    let done_key = config
        .once_window
        .filter(|_| decoded.handlers.is_none())
        .map(|_| keys::done(&config.stream, &config.group, decoded.id));
    if let Some(key) = &done_key {
        if !shared.recent().take(decoded.id, id)
            || job
                .finished
                .unwrap_or_else(|| markers::finished_before(shared, link, key))
        {
            counters.add_duplicates(1);
            return Err(ack(id, Vec::new(), job.redelivered));
        }
    }
    let mut progress = Progress::default();
    if job.redelivered {
        match progress::load(shared, link, id) {
            Ok((saved, deliveries)) => {
                progress = saved;
                if deliveries > config.max_deliveries {
                    let reason = format!(
                        "delivered {deliveries} times without being acknowledged: the workers \
                         that took it stopped (crashed?) while handling it"
                    );
                    log::warn!("eventlib worker: entry {id} is dead-lettered: {reason}");
                    dead.push(dead_letter(shared, entry, Some(decoded), None, &reason, 0));
                    return Err(ack(id, dead, true));
                }
                let now = wire::millis(SystemTime::now());
                if let Some(at) = progress.retry_at().filter(|&at| at > now) {
                    // Taken before its backoff ended (over from a worker
                    // that stopped): it waits here instead.
                    return Err(Settled::Retry {
                        id,
                        dead,
                        progress: None,
                        due: Instant::now() + Duration::from_millis(at - now),
                    });
                }
            }
            Err(err) => log::warn!(
                "eventlib worker: cannot read the progress of entry {id} ({err}); handlers that \
                 succeeded before may run again"
            ),
        }
    }
    misdirected.retain(|h| !progress.is_done(h));
    if !misdirected.is_empty() {
        let reason = format!(
            "the replay names handler(s) {} that no worker of group `{}` has for event `{}`",
            misdirected
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", "),
            config.group,
            decoded.name
        );
        log::warn!("eventlib worker: entry {id} is dead-lettered: {reason}");
        counters.add_misdirected(1);
        dead.push(dead_letter(shared, entry, Some(decoded), None, &reason, 0));
        for handler in &misdirected {
            progress.finish(handler.to_string());
        }
    }
    // What is due of the group's handlers runs, but paused handlers: the
    // entry waits for them.
    let held = shared.paused().held();
    let mut paused = false;
    let mut handlers = mine;
    handlers.retain(|&h| {
        let name = handler_name(h);
        let chosen = decoded
            .handlers
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name));
        if !chosen || progress.is_done(name) {
            return false;
        }
        let holds = held.holds(name);
        paused |= holds;
        !holds
    });
    Ok(Plan {
        handlers,
        progress,
        dead,
        done_key,
        paused,
    })
}

/// A replay meant for group `target`: skipped when that group exists (its
/// own workers handle it); dead-lettered, by one group only (the first of
/// the stream's groups by name), when it does not.
fn for_another_group(
    shared: &Shared,
    link: &mut Link,
    job: &Job,
    decoded: &Decoded,
    target: &str,
) -> Settled {
    let config = shared.config();
    let id = job.entry.id;
    let names = match groups::names(link, shared.counters().reconnects(), &config.stream) {
        Ok(names) => names,
        Err(err) => {
            log::warn!(
                "eventlib worker: cannot list the groups of `{}`: {err}",
                config.stream
            );
            // Left pending: looked at again once taken over.
            return Settled::Release(id);
        }
    };
    if names.iter().any(|n| n == target) {
        shared.counters().add_skipped(1);
        return ack(id, Vec::new(), job.redelivered);
    }
    if names
        .iter()
        .min()
        .is_some_and(|first| *first != config.group)
    {
        shared.counters().add_skipped(1);
        return ack(id, Vec::new(), job.redelivered);
    }
    let reason = format!(
        "the replay is meant for group `{target}`, which `{}` does not have (its groups: {})",
        config.stream,
        names.join(", ")
    );
    log::warn!("eventlib worker: entry {id} is dead-lettered: {reason}");
    shared.counters().add_misdirected(1);
    let dead = dead_letter(shared, &job.entry, Some(decoded), None, &reason, 0);
    ack(id, vec![dead], job.redelivered)
}
