//! Sampling a worker's gauges (feature `metrics`): entries in flight here,
//! the group's pending entries and lag, the dead-letter stream's length.

use std::time::Duration;

use redis::streams::StreamInfoGroupsReply;

use crate::redis::conn::Link;
use crate::redis::reply;
use crate::redis::worker::shared::Shared;

/// How often a worker samples its gauges (feature `metrics`).
pub(super) const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Sets the worker's gauges: entries in flight here, the group's pending
/// entries and lag, the dead-letter stream's length.
pub(super) fn sample(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    let reconnects = shared.counters().reconnects();
    let (groups, dead): (StreamInfoGroupsReply, u64) = link.run(reconnects, |c| {
        redis::pipe()
            .cmd("XINFO")
            .arg("GROUPS")
            .arg(&config.stream)
            .cmd("XLEN")
            .arg(config.dead_stream())
            .query(c)
    })?;
    let group = reply::group_infos(groups)
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
