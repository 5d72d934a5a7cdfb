//! The handler threads of a worker: decode an entry, run the group's
//! handlers with retries, and settle the entry.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};

use crate::decl::HandlerFn;
use crate::handler::{Failure, FailureKind};
use crate::pool;
use crate::record::Record;
use crate::redis::ack::Settled;
use crate::redis::backoff;
use crate::redis::conn::Link;
use crate::redis::dead_letter::DeadLetterOut;
use crate::redis::read::Job;
use crate::redis::resp::{self, Entry};
use crate::redis::wire::{self, Decoded, StreamId};
use crate::redis::worker::Shared;
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
}

pub(crate) fn work(shared: &Shared, jobs: &Receiver<Job>, settled: &Sender<Settled>) {
    let mut link = shared.link(Duration::from_secs(10));
    for job in jobs.iter() {
        let id = job.entry.id;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(shared, &mut link, job, settled)
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

fn handle(shared: &Shared, link: &mut Link, job: Job, settled: &Sender<Settled>) -> Settled {
    let config = shared.config();
    let counters = shared.counters();
    let entry = &job.entry;
    let id = entry.id;
    if entry.fields.is_none() {
        // Deleted from the stream while pending: nothing to handle.
        return ack(id, Vec::new(), job.redelivered);
    }
    let decoded = match entry.field(wire::FIELD) {
        Some(raw) => wire::decode(raw, id),
        None => Err(format!(
            "the entry has no `{}` field (it has: {})",
            wire::FIELD,
            entry.field_names().join(", ")
        )),
    };
    let decoded = match decoded {
        Ok(decoded) => decoded,
        Err(reason) => {
            log::warn!(
                "eventlib worker: entry {id} of `{}` is dead-lettered: {reason}",
                config.stream
            );
            counters.add_poison(1);
            let dead = dead_letter(shared, entry, None, None, &reason, 0);
            return ack(id, vec![dead], job.redelivered);
        }
    };
    if decoded.group.as_ref().is_some_and(|g| *g != config.group) {
        // A replay meant for another group.
        counters.add_skipped(1);
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
                    let dead = dead_letter(shared, entry, Some(&decoded), None, &reason, 0);
                    return ack(id, vec![dead], true);
                }
            }
            Err(err) => log::warn!(
                "eventlib worker: cannot read the progress of entry {id} ({err}); handlers that \
                 succeeded before may run again"
            ),
        }
    }
    let mut pending: Vec<u32> = registry()
        .group_handlers(decoded.index, &config.group)
        .filter(|&h| {
            let name = handler_name(h);
            let chosen = decoded
                .handlers
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == name));
            chosen && !progress.done.contains(name)
        })
        .collect();
    let mut dead = Vec::new();
    let mut saved = job.redelivered;
    loop {
        let mut failed = Vec::new();
        for handler in pending {
            let name = handler_name(handler);
            let attempt = progress.failures.get(name).copied().unwrap_or(0) + 1;
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
            return ack(id, dead, saved);
        }
        // Saved before the wait, so that a worker that takes the entry over
        // runs only what is left; dead letters go in the same transaction.
        let _ = settled.send(Settled::Progress {
            id,
            dead: std::mem::take(&mut dead),
            progress: serde_json::to_vec(&progress).unwrap_or_default(),
        });
        saved = true;
        let fewest = failed
            .iter()
            .map(|&h| progress.failures.get(handler_name(h)).copied().unwrap_or(1))
            .min()
            .unwrap_or(1);
        let wait = backoff::retry_delay(config.backoff_base, config.backoff_max, fewest);
        if shared.stop().sleep(wait) {
            // Shutting down: the entry stays pending, its progress saved.
            return Settled::Release(id);
        }
        pending = failed;
    }
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
            futures::executor::block_on(rx).unwrap_or_else(|_| {
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
        _ => futures::executor::block_on(pool::run_one(record, handler)),
    }
}

/// The saved progress of entry `id` and how many times it was delivered.
fn load(shared: &Shared, link: &mut Link, id: StreamId) -> redis::RedisResult<(Progress, u64)> {
    let config = shared.config();
    let (saved, pending): (Option<Vec<u8>>, redis::Value) =
        link.run(shared.counters().reconnects(), |c| {
            redis::pipe()
                .cmd("HGET")
                .arg(config.progress_key())
                .arg(id.to_string())
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
    Ok((progress, resp::delivery_count(&pending)))
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
