//! Publishing this worker's figures: what its handlers did since the last
//! time, added to the minute and hour buckets of the stream, the group's
//! lag and pending entries, and this process's line among the live ones
//! (see `redis/timeline.rs` for the layout).

use std::time::SystemTime;

use redis::streams::StreamInfoGroupsReply;

use crate::redis::conn::Link;
use crate::redis::reply;
use crate::redis::stream_id::millis;
use crate::redis::timeline::{self, Count, Process};
use crate::redis::worker::shared::Shared;

/// This worker's line among the live processes.
pub(super) fn process(shared: &Shared, started_ms: u64) -> Process {
    Process {
        kind: "worker".to_owned(),
        group: shared.config().group.clone(),
        host: timeline::host_name().unwrap_or_default(),
        pid: std::process::id(),
        started_ms,
        seen_ms: millis(SystemTime::now()),
        paused: Vec::new(),
    }
}

/// Adds the counts since the last time to the buckets, samples the
/// group's figures and says this process is alive. Counts that could not
/// be written are kept for the next time.
pub(super) fn publish(shared: &Shared, link: &mut Link, me: &Process) -> redis::RedisResult<()> {
    let config = shared.config();
    let now = millis(SystemTime::now());
    let (minute, hour) = (now / 60_000, now / 3_600_000);
    let minute_key = timeline::minute_key(&config.stream, minute);
    let hour_key = timeline::hour_key(&config.stream, hour);
    let taken = shared.tally().take();
    // All or nothing: counts not written are put back, never added twice.
    let mut pipe = redis::pipe();
    pipe.atomic();
    for t in &taken {
        let mut add = |field: String, n: u64| {
            if n > 0 {
                for key in [&minute_key, &hour_key] {
                    pipe.cmd("HINCRBY").arg(key).arg(&field).arg(n).ignore();
                }
            }
        };
        for count in Count::ALL {
            add(
                timeline::count_field(&config.group, t.event, t.handler, count),
                t.counts[count.index()],
            );
        }
        for (bucket, &n) in t.run_times.iter().enumerate() {
            add(
                timeline::run_time_field(&config.group, t.event, t.handler, bucket),
                n,
            );
        }
    }
    pipe.cmd("EXPIRE")
        .arg(&hour_key)
        .arg(timeline::HOURS_KEPT * 3600)
        .ignore();
    let held = shared.paused().held();
    let seen = Process {
        seen_ms: now,
        paused: held
            .group
            .then(|| "*".to_owned())
            .into_iter()
            .chain(held.handlers.iter().cloned())
            .collect(),
        ..me.clone()
    };
    pipe.cmd("HSET")
        .arg(timeline::processes_key(&config.stream))
        .arg(&config.consumer)
        .arg(serde_json::to_string(&seen).unwrap_or_default())
        .ignore();
    pipe.cmd("XINFO").arg("GROUPS").arg(&config.stream);
    let written = link.run(shared.counters().reconnects(), |c| {
        pipe.query::<(StreamInfoGroupsReply,)>(c)
    });
    let (groups,) = match written {
        Ok(groups) => groups,
        Err(err) => {
            shared.tally().put_back(&taken);
            return Err(err);
        }
    };
    // The group's figures as last sampled in this minute; the minute's key
    // expires (written last, so that it exists).
    let mine = reply::group_infos(groups)
        .into_iter()
        .find(|g| g.name == config.group);
    let mut pipe = redis::pipe();
    if let Some(group) = mine {
        pipe.cmd("HSET")
            .arg(&minute_key)
            .arg(timeline::group_field(&config.group, "pending"))
            .arg(group.pending.max(0))
            .ignore();
        if let Some(lag) = group.lag {
            pipe.cmd("HSET")
                .arg(&minute_key)
                .arg(timeline::group_field(&config.group, "lag"))
                .arg(lag.max(0))
                .ignore();
        }
    }
    pipe.cmd("EXPIRE")
        .arg(&minute_key)
        .arg(timeline::MINUTES_KEPT * 60)
        .ignore();
    link.run(shared.counters().reconnects(), |c| pipe.exec(c))
}

/// Removes this process's line (a clean stop).
pub(crate) fn withdraw(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    link.run(shared.counters().reconnects(), |c| {
        redis::cmd("HDEL")
            .arg(timeline::processes_key(&config.stream))
            .arg(&config.consumer)
            .exec(c)
    })
}
