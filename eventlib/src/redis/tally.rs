//! What a worker tells a person about entries it does not handle itself
//! (left for other workers, acknowledged with no handler): the first of
//! each kind and event at once, then the repeats summed up once a second,
//! never one line per entry. Through `log` when a logger takes warnings,
//! to standard error otherwise.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What happened to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// Left pending for a worker of the group that has the handlers.
    LeftForOthers,
    /// Acknowledged unhandled: no worker of the group has a handler.
    NoHandler,
}

impl Kind {
    fn describe(self, group: &str) -> String {
        match self {
            Kind::LeftForOthers => format!(
                "left pending for other workers of group `{group}` (this build has no handler \
                 for them, other workers of the group have: add `use that_crate as _;` to link \
                 the crate that declares them)"
            ),
            Kind::NoHandler => format!(
                "acknowledged unhandled: no live worker of group `{group}` has a handler for them"
            ),
        }
    }
}

/// How many (kind, event) pairs are told in full at most.
const MAX_TOLD: usize = 256;

#[derive(Default)]
struct Counts {
    /// Keys told in full at least once.
    told: BTreeMap<(Kind, String), ()>,
    /// Repeats since the last summary.
    repeats: BTreeMap<(Kind, String), u64>,
    last_summary: Option<Instant>,
}

#[derive(Default)]
pub(crate) struct Tally {
    counts: Mutex<Counts>,
}

impl Tally {
    /// One more entry of `event` of this kind.
    pub(crate) fn note(&self, kind: Kind, event: &str, group: &str, entry: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let key = (kind, event.to_owned());
        // Event names come from the stream: past a few hundred, the rest
        // are summed up only.
        if counts.told.contains_key(&key) || counts.told.len() >= MAX_TOLD {
            *counts.repeats.entry(key).or_default() += 1;
            return;
        }
        counts.told.insert(key, ());
        drop(counts);
        tell(&format!(
            "eventlib worker: entry {entry} of event `{event}` {}",
            kind.describe(group)
        ));
    }

    /// Tells the repeats once a second (called by the upkeep thread, and at
    /// the end).
    pub(crate) fn summarize(&self, group: &str, force: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let since = counts.last_summary.map_or(Duration::ZERO, |t| now - t);
        if !force && since < Duration::from_secs(1) {
            return;
        }
        counts.last_summary = Some(now);
        let repeats = std::mem::take(&mut counts.repeats);
        drop(counts);
        for ((kind, event), n) in repeats {
            tell(&format!(
                "eventlib worker: {n} more entr(y/ies) of event `{event}` {}",
                kind.describe(group)
            ));
        }
    }
}

fn tell(line: &str) {
    if log::log_enabled!(log::Level::Warn) {
        log::warn!("{line}");
    } else {
        eprintln!("{line}");
    }
}
