//! A worker's acknowledging thread: it writes acknowledgements, saved
//! progress and dead letters, then lets the settled entries go.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::redis::backoff::Backoff;
use crate::redis::conn::Link;
use crate::redis::dead_letter::DeadLetterOut;
use crate::redis::fault::{describe, fault, Fault};
use crate::redis::stream_id::StreamId;
use crate::redis::worker::progress;
use crate::redis::worker::shared::Shared;

/// A message from a handler thread to the acknowledging thread.
pub(crate) enum Settled {
    /// Acknowledge the entry, writing these dead letters first.
    Ack {
        id: StreamId,
        dead: Vec<DeadLetterOut>,
        clear_progress: bool,
        /// The marker of the event id the group finished, to write with
        /// the acknowledgement (with `once_per_event_id`).
        done: Option<String>,
    },
    /// The entry waits for a retry at `due`: save its progress (when
    /// given) with the dead letters of its handlers out of attempts, then
    /// let its slot go and schedule it; it stays pending.
    Retry {
        id: StreamId,
        dead: Vec<DeadLetterOut>,
        progress: Option<Vec<u8>>,
        due: Instant,
    },
    /// Hand the entry to worker `to` of the group, which has handlers this
    /// one lacks (`XCLAIM ... JUSTID` to it: it takes the entry within a
    /// second), or leave it pending for whichever worker takes it over
    /// when no such worker is known; counting the delivery as passed on
    /// (not a crash), with the progress of the handlers run here and their
    /// dead letters, if any.
    Leave {
        id: StreamId,
        dead: Vec<DeadLetterOut>,
        progress: Option<Vec<u8>>,
        to: Option<String>,
    },
    /// The entry waits for a paused handler: save its progress (what ran)
    /// with its dead letters, then let its slot go and set it aside until
    /// the handler resumes; it stays pending.
    Hold {
        id: StreamId,
        dead: Vec<DeadLetterOut>,
        progress: Option<Vec<u8>>,
    },
    /// Leave the entry pending (an internal error).
    Release(StreamId),
}

/// Settles entries in batches: each batch is one `MULTI`/`EXEC` of dead
/// letters, progress, `XACK`s and the removal of progress (one plain
/// `XACK` when it only acknowledges).
pub(crate) fn acknowledge(shared: &Shared, settled: &Receiver<Settled>, finished: &AtomicBool) {
    let config = shared.config();
    let counters = shared.counters();
    let (dead_stream, progress_key) = (config.dead_stream(), config.progress_key());
    let mut link = shared.link(Duration::from_secs(10));
    // Until when markers Redis refused for good are not written.
    let mut unmarked_until: Option<Instant> = None;
    while let Ok(first) = settled.recv() {
        let batch = gather(shared, settled, first);
        let mut pipe = redis::pipe();
        // A batch of acknowledgements alone is one `XACK`, atomic by
        // itself; anything more makes it a `MULTI`/`EXEC`.
        let mut only_acks = true;
        let (mut commands, mut acks, mut dead_letters) = (0usize, 0u64, 0u64);
        let mut settled_ids = Vec::new();
        let (mut scheduled, mut aside) = (Vec::new(), Vec::new());
        let (mut ack_ids, mut progress_done) = (Vec::new(), Vec::new());
        // Added last, so that the batch can be written without them.
        let mut markers = Vec::new();
        for message in &batch {
            let dead = match message {
                Settled::Ack {
                    id,
                    dead,
                    clear_progress,
                    done,
                } => {
                    if let (Some(key), Some(_)) = (done, config.once_window) {
                        only_acks = false;
                        markers.push(key.as_str());
                    }
                    ack_ids.push(*id);
                    if *clear_progress {
                        only_acks = false;
                        progress_done.extend(progress::fields_of(*id));
                    }
                    acks += 1;
                    settled_ids.push(*id);
                    dead
                }
                Settled::Retry {
                    id,
                    dead,
                    progress,
                    due,
                } => {
                    only_acks &= progress.is_none();
                    progress::save(&mut pipe, &progress_key, *id, progress.as_deref());
                    settled_ids.push(*id);
                    scheduled.push((*id, *due));
                    if progress.is_none() && dead.is_empty() {
                        // Only scheduled again: nothing to write.
                        continue;
                    }
                    dead
                }
                Settled::Leave {
                    id,
                    dead,
                    progress,
                    to,
                } => {
                    only_acks = false;
                    progress::count_passed(&mut pipe, &progress_key, *id);
                    progress::save(&mut pipe, &progress_key, *id, progress.as_deref());
                    if let Some(to) = to {
                        pipe.cmd("XCLAIM")
                            .arg(&config.stream)
                            .arg(&config.group)
                            .arg(to)
                            .arg(0)
                            .arg(*id)
                            .arg("JUSTID")
                            .ignore();
                    }
                    settled_ids.push(*id);
                    dead
                }
                Settled::Hold { id, dead, progress } => {
                    only_acks = false;
                    progress::save(&mut pipe, &progress_key, *id, progress.as_deref());
                    settled_ids.push(*id);
                    aside.push(*id);
                    dead
                }
                Settled::Release(id) => {
                    settled_ids.push(*id);
                    continue;
                }
            };
            commands += 1;
            only_acks &= dead.is_empty();
            for letter in dead {
                let cmd = pipe
                    .cmd("XADD")
                    .arg(&dead_stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(config.dead_max_len)
                    .arg("*");
                for (field, value) in letter.fields() {
                    cmd.arg(*field).arg(value.as_slice());
                }
                cmd.ignore();
                dead_letters += 1;
            }
        }
        // One XACK and one HDEL for the whole batch: both take many ids.
        if !ack_ids.is_empty() {
            // Sized up front, as it holds up to a batch of ids.
            let mut xack = redis::Cmd::with_capacity(
                3 + ack_ids.len(),
                4 + config.stream.len() + config.group.len() + 24 * ack_ids.len(),
            );
            xack.arg("XACK")
                .arg(&config.stream)
                .arg(&config.group)
                .arg(&ack_ids);
            pipe.add_command(xack).ignore();
        }
        if !progress_done.is_empty() {
            pipe.cmd("HDEL")
                .arg(&progress_key)
                .arg(&progress_done)
                .ignore();
        }
        if !only_acks {
            pipe.atomic();
        }
        // Markers Redis refused lately are not asked for again for a while.
        let refused_lately = unmarked_until.is_some_and(|until| Instant::now() < until);
        // The batch with its markers; `pipe` is the same without them.
        let with_markers = (!markers.is_empty() && !refused_lately).then(|| {
            let mut full = pipe.clone();
            let window = config.once_window.unwrap_or_default();
            let px = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
            for key in &markers {
                // Sized up front: a command grown argument by argument
                // reallocates several times, for every entry. Not marked
                // ignored (a set insertion each): the batch is written
                // with `exec`, which discards every reply's value.
                let mut set = redis::Cmd::with_capacity(5, key.len() + 32);
                set.arg("SET").arg(key).arg(1).arg("PX").arg(px);
                full.add_command(set);
            }
            full
        });
        if commands > 0 {
            let written = match &with_markers {
                Some(full) => write(shared, &mut link, full, Some(&pipe), finished, acks),
                None => write(shared, &mut link, &pipe, None, finished, acks),
            };
            let Some(as_asked) = written else {
                return;
            };
            if !markers.is_empty() && (refused_lately || !as_asked) {
                markers_refused(shared, &link, markers.len(), &mut unmarked_until);
            }
            counters.add_acked(acks);
            counters.add_dead_lettered(dead_letters);
        }
        // Scheduled before the slots are let go, so that the heartbeat
        // never loses sight of them.
        for (id, due) in scheduled {
            shared.waiting().schedule(id, due);
        }
        for id in aside {
            shared.waiting().set_aside(id);
        }
        // Acknowledged entries freed their slots when handled.
        shared.inflight().release(&settled_ids, acks as usize);
    }
}

/// The most entries one batch settles.
const MOST: usize = 512;

/// How long a batch waits for the entries still being handled, so that
/// one `XACK` carries many ids rather than a few: a busy worker sends a
/// fraction of the commands, and an idle one sends at once.
const LINGER: Duration = Duration::from_millis(1);

/// A batch starting with `first`: what is waiting already, then what
/// arrives within [`LINGER`] while entries are still being handled. It
/// naps between looks rather than waiting on the channel, which would
/// spin for every message.
fn gather(shared: &Shared, settled: &Receiver<Settled>, first: Settled) -> Vec<Settled> {
    let mut batch = vec![first];
    let deadline = Instant::now() + LINGER;
    loop {
        batch.extend(settled.try_iter().take(MOST - batch.len()));
        // Full, or every held entry is in this batch (nothing more is
        // coming soon), or waited long enough.
        let now = Instant::now();
        if batch.len() >= MOST || shared.inflight().count() <= batch.len() as u64 || now >= deadline
        {
            return batch;
        }
        std::thread::sleep((deadline - now).min(LINGER / 4));
    }
}

/// `WAIT`s for the replicas of the transaction just written on `link`;
/// counts its acknowledgements as unreplicated when fewer confirm it.
fn replicated(shared: &Shared, link: &mut Link, confirm: crate::redis::Confirm, acks: u64) {
    let connection = link.generation();
    let reached = link.run(shared.counters().reconnects(), |c| {
        redis::cmd("WAIT")
            .arg(confirm.replicas)
            .arg(confirm.timeout_ms())
            .query::<i64>(c)
    });
    let short = match reached {
        Ok(n) => link.generation() != connection || n < i64::from(confirm.replicas),
        Err(_) => true,
    };
    if short {
        shared.counters().add_acks_unreplicated(acks);
    }
}

/// How long a worker whose markers Redis refused for good acknowledges
/// without them before it tries to write them again.
const UNMARKED_FOR: Duration = Duration::from_secs(60);

/// `markers` entries were acknowledged without their once-per-event-id
/// markers, which Redis refused for good: counted, told (the first time
/// even with no logger), and no marker is tried for [`UNMARKED_FOR`].
fn markers_refused(
    shared: &Shared,
    link: &Link,
    markers: usize,
    unmarked_until: &mut Option<Instant>,
) {
    if unmarked_until.is_none_or(|until| Instant::now() >= until) {
        *unmarked_until = Some(Instant::now() + UNMARKED_FOR);
    }
    let line = format!(
        "eventlib worker `{}`: Redis at {} refuses the once-per-event-id markers, so entries \
         are acknowledged without them and a later copy of their events would run again; the \
         worker's Redis user needs +set, and Redis room to write (see \
         WorkerStats::markers_unwritten)",
        shared.config().consumer,
        link.shown()
    );
    if shared.counters().add_markers_unwritten(markers as u64) {
        crate::notice::warn(&line);
    } else {
        log::warn!("{line}");
    }
}

/// Runs the settling transaction `pipe` until it succeeds: `Some(true)`,
/// or `Some(false)` when Redis refused it for good and `unmarked` (the
/// same without its once-per-event-id markers) was written instead;
/// `None` when given up on (the worker has finished and Redis cannot be
/// reached).
fn write(
    shared: &Shared,
    link: &mut Link,
    pipe: &redis::Pipeline,
    unmarked: Option<&redis::Pipeline>,
    finished: &AtomicBool,
    acks: u64,
) -> Option<bool> {
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
    let counters = shared.counters();
    let mut stretch = crate::notice::Stretch::default();
    loop {
        match link.run(counters.reconnects(), |c| pipe.exec(c)) {
            Ok(()) => {
                if let Some(confirm) = shared.config().confirm {
                    replicated(shared, link, confirm, acks);
                }
                return Some(true);
            }
            Err(err) => {
                counters.add_ack_failures(1);
                if let (Fault::Permanent, Some(unmarked)) = (fault(&err), unmarked) {
                    if link
                        .run(counters.reconnects(), |c| unmarked.exec(c))
                        .is_ok()
                    {
                        log::warn!(
                            "eventlib worker: the markers of {acks} acknowledgement(s) were \
                             refused ({}); written without them",
                            describe(&err)
                        );
                        if let Some(confirm) = shared.config().confirm {
                            replicated(shared, link, confirm, acks);
                        }
                        return Some(false);
                    }
                }
                let line = format!(
                    "eventlib worker `{}`: Redis at {} did not take the acknowledgement of {acks} \
                     handled entr(y/ies) ({}); retrying: until it works they stay pending, and \
                     whoever takes them over handles them again (see WorkerStats::ack_failures)",
                    shared.config().consumer,
                    link.shown(),
                    describe(&err)
                );
                if finished.load(Ordering::SeqCst) {
                    // The entries stay pending and are handled again by
                    // whoever takes them over.
                    log::warn!(
                        "eventlib worker: {acks} acknowledgement(s) not written ({err}); \
                         those entries will be handled again"
                    );
                    return None;
                }
                stretch.failed(&line);
                std::thread::sleep(backoff.next_wait());
            }
        }
    }
}
