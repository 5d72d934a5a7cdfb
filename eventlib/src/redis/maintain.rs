//! A worker's background threads: the one that writes acknowledgements,
//! progress and dead letters, and the upkeep thread (heartbeat of held
//! entries, trimming).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use redis::Value;

use crate::redis::conn::{self, Backoff, Link};
use crate::redis::read;
use crate::redis::wire::StreamId;
use crate::redis::worker::{Inner, Settled};

/// Settles entries in batches: each batch is one `MULTI`/`EXEC` of dead
/// letters, progress, `XACK`s and the removal of progress.
pub(crate) fn acknowledge(inner: &Arc<Inner>, settled: &Receiver<Settled>, finished: &AtomicBool) {
    let config = &inner.config;
    let counters = &inner.counters;
    let (dead_stream, progress_key) = (config.dead_stream(), config.progress_key());
    let mut link = Link::new(inner.endpoint.clone(), Duration::from_secs(10));
    while let Ok(first) = settled.recv() {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match settled.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        let (mut commands, mut acks, mut dead_letters) = (0usize, 0u64, 0u64);
        let mut settled_ids = Vec::new();
        let (mut ack_ids, mut progress_done) = (Vec::new(), Vec::new());
        for message in &batch {
            let dead = match message {
                Settled::Ack {
                    id,
                    dead,
                    clear_progress,
                } => {
                    ack_ids.push(id.to_string());
                    if *clear_progress {
                        progress_done.push(id.to_string());
                    }
                    acks += 1;
                    settled_ids.push(*id);
                    dead
                }
                Settled::Progress { id, dead, progress } => {
                    pipe.cmd("HSET")
                        .arg(&progress_key)
                        .arg(id.to_string())
                        .arg(progress.as_slice())
                        .ignore();
                    dead
                }
                Settled::Release(id) => {
                    settled_ids.push(*id);
                    continue;
                }
            };
            commands += 1;
            for fields in dead {
                let cmd = pipe
                    .cmd("XADD")
                    .arg(&dead_stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(config.dead_max_len)
                    .arg("*");
                for (field, value) in fields {
                    cmd.arg(*field).arg(value.as_slice());
                }
                cmd.ignore();
                dead_letters += 1;
            }
        }
        // One XACK and one HDEL for the whole batch: both take many ids.
        if !ack_ids.is_empty() {
            pipe.cmd("XACK")
                .arg(&config.stream)
                .arg(&config.group)
                .arg(&ack_ids)
                .ignore();
        }
        if !progress_done.is_empty() {
            pipe.cmd("HDEL")
                .arg(&progress_key)
                .arg(&progress_done)
                .ignore();
        }
        if commands > 0 {
            if !write(inner, &mut link, &pipe, finished, acks) {
                return;
            }
            counters.acked.fetch_add(acks, Ordering::Relaxed);
            counters
                .dead_lettered
                .fetch_add(dead_letters, Ordering::Relaxed);
        }
        read::let_go(inner, &settled_ids);
    }
}

/// Runs the settling transaction until it succeeds; false when given up
/// on (the worker has finished and Redis cannot be reached).
fn write(
    inner: &Inner,
    link: &mut Link,
    pipe: &redis::Pipeline,
    finished: &AtomicBool,
    acks: u64,
) -> bool {
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
    loop {
        match link.run(&inner.counters.reconnects, |c| pipe.exec(c)) {
            Ok(()) => return true,
            Err(err) => {
                if finished.load(Ordering::SeqCst) {
                    // The entries stay pending and are handled again by
                    // whoever takes them over.
                    log::warn!(
                        "eventlib worker: {acks} acknowledgement(s) not written ({err}); \
                         those entries will be handled again"
                    );
                    return false;
                }
                log::warn!(
                    "eventlib worker: cannot acknowledge at {} ({err}); retrying",
                    link.shown()
                );
                std::thread::sleep(backoff.next_wait());
            }
        }
    }
}

/// Heartbeat and trim, each on its own period, until `finished`.
pub(crate) fn upkeep(inner: &Arc<Inner>, finished: &AtomicBool) {
    let config = &inner.config;
    let mut link = Link::new(inner.endpoint.clone(), Duration::from_secs(10));
    let heartbeat_every = config.visibility / 3;
    let now = Instant::now();
    let mut next_heartbeat = now + heartbeat_every;
    let mut next_trim = config.trim_interval.map(|every| now + conn::jitter(every));
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        if now >= next_heartbeat {
            next_heartbeat = now + heartbeat_every;
            if let Err(err) = heartbeat(inner, &mut link) {
                log::warn!("eventlib worker: heartbeat failed: {err}");
            }
        }
        if inner.stop.is_set() {
            continue;
        }
        if let (Some(due), Some(every)) = (next_trim, config.trim_interval) {
            if now >= due {
                next_trim = Some(now + conn::jitter(every));
                if let Err(err) = trim(inner, &mut link) {
                    log::warn!("eventlib worker: trim failed: {err}");
                }
            }
        }
    }
}

/// Keeps the entries this worker holds from looking abandoned: `XCLAIM`
/// to itself (which resets their idle time) those still in its own
/// pending list.
fn heartbeat(inner: &Inner, link: &mut Link) -> redis::RedisResult<()> {
    let config = &inner.config;
    let held: Vec<StreamId> = {
        let held = inner.held.lock().unwrap_or_else(|e| e.into_inner());
        held.iter().copied().collect()
    };
    if held.is_empty() {
        return Ok(());
    }
    link.run(&inner.counters.reconnects, |c| {
        let mine: Value = redis::cmd("XPENDING")
            .arg(&config.stream)
            .arg(&config.group)
            .arg("-")
            .arg("+")
            .arg(held.len() + config.prefetch)
            .arg(&config.consumer)
            .query(c)?;
        let ids: Vec<String> = conn::items(&mine)
            .iter()
            .filter_map(|row| conn::text(conn::items(row).first()?))
            .filter(|id| id.parse().is_ok_and(|id: StreamId| held.contains(&id)))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        redis::cmd("XCLAIM")
            .arg(&config.stream)
            .arg(&config.group)
            .arg(&config.consumer)
            .arg(0)
            .arg(&ids)
            .arg("JUSTID")
            .exec(c)
    })
}

/// Removes the entries every group is done with: `XTRIM MINID` to the
/// smallest, over the groups, of the oldest pending entry or (none
/// pending) the entry after the last delivered one.
fn trim(inner: &Inner, link: &mut Link) -> redis::RedisResult<()> {
    let config = &inner.config;
    let trimmed = link.run(&inner.counters.reconnects, |c| {
        let groups: Value = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&config.stream)
            .query(c)?;
        let mut groups_seen = 0;
        let mut floor: Option<StreamId> = None;
        let mut with_pending = Vec::new();
        for group in conn::items(&groups) {
            let fields = conn::pairs(group);
            let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
            let (Some(name), Some(pending), Some(last)) = (
                get("name").and_then(conn::text),
                get("pending").and_then(conn::int),
                get("last-delivered-id")
                    .and_then(conn::text)
                    .and_then(|id| id.parse::<StreamId>().ok()),
            ) else {
                continue;
            };
            groups_seen += 1;
            if pending > 0 {
                with_pending.push(name);
            } else {
                let after = last.next();
                floor = Some(floor.map_or(after, |f| f.min(after)));
            }
        }
        if groups_seen == 0 {
            return Ok(0);
        }
        if !with_pending.is_empty() {
            let mut pipe = redis::pipe();
            for name in &with_pending {
                pipe.cmd("XPENDING").arg(&config.stream).arg(name);
            }
            let summaries: Vec<Value> = pipe.query(c)?;
            for summary in &summaries {
                let oldest = conn::items(summary)
                    .get(1)
                    .and_then(conn::text)
                    .and_then(|id| id.parse::<StreamId>().ok());
                match oldest {
                    Some(oldest) => floor = Some(floor.map_or(oldest, |f| f.min(oldest))),
                    // Acknowledged meanwhile: its last delivered id is
                    // unknown here, so trim nothing this time.
                    None => return Ok(0),
                }
            }
        }
        match floor {
            Some(floor) if floor > StreamId::default() => redis::cmd("XTRIM")
                .arg(&config.stream)
                .arg("MINID")
                .arg(floor.to_string())
                .query::<u64>(c),
            _ => Ok(0),
        }
    })?;
    inner.counters.trimmed.fetch_add(trimmed, Ordering::Relaxed);
    Ok(())
}
