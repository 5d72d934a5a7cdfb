//! A worker's upkeep thread: the heartbeat that keeps held entries from
//! looking abandoned, and the trimming of entries every group is done with.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::Value;

use crate::redis::backoff;
use crate::redis::conn::Link;
use crate::redis::resp;
use crate::redis::wire::StreamId;
use crate::redis::worker::Shared;

/// Heartbeat and trim, each on its own period, until `finished`.
pub(crate) fn upkeep(shared: &Shared, finished: &AtomicBool) {
    let config = shared.config();
    let mut link = shared.link(Duration::from_secs(10));
    let heartbeat_every = config.visibility / 3;
    let now = Instant::now();
    let mut next_heartbeat = now + heartbeat_every;
    let mut next_trim = config
        .trim_interval
        .map(|every| now + backoff::jitter(every));
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        if now >= next_heartbeat {
            next_heartbeat = now + heartbeat_every;
            if let Err(err) = heartbeat(shared, &mut link) {
                log::warn!("eventlib worker: heartbeat failed: {err}");
            }
        }
        if shared.stop().is_set() {
            continue;
        }
        if let (Some(due), Some(every)) = (next_trim, config.trim_interval) {
            if now >= due {
                next_trim = Some(now + backoff::jitter(every));
                if let Err(err) = trim(shared, &mut link) {
                    log::warn!("eventlib worker: trim failed: {err}");
                }
            }
        }
    }
}

/// Keeps the entries this worker holds from looking abandoned: `XCLAIM`
/// to itself (which resets their idle time) those still in its own
/// pending list.
fn heartbeat(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    let held = shared.inflight().held();
    if held.is_empty() {
        return Ok(());
    }
    link.run(shared.counters().reconnects(), |c| {
        let mine: Value = redis::cmd("XPENDING")
            .arg(&config.stream)
            .arg(&config.group)
            .arg("-")
            .arg("+")
            .arg(held.len() + config.prefetch)
            .arg(&config.consumer)
            .query(c)?;
        let ids: Vec<String> = resp::pending_ids(&mine)
            .into_iter()
            .filter(|id| held.contains(id))
            .map(|id| id.to_string())
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
fn trim(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    let trimmed = link.run(shared.counters().reconnects(), |c| {
        let groups: Value = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&config.stream)
            .query(c)?;
        let mut groups_seen = 0;
        let mut floor: Option<StreamId> = None;
        let mut with_pending = Vec::new();
        for group in resp::groups(&groups) {
            groups_seen += 1;
            if group.pending > 0 {
                with_pending.push(group.name);
            } else {
                let after = group.last_delivered.next();
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
                match resp::oldest_pending(summary) {
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
    shared.counters().add_trimmed(trimmed);
    Ok(())
}
