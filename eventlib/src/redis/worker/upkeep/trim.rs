//! Trimming the entries every group of the stream is done with.

use redis::streams::{StreamInfoGroupsReply, StreamPendingReply};

use crate::redis::conn::Link;
use crate::redis::reply;
use crate::redis::stream_id::StreamId;
use crate::redis::worker::shared::Shared;

/// Removes the entries every group is done with: `XTRIM MINID` to the
/// smallest, over the groups, of the oldest pending entry or (none
/// pending) the entry after the last delivered one.
pub(super) fn trim(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    let trimmed = link.run(shared.counters().reconnects(), |c| {
        let groups: StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&config.stream)
            .query(c)?;
        let mut groups_seen = 0;
        let mut floor: Option<StreamId> = None;
        let mut with_pending = Vec::new();
        for group in reply::group_infos(groups) {
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
            let summaries: Vec<StreamPendingReply> = pipe.query(c)?;
            for summary in &summaries {
                match reply::oldest(summary) {
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
