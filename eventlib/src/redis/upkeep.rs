//! A worker's upkeep thread: the heartbeat that keeps held entries from
//! looking abandoned, and the trimming of entries every group is done with.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::Value;

use crate::redis::backoff;
use crate::redis::conn::Link;
use crate::redis::handler_sets;
use crate::redis::resp;
use crate::redis::state::Shared;
use crate::redis::wire::StreamId;

/// Heartbeat and trim, each on its own period, until `finished`.
pub(crate) fn upkeep(shared: &Shared, finished: &AtomicBool) {
    let config = shared.config();
    let mut link = shared.link(Duration::from_secs(10));
    let heartbeat_every = config.heartbeat_every();
    let now = Instant::now();
    let mut next_heartbeat = now + heartbeat_every;
    let mut next_trim = config
        .trim_interval
        .map(|every| now + backoff::jitter(every));
    let cleanup_every = config
        .consumer_cleanup
        .map(|idle| (idle / 10).clamp(Duration::from_millis(500), Duration::from_secs(60)));
    let mut next_cleanup = cleanup_every.map(|every| now + backoff::jitter(every));
    let (mut received, mut received_at) = (shared.stats().received, now);
    let mut next_idle_check = now;
    #[cfg(feature = "metrics")]
    let mut next_sample = now;
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        if let Some(idle) = config.stop_when_idle {
            let seen = shared.stats().received;
            if seen != received {
                (received, received_at) = (seen, now);
            } else if now.duration_since(received_at) >= idle
                && now >= next_idle_check
                && !shared.stop().is_set()
            {
                next_idle_check = now + Duration::from_millis(100);
                match drained(shared, &mut link) {
                    Ok(true) => {
                        log::info!(
                            "eventlib worker `{}`: group `{}` drained and nothing received for \
                             {idle:?}: stopping",
                            config.consumer,
                            config.group
                        );
                        shared.stop().set();
                    }
                    Ok(false) => {}
                    Err(err) => log::warn!("eventlib worker: checking for idleness failed: {err}"),
                }
            }
        }
        if now >= next_heartbeat {
            next_heartbeat = now + heartbeat_every;
            if let Err(err) = heartbeat(shared, &mut link) {
                log::warn!("eventlib worker: heartbeat failed: {err}");
            }
            if let Err(err) = handler_sets::publish(shared, &mut link, heartbeat_every) {
                log::warn!("eventlib worker: publishing its handlers failed: {err}");
            }
        }
        #[cfg(feature = "metrics")]
        if now >= next_sample {
            next_sample = now + SAMPLE_EVERY;
            if let Err(err) = sample(shared, &mut link) {
                log::debug!("eventlib worker: sampling its gauges failed: {err}");
            }
        }
        if shared.stop().is_set() {
            continue;
        }
        if let (Some(due), Some(every), Some(idle)) =
            (next_cleanup, cleanup_every, config.consumer_cleanup)
        {
            if now >= due {
                next_cleanup = Some(now + backoff::jitter(every));
                if let Err(err) = remove_idle_consumers(shared, &mut link, idle) {
                    log::warn!("eventlib worker: removing idle consumers failed: {err}");
                }
            }
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

/// How often a worker samples its gauges (feature `metrics`).
#[cfg(feature = "metrics")]
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Sets the worker's gauges: entries in flight here, the group's pending
/// entries and lag, the dead-letter stream's length.
#[cfg(feature = "metrics")]
fn sample(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    let reconnects = shared.counters().reconnects();
    let (groups, dead): (Value, u64) = link.run(reconnects, |c| {
        redis::pipe()
            .cmd("XINFO")
            .arg("GROUPS")
            .arg(&config.stream)
            .cmd("XLEN")
            .arg(config.dead_stream())
            .query(c)
    })?;
    let group = resp::groups(&groups)
        .into_iter()
        .find(|g| g.name == config.group);
    crate::meters::group_sample(&crate::meters::GroupSample {
        stream: &config.stream,
        group: &config.group,
        in_flight: shared.inflight().count() + shared.waiting().count(),
        pending: group.as_ref().and_then(|g| u64::try_from(g.pending).ok()),
        lag: group
            .and_then(|g| g.lag)
            .and_then(|lag| u64::try_from(lag).ok()),
        dead_letters: Some(dead),
    });
    Ok(())
}

/// Whether the worker's group is drained: nothing in flight or waiting here,
/// nothing pending for any consumer of the group, and nothing in the stream
/// after what the group was last given.
fn drained(shared: &Shared, link: &mut Link) -> redis::RedisResult<bool> {
    if shared.inflight().count() > 0 || shared.waiting().count() > 0 {
        return Ok(false);
    }
    let config = shared.config();
    let reconnects = shared.counters().reconnects();
    let groups: Value = link.run(reconnects, |c| {
        redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&config.stream)
            .query(c)
    })?;
    let Some(group) = resp::groups(&groups)
        .into_iter()
        .find(|g| g.name == config.group)
    else {
        return Ok(false);
    };
    if group.pending > 0 {
        return Ok(false);
    }
    let last: Value = link.run(reconnects, |c| {
        redis::cmd("XREVRANGE")
            .arg(&config.stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query(c)
    })?;
    Ok(resp::entries(&last)
        .first()
        .is_none_or(|entry| entry.id <= group.last_delivered))
}

/// Keeps the entries this worker holds or waits to retry from looking
/// abandoned: `XCLAIM ... JUSTID` to itself (which resets their idle time
/// without counting a delivery) those still in its own pending list. When
/// the worker dies the heartbeat stops, and after the visibility timeout
/// another worker takes them over (a waiting retry then waits there for
/// the rest of its backoff, kept in its saved progress).
fn heartbeat(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    let mut held = shared.inflight().held();
    held.extend(shared.waiting().ids());
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

/// Removes, in one script (so that a consumer reading meanwhile is never
/// removed with entries pending), the consumers of the group other than
/// this one with nothing pending that have not read or claimed for `idle`.
const REMOVE_IDLE_CONSUMERS: &str = r"
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
  if fields['name'] ~= ARGV[2] and fields['pending'] == 0
      and fields['idle'] >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    removed = removed + 1
  end
end
return removed
";

fn remove_idle_consumers(
    shared: &Shared,
    link: &mut Link,
    idle: Duration,
) -> redis::RedisResult<()> {
    let config = shared.config();
    let removed: u64 = link.run(shared.counters().reconnects(), |c| {
        redis::cmd("EVAL")
            .arg(REMOVE_IDLE_CONSUMERS)
            .arg(1)
            .arg(&config.stream)
            .arg(&config.group)
            .arg(&config.consumer)
            .arg(idle.as_millis() as u64)
            .query(c)
    })?;
    if removed > 0 {
        log::info!(
            "eventlib worker `{}`: removed {removed} idle consumer(s) with nothing pending from \
             group `{}`",
            config.consumer,
            config.group
        );
        shared.counters().add_consumers_removed(removed);
    }
    Ok(())
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
