//! A worker's reading: its consumer group, its own pending entries, new
//! entries, and entries reclaimed from dead workers.

use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use redis::{ConnectionLike, FromRedisValue, RedisResult, Value};

use crate::redis::backoff::Backoff;
use crate::redis::conn::Link;
use crate::redis::fault::{describe, tell_beside};
use crate::redis::groups;
use crate::redis::reply::{AutoClaimReply, Entry, ReadReply};
use crate::redis::stream_id::StreamId;
use crate::redis::worker::handed;
use crate::redis::worker::jobs::{hand_over, Job};
use crate::redis::worker::shared::Shared;

/// Creates the worker's group where the configuration says (see
/// [`groups::create`]; by default at the stream's oldest entry) unless it
/// exists, until that works or the worker is stopped; false when stopped.
/// The first failure is told even with no logger installed.
pub(crate) fn create_group(shared: &Shared, link: &mut Link) -> bool {
    let config = shared.config();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut stretch = crate::notice::Stretch::default();
    loop {
        let result = groups::create(
            link,
            shared.counters().reconnects(),
            &config.stream,
            &config.group,
            &config.start,
        );
        match result {
            Ok(_) => return true,
            Err(err) => {
                let line = format!(
                    "eventlib worker: cannot create group `{}` on `{}` at {}: {err} (retrying)",
                    config.group,
                    config.stream,
                    link.shown()
                );
                stretch.failed(&line);
                if shared.stop().sleep(backoff.next_wait()) {
                    return false;
                }
            }
        }
    }
}

/// How many free slots the reader waits for before it reads: half the
/// prefetch, so that a read brings many entries rather than the few just
/// acknowledged (each read and acknowledgement is a round trip, and Redis's
/// time), but never so many that a handler thread would wait for work
/// while the others are busy (with `held` entries in hand, fewer than
/// `concurrency` may be running). After 100 ms without them it reads what
/// it has room for.
fn read_at_least(prefetch: usize, concurrency: usize) -> usize {
    (prefetch / 2)
        .min(prefetch.saturating_sub(concurrency) + 1)
        .max(1)
}

/// Sends `cmd`, an `XREADGROUP`, and reads its reply. Not `Cmd::query`,
/// which walks and copies the whole reply, entry by entry, looking for an
/// error inside it before converting it: this reply is an error only as a
/// whole (`NOGROUP`, a refused command).
fn read_entries(cmd: &redis::Cmd, conn: &mut impl ConnectionLike) -> RedisResult<ReadReply> {
    match conn.req_command(cmd)? {
        Value::ServerError(err) => Err(err.into()),
        value => Ok(ReadReply::from_redis_value(value)?),
    }
}

/// The reading loop: this consumer's own pending entries first, then new
/// ones, as slots allow; entries of dead workers are reclaimed on the way.
pub(crate) fn read(shared: &Shared, link: &mut Link, jobs: &Sender<Job>) {
    let config = shared.config();
    let inflight = shared.inflight();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let reclaim_every =
        (config.visibility / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut next_reclaim = Instant::now();
    let mut next_handed = Instant::now();
    let mut reclaim_cursor = StreamId::default();
    // `Some(after)`: read this consumer's own pending entries after `after`:
    // at start (a restart under the same name), and after a read whose
    // reply was lost (an I/O error, or a signal interrupting the blocked
    // read), since Redis counts those entries as delivered. `None`: new
    // entries.
    let mut history = Some(StreamId::default());
    let mut errors_while_stopping = 0;
    let at_least = read_at_least(config.prefetch, config.concurrency);
    // Each kind of command the loop retries tells its failures once per
    // stretch, even with no logger: a Redis user without one of them
    // would otherwise leave entries unread, unretried or unreclaimed in
    // silence.
    let (mut reading, mut due_retries, mut handed_over, mut reclaiming) = (
        crate::notice::Stretch::default(),
        crate::notice::Stretch::default(),
        crate::notice::Stretch::default(),
        crate::notice::Stretch::default(),
    );
    loop {
        let stopping = shared.stop().is_set();
        if stopping && (history.is_none() || errors_while_stopping >= 3) {
            return;
        }
        if !stopping && history.is_none() && shared.paused().group() {
            // An operator paused the group: nothing is taken until resumed.
            shared.stop().sleep(Duration::from_millis(100));
            continue;
        }
        let mut free = inflight.take_slots(config.prefetch, at_least, Duration::from_millis(100));
        if free == 0 {
            continue;
        }
        if !stopping && history.is_none() {
            match take_due(shared, link, jobs, free) {
                Ok(used) => {
                    free -= used;
                    due_retries.ended();
                }
                Err(err) => tell_beside(
                    &mut due_retries,
                    &format!(
                    "eventlib worker `{}`: cannot take the entries whose retry is due at {} ({}); \
                     trying again",
                    config.consumer,
                    link.shown(),
                    describe(&err)
                ),
                    &err,
                ),
            }
            if free == 0 {
                continue;
            }
        }
        if !stopping && history.is_none() && Instant::now() >= next_handed {
            next_handed = Instant::now() + handed::LOOK_EVERY;
            match handed::take_handed(shared, link, jobs, free) {
                Ok(used) => {
                    free -= used;
                    handed_over.ended();
                }
                Err(err) => tell_beside(
                    &mut handed_over,
                    &format!(
                    "eventlib worker `{}`: cannot take the entries other workers handed to it at \
                     {} ({}); trying again",
                    config.consumer,
                    link.shown(),
                    describe(&err)
                ),
                    &err,
                ),
            }
            if free == 0 {
                continue;
            }
        }
        if !stopping && history.is_none() && Instant::now() >= next_reclaim {
            next_reclaim = Instant::now() + reclaim_every;
            match reclaim(shared, link, jobs, reclaim_cursor, free) {
                Ok((next, used)) => {
                    reclaim_cursor = next;
                    free -= used;
                    reclaiming.ended();
                }
                Err(err) => tell_beside(
                    &mut reclaiming,
                    &format!(
                    "eventlib worker `{}`: cannot take over the entries of workers that stopped \
                     at {} ({}); trying again",
                    config.consumer,
                    link.shown(),
                    describe(&err)
                ),
                    &err,
                ),
            }
            if free == 0 {
                continue;
            }
        }
        // Wake up for the next due retry, and to look for handed entries,
        // rather than after the whole block.
        let wake = shared
            .waiting()
            .next_due()
            .map_or(next_handed, |due| due.min(next_handed));
        let block = wake
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(10), config.block);
        // Reading its own pending list: what is in hand before the read is
        // not taken again, even if it is acknowledged (and let go) while
        // the reply is on its way.
        let in_hand = history.map(|_| shared.in_hand());
        let result = link.run(shared.counters().reconnects(), |c| {
            let mut cmd = redis::cmd("XREADGROUP");
            cmd.arg("GROUP")
                .arg(&config.group)
                .arg(&config.consumer)
                .arg("COUNT")
                .arg(free);
            match history {
                Some(after) => cmd
                    .arg("STREAMS")
                    .arg(&config.stream)
                    .arg(after.to_string()),
                None => cmd
                    .arg("BLOCK")
                    .arg(block.as_millis() as u64)
                    .arg("STREAMS")
                    .arg(&config.stream)
                    .arg(">"),
            };
            read_entries(&cmd, c)
        });
        let mut entries = match result {
            Ok(reply) => {
                backoff.reset();
                reading.ended();
                reply.entries
            }
            Err(err) => {
                inflight.give_back(free);
                if stopping {
                    errors_while_stopping += 1;
                }
                if err.code() == Some("NOGROUP") {
                    // The stream or the group was deleted under the
                    // worker (by hand, a flush, an eviction): make them
                    // again, and tell it even with no logger, since what
                    // a deleted stream held is gone and what a deleted
                    // group had acknowledged is read again.
                    crate::notice::warn(&format!(
                        "eventlib worker `{}`: reading `{}` at {}: {err}; the stream or group \
                         `{}` was deleted under this worker (the entries of a deleted stream \
                         are gone; a deleted group reads the stream again): making the group \
                         again",
                        config.consumer,
                        config.stream,
                        link.shown(),
                        config.group
                    ));
                    if !create_group(shared, link) {
                        return;
                    }
                    continue;
                }
                history = Some(StreamId::default());
                if shared.stop().is_set() {
                    // The signal that stops the worker cut the blocked read.
                    link.cut_here();
                } else {
                    reading.failed(&format!(
                        "eventlib worker `{}`: cannot read `{}` at {} ({}); trying again",
                        config.consumer,
                        config.stream,
                        link.shown(),
                        describe(&err)
                    ));
                    shared.stop().sleep(backoff.next_wait());
                }
                continue;
            }
        };
        let redelivered = history.is_some();
        if redelivered {
            history = entries.last().map(|e| e.id);
        }
        if let Some(in_hand) = &in_hand {
            entries.retain(|e| !in_hand.contains(&e.id));
        }
        // Entries being handled here already are not taken twice.
        let taken = inflight.hold(&mut entries, free);
        inflight.give_back(free - taken);
        hand_over(shared, link, jobs, entries, redelivered);
    }
}

/// Takes over up to `free` entries idle past the visibility timeout (their
/// worker died or hangs) with `XAUTOCLAIM`; returns the cursor for the
/// next scan and how many were taken.
fn reclaim(
    shared: &Shared,
    link: &mut Link,
    jobs: &Sender<Job>,
    cursor: StreamId,
    free: usize,
) -> redis::RedisResult<(StreamId, usize)> {
    let config = shared.config();
    let reply = link.run(shared.counters().reconnects(), |c| {
        redis::cmd("XAUTOCLAIM")
            .arg(&config.stream)
            .arg(&config.group)
            .arg(&config.consumer)
            .arg(config.visibility.as_millis() as u64)
            .arg(cursor.to_string())
            .arg("COUNT")
            .arg(free)
            .query::<AutoClaimReply>(c)
    })?;
    let AutoClaimReply { next, mut entries } = reply;
    // Already here (a heartbeat that could not reach Redis): not twice.
    let taken = shared.inflight().hold(&mut entries, free);
    if taken > 0 {
        log::info!(
            "eventlib worker `{}`: took over {taken} abandoned entr(y/ies)",
            config.consumer
        );
        shared.counters().add_reclaimed(taken as u64);
        hand_over(shared, link, jobs, entries, true);
    }
    Ok((next, taken))
}

/// Takes again, by id, up to `free` entries of this worker whose retry is
/// due; returns how many were taken. `XCLAIM ... JUSTID` keeps them this
/// worker's without counting a delivery (a retry is no crash), and `XRANGE`
/// reads them; an entry acknowledged or deleted meanwhile is not claimed.
fn take_due(
    shared: &Shared,
    link: &mut Link,
    jobs: &Sender<Job>,
    free: usize,
) -> redis::RedisResult<usize> {
    let due = shared.waiting().take_due(Instant::now(), free);
    if due.is_empty() {
        return Ok(0);
    }
    let config = shared.config();
    let ids: Vec<String> = due.iter().map(ToString::to_string).collect();
    let reply = link.run(shared.counters().reconnects(), |c| {
        let mut pipe = redis::pipe();
        pipe.cmd("XCLAIM")
            .arg(&config.stream)
            .arg(&config.group)
            .arg(&config.consumer)
            .arg(0)
            .arg(&ids)
            .arg("JUSTID");
        for id in &ids {
            pipe.cmd("XRANGE").arg(&config.stream).arg(id).arg(id);
        }
        let mut replies = pipe.query::<Vec<Value>>(c)?.into_iter();
        let claimed: Vec<StreamId> = redis::from_redis_value(replies.next().unwrap_or(Value::Nil))?;
        let ranges = replies
            .map(redis::from_redis_value::<Vec<Entry>>)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((claimed, ranges))
    });
    let mut entries = match reply {
        Ok((claimed, ranges)) => ranges
            .into_iter()
            .flatten()
            .filter(|e| claimed.contains(&e.id))
            .collect::<Vec<_>>(),
        Err(err) => {
            // Tried again on the next round.
            shared.waiting().put_back(&due);
            return Err(err);
        }
    };
    let taken = shared.inflight().hold(&mut entries, free);
    for entry in entries {
        let _ = jobs.send(Job {
            entry,
            redelivered: true,
            finished: None,
        });
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::read_at_least;

    #[test]
    fn the_reader_waits_for_half_its_slots_but_never_starves_a_handler_thread() {
        // The defaults: prefetch 32 for up to 16 handler threads.
        assert_eq!(read_at_least(32, 1), 16);
        assert_eq!(read_at_least(32, 16), 16);
        // As many slots as threads: any free slot is a thread with no work.
        assert_eq!(read_at_least(4, 4), 1);
        assert_eq!(read_at_least(8, 6), 3);
        assert_eq!(read_at_least(1, 1), 1);
        assert_eq!(read_at_least(1, 8), 1);
    }
}
