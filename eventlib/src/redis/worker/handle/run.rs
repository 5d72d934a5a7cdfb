//! Step 3: the planned handlers, one after the other, each attempt
//! counted in the progress; a handler out of attempts is dead-lettered.

use std::time::Instant;

use crate::decl::HandlerFn;
use crate::failure::{Failure, FailureKind};
use crate::pool;
use crate::record::Record;
use crate::redis::dead_letter::DeadLetterOut;
use crate::redis::reply::Entry;
use crate::redis::timeline::Count;
use crate::redis::wire::Decoded;
use crate::redis::worker::progress::Progress;
use crate::redis::worker::shared::Shared;
use crate::registry::registry;

use super::handler_name;
use super::outcome::dead_letter;
use super::plan::Plan;

/// What running the plan did.
pub(super) struct Ran {
    /// The progress, with this run's outcomes.
    pub(super) progress: Progress,
    /// The dead letters to write.
    pub(super) dead: Vec<DeadLetterOut>,
    /// The handlers that failed and have attempts left.
    pub(super) failed: Vec<u32>,
    /// As [`Plan::done_key`].
    pub(super) done_key: Option<String>,
    /// As [`Plan::paused`].
    pub(super) paused: bool,
}

pub(super) fn run(shared: &Shared, decoded: &Decoded, plan: Plan, entry: &Entry) -> Ran {
    let config = shared.config();
    let counters = shared.counters();
    let Plan {
        handlers,
        mut progress,
        mut dead,
        done_key,
        paused,
    } = plan;
    let mut failed = Vec::new();
    // One clock reading per successful handler run: each ends when the
    // next starts (the counting between them takes a few nanoseconds; a
    // virtual machine's clock costs more than that to read).
    let mut started = Instant::now();
    for handler in handlers {
        let name = handler_name(handler);
        let attempt = progress.next_attempt(name, config.max_attempts);
        let tally = shared.tally();
        if attempt > 1 {
            counters.add_retried(1);
            tally.add(decoded.index, handler, Count::Retried);
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
        let outcome = match &failure {
            None => Count::Handled,
            Some(Failure {
                kind: FailureKind::Panic(_),
                ..
            }) => Count::Panicked,
            Some(_) => Count::Failed,
        };
        let ended = Instant::now();
        tally.ran(decoded.index, handler, outcome, ended - started);
        started = ended;
        let Some(failure) = failure else {
            counters.add_handled(1);
            progress.finish(name);
            continue;
        };
        shared.report(&failure);
        progress.failed(name, attempt);
        if attempt >= config.max_attempts {
            tally.add(decoded.index, handler, Count::DeadLettered);
            let reason = failure.to_string();
            dead.push(dead_letter(
                shared,
                entry,
                Some(decoded),
                Some(name),
                &reason,
                attempt,
            ));
            progress.finish(name);
        } else {
            failed.push(handler);
        }
        // The error hook and the dead letter are not the next handler's time.
        started = Instant::now();
    }
    Ran {
        progress,
        dead,
        failed,
        done_key,
        paused,
    }
}

/// Runs one handler with its failure contained (see `pool::run_one`).
fn run_handler(shared: &Shared, record: &Record, handler: u32) -> Option<Failure> {
    let is_async = matches!(
        registry().handlers[handler as usize].call,
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
