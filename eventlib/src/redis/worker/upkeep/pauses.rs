//! Reading the operator's pauses about once a second: what the worker
//! holds back, told in its log when it changes, and the entries set aside
//! for a handler that resumed taken again.

use crate::redis::conn::Link;
use crate::redis::pause::{self, Held};
use crate::redis::worker::shared::Shared;

/// Reads the pauses of the stream and applies those of the worker's group.
pub(crate) fn check(shared: &Shared, link: &mut Link) -> redis::RedisResult<()> {
    let config = shared.config();
    let pauses = link.run(shared.counters().reconnects(), |c| {
        pause::read(c, &config.stream)
    })?;
    let held = Held::of(&pauses, &config.group);
    let before = shared.paused().held();
    if *before == held {
        return Ok(());
    }
    shared.paused().replace(held.clone());
    #[cfg(feature = "metrics")]
    {
        let all = before.handlers.iter().chain(&held.handlers);
        for handler in all.map(String::as_str).chain(["*"]) {
            let paused = if handler == "*" {
                held.group
            } else {
                held.handlers.iter().any(|h| h == handler)
            };
            crate::meters::paused(&config.stream, &config.group, handler, paused);
        }
    }
    if held.group != before.group {
        if held.group {
            crate::notice::warn(&format!(
                "eventlib worker `{}`: group `{}` paused by an operator: taking nothing until it \
                 is resumed",
                config.consumer, config.group
            ));
        } else {
            crate::notice::warn(&format!(
                "eventlib worker `{}`: group `{}` resumed",
                config.consumer, config.group
            ));
        }
    }
    for handler in held
        .handlers
        .iter()
        .filter(|h| !before.handlers.contains(h))
    {
        crate::notice::warn(&format!(
            "eventlib worker `{}`: handler `{handler}` of group `{}` paused by an operator: its \
             entries wait",
            config.consumer, config.group
        ));
    }
    let resumed: Vec<&String> = before
        .handlers
        .iter()
        .filter(|h| !held.handlers.contains(h))
        .collect();
    for handler in &resumed {
        crate::notice::warn(&format!(
            "eventlib worker `{}`: handler `{handler}` of group `{}` resumed",
            config.consumer, config.group
        ));
    }
    if !resumed.is_empty() || (before.group && !held.group) {
        shared.waiting().wake_aside();
    }
    Ok(())
}
