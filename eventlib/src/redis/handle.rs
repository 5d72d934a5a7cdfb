//! The handler threads of a worker: decode an entry, run the group's
//! handlers with retries, and settle the entry.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};

use crate::decl::HandlerFn;
use crate::failure::{Failure, FailureKind};
use crate::notice::{self, Unhandled};
use crate::pool;
use crate::record::Record;
use crate::redis::ack::Settled;
use crate::redis::backoff;
use crate::redis::conn::Link;
use crate::redis::dead_letter::DeadLetterOut;
use crate::redis::groups;
use crate::redis::keys;
use crate::redis::read::Job;
use crate::redis::resp::{self, Entry};
use crate::redis::state::Shared;
use crate::redis::wire::{self, Decoded, StreamId, Undecodable};
use crate::registry::registry;

/// What is saved of an entry whose handlers need a retry, so that a worker
/// that takes it over runs only what is left.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Handlers (by path) that are finished: succeeded or dead-lettered.
    #[serde(default)]
    done: BTreeSet<String>,
    /// Failed attempts so far, by handler path.
    #[serde(default)]
    failures: BTreeMap<String, u32>,
    /// When the failed handlers run again (milliseconds since 1970).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_at: Option<u64>,
}

pub(crate) fn work(shared: &Shared, jobs: &Receiver<Job>, settled: &Sender<Settled>) {
    let mut link = shared.link(Duration::from_secs(10));
    for job in jobs.iter() {
        let id = job.entry.id;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(shared, &mut link, job)
        }));
        let outcome = outcome.unwrap_or_else(|_| {
            // A bug here, not in a handler (handlers' panics are caught):
            // leave the entry for another worker rather than lose it.
            log::error!("eventlib worker: internal panic while handling entry {id}");
            Settled::Release(id)
        });
        let _ = settled.send(outcome);
    }
}

fn handler_name(handler: u32) -> &'static str {
    registry().handlers[handler as usize].decl.name
}

fn handle(shared: &Shared, link: &mut Link, job: Job) -> Settled {
    let config = shared.config();
    let counters = shared.counters();
    let entry = &job.entry;
    let id = entry.id;
    if entry.fields.is_none() {
        // Deleted from the stream while pending: nothing to handle.
        return ack(id, Vec::new(), job.redelivered);
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
        return ack(id, vec![dead], job.redelivered);
    }
    let decoded = match entry.field(wire::FIELD) {
        Some(raw) => wire::decode(raw, id),
        None => Err(Undecodable::Poison(format!(
            "the entry has no `{}` field (it has: {})",
            wire::FIELD,
            entry.field_names().join(", ")
        ))),
    };
    let decoded = match decoded {
        Ok(decoded) => decoded,
        Err(Undecodable::UnknownEvent { name, .. }) if shared.elsewhere().handles(&name, None) => {
            return leave(shared, id, &name);
        }
        Err(undecodable) => {
            let reason = undecodable.reason();
            log::warn!(
                "eventlib worker: entry {id} of `{}` is dead-lettered: {reason}",
                config.stream
            );
            counters.add_poison(1);
            let dead = dead_letter(shared, entry, None, None, reason, 0);
            return ack(id, vec![dead], job.redelivered);
        }
    };
    if let Some(target) = decoded.group.as_deref().filter(|g| *g != config.group) {
        return for_another_group(shared, link, &job, &decoded, target);
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
                return leave(shared, id, decoded.name);
            }
            misdirected = missing;
        }
    } else if mine.is_empty() {
        if shared.elsewhere().handles(decoded.name, None) {
            return leave(shared, id, decoded.name);
        }
        counters.add_no_handler(1);
        notice::unhandled(
            Unhandled::NoHandler,
            decoded.name,
            &config.group,
            &id.to_string(),
        );
        return ack(id, Vec::new(), job.redelivered);
    }
    let mut progress = Progress::default();
    if job.redelivered {
        match load(shared, link, id) {
            Ok((saved, deliveries)) => {
                progress = saved;
                if deliveries > config.max_deliveries {
                    let reason = format!(
                        "delivered {deliveries} times without being acknowledged: the workers \
                         that took it stopped (crashed?) while handling it"
                    );
                    log::warn!("eventlib worker: entry {id} is dead-lettered: {reason}");
                    dead.push(dead_letter(shared, entry, Some(&decoded), None, &reason, 0));
                    return ack(id, dead, true);
                }
                let now = wire::millis(SystemTime::now());
                if let Some(at) = progress.retry_at.filter(|&at| at > now) {
                    // Taken before its backoff ended (over from a worker
                    // that stopped): it waits here instead.
                    return Settled::Retry {
                        id,
                        dead,
                        progress: None,
                        due: Instant::now() + Duration::from_millis(at - now),
                    };
                }
            }
            Err(err) => log::warn!(
                "eventlib worker: cannot read the progress of entry {id} ({err}); handlers that \
                 succeeded before may run again"
            ),
        }
    }
    misdirected.retain(|h| !progress.done.contains(*h));
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
        dead.push(dead_letter(shared, entry, Some(&decoded), None, &reason, 0));
        progress
            .done
            .extend(misdirected.iter().map(|h| (*h).to_owned()));
    }
    let pending: Vec<u32> = mine
        .into_iter()
        .filter(|&h| {
            let name = handler_name(h);
            let chosen = decoded
                .handlers
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == name));
            chosen && !progress.done.contains(name)
        })
        .collect();
    let mut failed = Vec::new();
    for handler in pending {
        let name = handler_name(handler);
        // Saved progress is data from Redis: a count out of range is read
        // as the last attempt.
        let attempt = progress
            .failures
            .get(name)
            .copied()
            .unwrap_or(0)
            .saturating_add(1)
            .min(config.max_attempts);
        if attempt > 1 {
            counters.add_retried(1);
        }
        let failure = match decoded.at_attempt(attempt) {
            Ok(record) => run_handler(shared, &record, handler),
            Err(reason) => Some(Failure {
                event: decoded.name,
                event_id: decoded.id,
                handler: Some(name),
                kind: FailureKind::Error(anyhow::anyhow!(reason)),
            }),
        };
        let Some(failure) = failure else {
            counters.add_handled(1);
            progress.done.insert(name.to_owned());
            continue;
        };
        shared.report(&failure);
        progress.failures.insert(name.to_owned(), attempt);
        if attempt >= config.max_attempts {
            let reason = failure.to_string();
            dead.push(dead_letter(
                shared,
                entry,
                Some(&decoded),
                Some(name),
                &reason,
                attempt,
            ));
            progress.done.insert(name.to_owned());
        } else {
            failed.push(handler);
        }
    }
    if failed.is_empty() {
        // Other workers of the group have handlers of this event that this
        // build lacks (a rolling deploy that adds one): the entry is theirs
        // to finish, with what ran here saved as done.
        let beyond = if decoded.handlers.is_none() {
            shared
                .elsewhere()
                .beyond(decoded.name, |h| progress.done.contains(h))
        } else {
            Vec::new()
        };
        if beyond.is_empty() {
            return ack(id, dead, job.redelivered);
        }
        shared.counters().add_left_for_others(1);
        notice::unhandled(
            Unhandled::LeftForOthers,
            decoded.name,
            &config.group,
            &id.to_string(),
        );
        return Settled::Leave {
            id,
            dead,
            progress: Some(serde_json::to_vec(&progress).unwrap_or_default()),
        };
    }
    // The entry stays pending with its progress and its retry time saved;
    // no thread waits for it: the reader takes it again when it is due (or
    // a worker that takes it over, after this one stopped, waits for it).
    let fewest = failed
        .iter()
        .map(|&h| progress.failures.get(handler_name(h)).copied().unwrap_or(1))
        .min()
        .unwrap_or(1);
    let wait = backoff::retry_delay(config.backoff_base, config.backoff_max, fewest);
    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    progress.retry_at = Some(wire::millis(SystemTime::now()).saturating_add(wait_ms));
    counters.add_deferred(1);
    Settled::Retry {
        id,
        dead,
        progress: Some(serde_json::to_vec(&progress).unwrap_or_default()),
        due: Instant::now() + wait,
    }
}

/// Leaves the entry pending, unacknowledged and not kept alive, so that a
/// worker of the group that has the handlers takes it over.
fn leave(shared: &Shared, id: StreamId, event: &str) -> Settled {
    let config = shared.config();
    shared.counters().add_left_for_others(1);
    notice::unhandled(
        Unhandled::LeftForOthers,
        event,
        &config.group,
        &id.to_string(),
    );
    Settled::Leave {
        id,
        dead: Vec::new(),
        progress: None,
    }
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

fn ack(id: StreamId, dead: Vec<DeadLetterOut>, clear_progress: bool) -> Settled {
    Settled::Ack {
        id,
        dead,
        clear_progress,
    }
}

/// Runs one handler with its failure contained (see `pool::run_one`).
fn run_handler(shared: &Shared, record: &Record, handler: u32) -> Option<Failure> {
    let is_async = matches!(
        registry().handlers[handler as usize].decl.call,
        HandlerFn::Async(_)
    );
    match &shared.config().spawner {
        Some(spawn) if is_async => {
            let (tx, rx) = futures::channel::oneshot::channel();
            let task_record = record.clone();
            spawn(Box::pin(async move {
                let _ = tx.send(pool::run_one(&task_record, handler).await);
            }));
            crate::hook::block_on(rx).unwrap_or_else(|_| {
                Some(Failure {
                    event: record.name(),
                    event_id: record.id(),
                    handler: Some(handler_name(handler)),
                    kind: FailureKind::Panic(
                        "the spawner dropped the handler's task before it finished".into(),
                    ),
                })
            })
        }
        _ => pool::run_one_here(record, handler),
    }
}

/// The saved progress of entry `id` and how many times it was delivered
/// to a worker that meant to handle it.
fn load(shared: &Shared, link: &mut Link, id: StreamId) -> redis::RedisResult<(Progress, u64)> {
    let config = shared.config();
    let (saved, passed, pending): (Option<Vec<u8>>, Option<u64>, redis::Value) =
        link.run(shared.counters().reconnects(), |c| {
            redis::pipe()
                .cmd("HGET")
                .arg(config.progress_key())
                .arg(id.to_string())
                .cmd("HGET")
                .arg(config.progress_key())
                .arg(keys::passed_field(&id.to_string()))
                .cmd("XPENDING")
                .arg(&config.stream)
                .arg(&config.group)
                .arg(id.to_string())
                .arg(id.to_string())
                .arg(1)
                .query(c)
        })?;
    let progress = saved
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or_default();
    // Deliveries to workers that left the entry for others are no crash.
    let deliveries = resp::delivery_count(&pending).saturating_sub(passed.unwrap_or(0));
    Ok((progress, deliveries))
}

fn dead_letter(
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
