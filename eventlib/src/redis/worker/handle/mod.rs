//! The handler threads of a worker. Each entry goes through four steps,
//! one module each:
//!
//! 1. [`decode`]: the entry read as an event, or why it cannot be (deleted,
//!    oversized, poison, an event only other workers know);
//! 2. [`plan`]: which of the group's handlers run, from the entry (a
//!    replay names its handlers), its saved progress, what other workers of
//!    the group handle and whether the group finished this event id before;
//! 3. [`run`]: those handlers, one after the other, each attempt counted;
//! 4. [`settle`]: what the acknowledging thread does with the entry:
//!    acknowledge it, schedule a retry, or hand it to another worker.
//!
//! A step that decides the entry's fate early returns its [`Settled`]
//! (built by `outcome`).

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::redis::conn::Link;
use crate::redis::worker::ack::Settled;
use crate::redis::worker::jobs::Job;
use crate::redis::worker::shared::Shared;
use crate::registry::registry;

mod decode;
mod outcome;
mod plan;
mod run;
mod settle;

/// A handler thread: handles the jobs the reader hands over until the
/// channel closes.
pub(crate) fn work(shared: &Shared, jobs: &Receiver<Job>, settled: &Sender<Settled>) {
    crate::meters::on_own_thread();
    let mut link = shared.link(Duration::from_secs(10));
    for job in jobs.iter() {
        let id = job.entry.id;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(shared, &mut link, &job)
        }));
        let outcome = outcome.unwrap_or_else(|_| {
            // A bug here, not in a handler (handlers' panics are caught):
            // leave the entry for another worker rather than lose it.
            log::error!("eventlib worker: internal panic while handling entry {id}");
            Settled::Release(id)
        });
        if matches!(outcome, Settled::Ack { .. }) {
            // Only its acknowledgement is left: the reader may take the
            // next entry meanwhile.
            shared.inflight().handled();
        }
        let _ = settled.send(outcome);
    }
}

fn handle(shared: &Shared, link: &mut Link, job: &Job) -> Settled {
    let decoded = match decode::decode(shared, job) {
        Ok(decoded) => decoded,
        Err(settled) => return settled,
    };
    let plan = match plan::plan(shared, link, job, &decoded) {
        Ok(plan) => plan,
        Err(settled) => return settled,
    };
    let ran = run::run(shared, &decoded, plan, &job.entry);
    settle::settle(shared, job, &decoded, ran)
}

/// The path of handler `handler` of the registry.
fn handler_name(handler: u32) -> &'static str {
    registry().handlers[handler as usize].decl.name
}
