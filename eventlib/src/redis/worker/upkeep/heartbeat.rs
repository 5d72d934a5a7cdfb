//! The heartbeat: renewing this worker's claim on the entries it holds.

use redis::streams::StreamPendingCountReply;

use crate::redis::conn::Link;
use crate::redis::reply;
use crate::redis::worker::shared::Shared;

/// Keeps the entries this worker holds or waits to retry from looking
/// abandoned: `XCLAIM ... JUSTID` to itself (which resets their idle time
/// without counting a delivery) those still in its own pending list. When
/// the worker dies the heartbeat stops, and after the visibility timeout
/// another worker takes them over (a waiting retry then waits there for
/// the rest of its backoff, kept in its saved progress).
pub(super) fn heartbeat(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    let mut held = shared.inflight().held();
    held.extend(shared.waiting().ids());
    if held.is_empty() {
        return Ok(());
    }
    link.run(shared.counters().reconnects(), |c| {
        let mine: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&config.stream)
            .arg(&config.group)
            .arg("-")
            .arg("+")
            .arg(held.len() + config.prefetch)
            .arg(&config.consumer)
            .query(c)?;
        let ids: Vec<String> = reply::pending_ids(&mine)
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
