//! Whether a worker's group is drained, for `stop_when_idle`.

use redis::streams::StreamInfoGroupsReply;

use crate::redis::conn::Link;
use crate::redis::reply::{self, Entry};
use crate::redis::worker::shared::Shared;

/// Whether the worker's group is drained: nothing in flight or waiting here,
/// nothing pending for any consumer of the group, and nothing in the stream
/// after what the group was last given.
pub(super) fn drained(shared: &Shared, link: &mut Link) -> redis::RedisResult<bool> {
    if shared.inflight().count() > 0 || shared.waiting().count() > 0 {
        return Ok(false);
    }
    let config = shared.config();
    let reconnects = shared.counters().reconnects();
    let groups: StreamInfoGroupsReply = link.run(reconnects, |c| {
        redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&config.stream)
            .query(c)
    })?;
    let Some(group) = reply::group_infos(groups)
        .into_iter()
        .find(|g| g.name == config.group)
    else {
        return Ok(false);
    };
    if group.pending > 0 {
        return Ok(false);
    }
    let last: Vec<Entry> = link.run(reconnects, |c| {
        redis::cmd("XREVRANGE")
            .arg(&config.stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query(c)
    })?;
    Ok(last
        .first()
        .is_none_or(|entry| entry.id <= group.last_delivered))
}
