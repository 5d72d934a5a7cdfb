//! Step 4: what becomes of an entry once its handlers ran: acknowledged
//! when every handler is finished here, handed to another worker of the
//! group when that worker has handlers this build lacks, left pending with
//! its progress until its retry is due, or set aside until a paused
//! handler resumes.

use std::time::{Instant, SystemTime};

use crate::redis::backoff;
use crate::redis::wire::{self, Decoded};
use crate::redis::worker::ack::Settled;
use crate::redis::worker::jobs::Job;
use crate::redis::worker::shared::Shared;

use super::handler_name;
use super::outcome::leave;
use super::run::Ran;

pub(super) fn settle(shared: &Shared, job: &Job, decoded: &Decoded, ran: Ran) -> Settled {
    let config = shared.config();
    let id = job.entry.id;
    let Ran {
        mut progress,
        dead,
        failed,
        done_key,
        paused,
    } = ran;
    if failed.is_empty() && paused {
        // What could run ran; the entry waits, set aside, for the paused
        // handlers to resume.
        shared.counters().add_paused(1);
        return Settled::Hold {
            id,
            dead,
            progress: Some(progress.encode()),
        };
    }
    if failed.is_empty() {
        // Other workers of the group have handlers of this event that this
        // build lacks (a rolling deploy that adds one): the entry is theirs
        // to finish, with what ran here saved as done.
        let beyond = if decoded.handlers.is_none() {
            shared
                .elsewhere()
                .beyond(decoded.name, |h| progress.is_done(h))
        } else {
            Vec::new()
        };
        if beyond.is_empty() {
            return Settled::Ack {
                id,
                dead,
                clear_progress: job.redelivered,
                done: done_key,
            };
        }
        let needed: Vec<&str> = beyond.iter().map(String::as_str).collect();
        return leave(
            shared,
            id,
            decoded.name,
            Some(&needed),
            Some((progress, dead)),
        );
    }
    // The entry stays pending with its progress and its retry time saved;
    // no thread waits for it: the reader takes it again when it is due (or
    // a worker that takes it over, after this one stopped, waits for it).
    let fewest = failed
        .iter()
        .map(|&h| progress.failures(handler_name(h)).max(1))
        .min()
        .unwrap_or(1);
    let wait = backoff::retry_delay(config.backoff_base, config.backoff_max, fewest);
    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    progress.set_retry_at(wire::millis(SystemTime::now()).saturating_add(wait_ms));
    shared.counters().add_deferred(1);
    Settled::Retry {
        id,
        dead,
        progress: Some(progress.encode()),
        due: Instant::now() + wait,
    }
}
