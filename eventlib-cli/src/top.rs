//! `eventlib top`: a live view of the stream, redrawn in place: the
//! processes alive, what is paused, each group's lag and pending entries,
//! and each handler's runs, failures, dead letters and run times over the
//! last minute, from the figures every worker publishes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use eventlib::redis::{Bucket, Count, HandlerFigures, Pause, Process};

use crate::human;

/// One group as the view shows it.
pub(crate) struct GroupRow {
    pub(crate) name: String,
    pub(crate) lag: Option<u64>,
    pub(crate) pending: u64,
    pub(crate) waiting_retries: u64,
    pub(crate) consumers: usize,
}

/// What one frame shows.
pub(crate) struct View<'a> {
    pub(crate) stream: &'a str,
    pub(crate) server: &'a str,
    /// Now, in seconds since 1970.
    pub(crate) now_secs: u64,
    pub(crate) length: u64,
    pub(crate) dead_letters: u64,
    pub(crate) groups: Vec<GroupRow>,
    pub(crate) processes: &'a BTreeMap<String, Process>,
    pub(crate) pauses: &'a [Pause],
    /// The minute buckets, oldest first; the last one is the current minute.
    pub(crate) minutes: &'a [Bucket],
}

/// The frame as text (no terminal codes).
pub(crate) fn frame(view: &View<'_>) -> String {
    let mut out = String::new();
    let clock = view.now_secs % 86_400;
    let _ = writeln!(
        out,
        "eventlib top: `{}` at {}, {:02}:{:02}:{:02} UTC",
        view.stream,
        view.server,
        clock / 3600,
        clock % 3600 / 60,
        clock % 60
    );
    let _ = writeln!(
        out,
        "{} entries in the stream, {} dead letter(s)",
        view.length, view.dead_letters
    );
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for process in view.processes.values() {
        let label = if process.group.is_empty() {
            process.kind.clone()
        } else {
            format!("{} of {}", process.kind, process.group)
        };
        *kinds.entry(label).or_default() += 1;
    }
    let alive: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(
        out,
        "processes alive: {}",
        if alive.is_empty() {
            "none publishing".to_owned()
        } else {
            alive.join(", ")
        }
    );
    if let [.., last, _] = view.minutes {
        let produced = last.produced(None);
        if produced.sent + produced.dropped > 0 {
            let _ = writeln!(
                out,
                "producers, last minute: {} event(s) sent, {} given up",
                produced.sent, produced.dropped
            );
        }
    }
    for pause in view.pauses {
        let ago = view.now_secs.saturating_sub(pause.at_ms / 1000);
        let _ = writeln!(
            out,
            "PAUSED: {} {}{} ({} ago{})",
            pause.group,
            pause
                .handler
                .as_deref()
                .map_or("(whole group)", |_| "handler "),
            pause.handler.as_deref().unwrap_or(""),
            human(Duration::from_secs(ago)),
            if pause.by.is_empty() {
                String::new()
            } else {
                format!(", by {}", pause.by)
            }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<24} {:>9} {:>9} {:>9} {:>10}",
        "group", "lag", "pending", "retrying", "consumers"
    );
    for g in &view.groups {
        let _ = writeln!(
            out,
            "{:<24} {:>9} {:>9} {:>9} {:>10}",
            g.name,
            g.lag.map_or("?".to_owned(), |l| l.to_string()),
            g.pending,
            g.waiting_retries,
            g.consumers
        );
    }
    let _ = writeln!(out);
    // The last complete minute, and the one under way.
    let (last, now) = match view.minutes {
        [.., last, now] => (Some(last), Some(now)),
        [now] => (None, Some(now)),
        [] => (None, None),
    };
    let mut handlers: BTreeMap<(String, String), (HandlerFigures, HandlerFigures)> =
        BTreeMap::new();
    for (slot, bucket) in [(0, last), (1, now)] {
        let Some(bucket) = bucket else { continue };
        for (key, figures) in &bucket.handlers {
            let row = handlers
                .entry((key.group.clone(), key.handler.clone()))
                .or_default();
            let into = if slot == 0 { &mut row.0 } else { &mut row.1 };
            into.add(figures);
        }
    }
    let _ = writeln!(
        out,
        "{:<44} {:<12} {:>8} {:>7} {:>6} {:>8} {:>8} {:>9}",
        "handler (last minute)", "group", "runs", "failed", "dead", "p50", "p99", "this min"
    );
    if handlers.is_empty() {
        let _ = writeln!(out, "(no handler ran in the last two minutes)");
    }
    for ((group, handler), (last, now)) in &handlers {
        let paused = view.pauses.iter().any(|p| {
            p.group == *group && p.handler.as_deref().is_none_or(|h| h == handler.as_str())
        });
        let _ = writeln!(
            out,
            "{:<44} {:<12} {:>8} {:>7} {:>6} {:>8} {:>8} {:>9}{}",
            handler,
            group,
            last.runs(),
            last.get(Count::Failed) + last.get(Count::Panicked),
            last.get(Count::DeadLettered),
            last.run_time_quantile(0.5).map_or("-".to_owned(), human),
            last.run_time_quantile(0.99).map_or("-".to_owned(), human),
            now.runs(),
            if paused { "  PAUSED" } else { "" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_stream_has_a_frame_too() {
        let processes = BTreeMap::new();
        let text = frame(&View {
            stream: "eventlib:events",
            server: "redis://127.0.0.1/",
            now_secs: 3_600 + 65,
            length: 0,
            dead_letters: 0,
            groups: Vec::new(),
            processes: &processes,
            pauses: &[],
            minutes: &[],
        });
        assert!(text.contains("01:01:05 UTC"), "{text}");
        assert!(text.contains("processes alive: none publishing"), "{text}");
        assert!(text.contains("no handler ran"), "{text}");
    }
}
