//! Removing the group's idle consumers that have nothing pending.

use std::time::Duration;

use crate::redis::conn::Link;
use crate::redis::worker::shared::Shared;

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

pub(super) fn remove_idle_consumers(
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
