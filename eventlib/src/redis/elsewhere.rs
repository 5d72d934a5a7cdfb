//! [`Elsewhere`]: which handlers the other live workers of a group have, as
//! last read from the handler sets they publish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::redis::handler_sets::Events;

/// What the other live workers of the group published, as last read.
#[derive(Default)]
pub(crate) struct Elsewhere {
    events: Mutex<Arc<Events>>,
    /// Whether it was read at least once: until then, assume others may
    /// handle anything (leaving an entry loses nothing; acknowledging
    /// could).
    known: AtomicBool,
}

impl Elsewhere {
    /// Whether another live worker of the group handles `event` (with
    /// every one of `handlers`, when given).
    pub(crate) fn handles(&self, event: &str, handlers: Option<&[&str]>) -> bool {
        if !self.known.load(Ordering::Acquire) {
            return true;
        }
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        match (events.get(event), handlers) {
            (None, _) => false,
            (Some(set), None) => !set.is_empty(),
            (Some(set), Some(wanted)) => wanted.iter().all(|h| set.contains(*h)),
        }
    }
}

impl Elsewhere {
    /// Takes what the other live workers of the group published, as just
    /// read.
    pub(crate) fn replace(&self, events: Arc<Events>) {
        *self.events.lock().unwrap_or_else(|e| e.into_inner()) = events;
        self.known.store(true, Ordering::Release);
    }

    /// The handlers of `event` other live workers of the group have and
    /// `done` does not count (empty until the sets were read once: an
    /// entry this build can handle is not held back on a guess).
    pub(crate) fn beyond(&self, event: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
        if !self.known.load(Ordering::Acquire) {
            return Vec::new();
        }
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events
            .get(event)
            .into_iter()
            .flatten()
            .filter(|h| !done(h))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elsewhere(events: &[(&str, &[&str])]) -> Elsewhere {
        let elsewhere = Elsewhere::default();
        elsewhere.replace(Arc::new(
            events
                .iter()
                .map(|(e, hs)| (e.to_string(), hs.iter().map(|h| h.to_string()).collect()))
                .collect(),
        ));
        elsewhere
    }

    #[test]
    fn before_the_first_read_anything_may_be_handled_elsewhere() {
        let unknown = Elsewhere::default();
        assert!(unknown.handles("a.B", None));
        assert!(unknown.handles("a.B", Some(&["a::h"])));
    }

    #[test]
    fn handled_elsewhere_by_event_and_by_handler() {
        let elsewhere = elsewhere(&[("a.B", &["a::h", "a::i"]), ("a.Empty", &[])]);
        assert!(elsewhere.handles("a.B", None));
        assert!(elsewhere.handles("a.B", Some(&["a::h"])));
        assert!(elsewhere.handles("a.B", Some(&["a::h", "a::i"])));
        assert!(!elsewhere.handles("a.B", Some(&["a::h", "a::gone"])));
        assert!(!elsewhere.handles("a.Empty", None));
        assert!(!elsewhere.handles("a.Nobody", None));
        assert_eq!(elsewhere.beyond("a.B", |h| h == "a::h"), ["a::i"]);
        assert!(elsewhere.beyond("a.B", |_| true).is_empty());
        assert!(elsewhere.beyond("a.Nobody", |_| false).is_empty());
        assert!(Elsewhere::default().beyond("a.B", |_| false).is_empty());
    }
}
