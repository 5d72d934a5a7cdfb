//! Counters of what happened to events and handlers since the process
//! started.

use std::fmt;

use crate::counters;
use crate::meters::Refusal;
use crate::registry::registry;
use crate::transport;

/// A snapshot of the counters, per event and per handler.
///
/// ```
/// let stats = eventlib::stats();
/// println!("{stats}"); // a table
/// assert_eq!(stats.total().failed, 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// One row per registered event.
    pub events: Vec<EventStats>,
    /// One row per registered handler.
    pub handlers: Vec<HandlerStats>,
    /// The transport events leave this process through (`"redis"`), when
    /// one is installed: then the handlers of what this process logs run on
    /// its workers, not here (a worker's own `stats()` counts them), and
    /// the printed table says so instead of listing them at 0.
    pub transport: Option<&'static str>,
}

/// Counters of one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventStats {
    /// The event's name.
    pub name: &'static str,
    /// Events accepted by `log!` (after validation).
    pub emitted: u64,
    /// Events every handler has finished with.
    pub completed: u64,
    /// Events not queued for lack of room (see [`Overflow`](crate::Overflow)).
    pub dropped: u64,
    /// Events `log!` refused because the event's `#[validate]` method
    /// returned an error (not counted as emitted).
    pub refused_invalid: u64,
    /// Events `log!` refused because by-name data did not fit the event's
    /// type (not counted as emitted).
    pub refused_data: u64,
    /// Events queued or being handled: `emitted - completed - dropped`.
    pub in_flight: u64,
    /// Handler runs for this event that succeeded.
    pub handled: u64,
    /// Handler runs for this event that returned `Err`.
    pub failed: u64,
    /// Handler runs for this event that panicked.
    pub panicked: u64,
}

/// Counters of one handler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandlerStats {
    /// The handler's path.
    pub name: &'static str,
    /// The handler's group (`"default"` unless declared).
    pub group: &'static str,
    /// Runs that succeeded.
    pub handled: u64,
    /// Runs that returned `Err`.
    pub failed: u64,
    /// Runs that panicked.
    pub panicked: u64,
    /// Runs started and not finished.
    pub in_flight: u64,
}

/// Totals over all events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// See [`EventStats::emitted`].
    pub emitted: u64,
    /// See [`EventStats::completed`].
    pub completed: u64,
    /// See [`EventStats::dropped`].
    pub dropped: u64,
    /// Refusals of `log!`, for either reason ([`EventStats::refused_invalid`]
    /// and [`EventStats::refused_data`]).
    pub refused: u64,
    /// See [`EventStats::in_flight`].
    pub in_flight: u64,
    /// Handler runs that succeeded.
    pub handled: u64,
    /// Handler runs that returned `Err`.
    pub failed: u64,
    /// Handler runs that panicked.
    pub panicked: u64,
}

/// The counters now.
pub fn stats() -> Stats {
    let registry = registry();
    let reading = counters::reading();
    let handlers: Vec<HandlerStats> = registry
        .handlers
        .iter()
        .map(|h| {
            let c = &h.counters;
            let (handled, failed, panicked) = (
                c.handled(&reading),
                c.failed(&reading),
                c.panicked(&reading),
            );
            HandlerStats {
                name: h.decl.name,
                group: h.decl.group(),
                handled,
                failed,
                panicked,
                in_flight: c
                    .started(&reading)
                    .saturating_sub(handled + failed + panicked),
            }
        })
        .collect();
    let events = registry
        .events
        .iter()
        .map(|e| {
            let c = &e.counters;
            let (emitted, completed, dropped) = (c.emitted(), c.completed(), c.dropped());
            EventStats {
                name: e.decl.name,
                emitted,
                completed,
                dropped,
                refused_invalid: c.refused(Refusal::Validation),
                refused_data: c.refused(Refusal::Data),
                in_flight: emitted.saturating_sub(completed + dropped),
                handled: c.handled(&reading),
                failed: c.failed(&reading),
                panicked: c.panicked(&reading),
            }
        })
        .collect();
    Stats {
        events,
        handlers,
        transport: transport::installed(),
    }
}

impl Stats {
    /// Totals over all events (handler runs counted once each).
    pub fn total(&self) -> Totals {
        let mut t = Totals::default();
        for e in &self.events {
            t.emitted += e.emitted;
            t.completed += e.completed;
            t.dropped += e.dropped;
            t.refused += e.refused_invalid + e.refused_data;
            t.in_flight += e.in_flight;
        }
        for h in &self.handlers {
            t.handled += h.handled;
            t.failed += h.failed;
            t.panicked += h.panicked;
        }
        t
    }

    /// The row of the event named `name`.
    pub fn event(&self, name: &str) -> Option<&EventStats> {
        self.events.iter().find(|e| e.name == name)
    }

    /// The row of the handler whose path ends with `name`
    /// (`"save_to_db"` finds `shoestore::ProductViewed::save_to_db`).
    pub fn handler(&self, name: &str) -> Option<&HandlerStats> {
        self.handlers
            .iter()
            .find(|h| h.name == name || h.name.ends_with(&format!("::{name}")))
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<44} {:>9} {:>9} {:>8} {:>9} {:>8}",
            "event", "emitted", "completed", "dropped", "in flight", "refused"
        )?;
        for e in &self.events {
            writeln!(
                f,
                "{:<44} {:>9} {:>9} {:>8} {:>9} {:>8}",
                e.name,
                e.emitted,
                e.completed,
                e.dropped,
                e.in_flight,
                e.refused_invalid + e.refused_data
            )?;
        }
        writeln!(f)?;
        let from_a_stream: Vec<&str> = self
            .events
            .iter()
            .filter(|e| e.emitted == 0 && e.handled + e.failed + e.panicked > 0)
            .map(|e| e.name)
            .collect();
        if !from_a_stream.is_empty() {
            writeln!(
                f,
                "events: {} not logged in this process but handled here: a Redis worker in this \
                 process took them from a stream (its `Worker::stats()` counts the entries; the \
                 handler rows below count the runs)",
                from_a_stream.join(", ")
            )?;
        }
        if let Some(transport) = self.transport {
            let ran_here = self
                .handlers
                .iter()
                .any(|h| h.handled + h.failed + h.panicked + h.in_flight > 0);
            if !ran_here {
                return writeln!(
                    f,
                    "handlers: not run in this process; events go to {transport} workers, whose \
                     stats count them ({} handler(s) declared)",
                    self.handlers.len()
                );
            }
            writeln!(
                f,
                "handlers: events logged here go to {transport} workers; the rows below are what \
                 a worker in this process ran"
            )?;
        }
        writeln!(
            f,
            "{:<44} {:<10} {:>9} {:>9} {:>8} {:>9}",
            "handler", "group", "handled", "failed", "panicked", "in flight"
        )?;
        for h in &self.handlers {
            writeln!(
                f,
                "{:<44} {:<10} {:>9} {:>9} {:>8} {:>9}",
                h.name, h.group, h.handled, h.failed, h.panicked, h.in_flight
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &'static str, emitted: u64, handled: u64) -> EventStats {
        EventStats {
            name,
            emitted,
            completed: emitted,
            handled,
            ..EventStats::default()
        }
    }

    #[test]
    fn events_a_worker_took_from_a_stream_are_not_shown_as_never_logged() {
        let worker = Stats {
            events: vec![event("shop.Viewed", 0, 1008), event("shop.Paid", 0, 0)],
            handlers: Vec::new(),
            transport: None,
        };
        let table = worker.to_string();
        assert!(
            table.contains("events: shop.Viewed not logged in this process but handled here"),
            "{table}"
        );
        assert!(!table.contains("shop.Paid not logged"), "{table}");
        let local = Stats {
            events: vec![event("shop.Viewed", 3, 3)],
            handlers: Vec::new(),
            transport: None,
        };
        assert!(!local.to_string().contains("not logged"), "{local}");
    }
}
