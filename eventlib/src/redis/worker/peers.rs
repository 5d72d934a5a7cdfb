//! [`Elsewhere`]: which handlers the other live workers of a group have, by
//! worker, as last read from the handler sets they publish; and which of
//! them to hand an entry to.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Handler paths by event name.
pub(crate) type Events = BTreeMap<String, BTreeSet<String>>;

/// What the other live workers of the group published, as last read.
#[derive(Default)]
pub(crate) struct Elsewhere {
    view: Mutex<Arc<View>>,
    /// Whether it was read at least once: until then, assume others may
    /// handle anything (leaving an entry loses nothing; acknowledging
    /// could).
    known: AtomicBool,
    /// Turns among the workers able to take an entry.
    turn: AtomicUsize,
}

#[derive(Default)]
struct View {
    /// Every handler of every other worker, by event.
    union: Arc<Events>,
    /// Each other worker's set, by consumer name.
    workers: Vec<(String, Arc<Events>)>,
}

impl Elsewhere {
    fn view(&self) -> Arc<View> {
        Arc::clone(&self.view.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether another live worker of the group handles `event` (with
    /// every one of `handlers`, when given).
    pub(crate) fn handles(&self, event: &str, handlers: Option<&[&str]>) -> bool {
        if !self.known.load(Ordering::Acquire) {
            return true;
        }
        covers(&self.view().union, event, handlers)
    }

    /// Takes what the other live workers of the group published, as just
    /// read: each worker's consumer name and set.
    pub(crate) fn replace(&self, workers: Vec<(String, Arc<Events>)>) {
        let union = union(workers.iter().map(|(_, set)| set));
        *self.view.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(View { union, workers });
        self.known.store(true, Ordering::Release);
    }

    /// The handlers of `event` other live workers of the group have and
    /// `done` does not count (empty until the sets were read once: an
    /// entry this build can handle is not held back on a guess).
    pub(crate) fn beyond(&self, event: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
        if !self.known.load(Ordering::Acquire) {
            return Vec::new();
        }
        self.view()
            .union
            .get(event)
            .into_iter()
            .flatten()
            .filter(|h| !done(h))
            .cloned()
            .collect()
    }

    /// A live worker of the group to hand an entry of `event` to: one with
    /// every one of `handlers` (with any handler of the event when `None`),
    /// taking turns among those able; `None` when none is known.
    pub(crate) fn taker(&self, event: &str, handlers: Option<&[&str]>) -> Option<String> {
        let view = self.view();
        let able: Vec<&String> = view
            .workers
            .iter()
            .filter(|(_, set)| covers(set, event, handlers))
            .map(|(name, _)| name)
            .collect();
        if able.is_empty() {
            return None;
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        Some(able[turn % able.len()].clone())
    }
}

/// Whether `set` has `event` (with every one of `handlers`, when given).
fn covers(set: &Events, event: &str, handlers: Option<&[&str]>) -> bool {
    match (set.get(event), handlers) {
        (None, _) => false,
        (Some(have), None) => !have.is_empty(),
        (Some(have), Some(wanted)) => wanted.iter().all(|h| have.contains(*h)),
    }
}

/// Every handler of every set: the one set when they are all the same (the
/// workers of one build).
fn union<'a>(sets: impl Iterator<Item = &'a Arc<Events>>) -> Arc<Events> {
    let sets: Vec<&Arc<Events>> = sets.collect();
    let Some(first) = sets.first() else {
        return Arc::default();
    };
    if sets.iter().all(|set| Arc::ptr_eq(set, first)) {
        return Arc::clone(first);
    }
    let mut union = Events::new();
    for set in sets {
        for (event, handlers) in set.iter() {
            union
                .entry(event.clone())
                .or_default()
                .extend(handlers.iter().cloned());
        }
    }
    Arc::new(union)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(events: &[(&str, &[&str])]) -> Arc<Events> {
        Arc::new(
            events
                .iter()
                .map(|(e, hs)| (e.to_string(), hs.iter().map(|h| h.to_string()).collect()))
                .collect(),
        )
    }

    fn elsewhere(events: &[(&str, &[&str])]) -> Elsewhere {
        let elsewhere = Elsewhere::default();
        elsewhere.replace(vec![("w1".into(), set(events))]);
        elsewhere
    }

    #[test]
    fn before_the_first_read_anything_may_be_handled_elsewhere() {
        let unknown = Elsewhere::default();
        assert!(unknown.handles("a.B", None));
        assert!(unknown.handles("a.B", Some(&["a::h"])));
        assert_eq!(unknown.taker("a.B", None), None);
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

    #[test]
    fn an_entry_goes_to_a_worker_that_has_what_it_needs_in_turns() {
        let elsewhere = Elsewhere::default();
        let old = set(&[("a.B", &["a::h"])]);
        let new = set(&[("a.B", &["a::h", "a::i"])]);
        elsewhere.replace(vec![
            ("old".into(), Arc::clone(&old)),
            ("new1".into(), Arc::clone(&new)),
            ("new2".into(), new),
        ]);
        assert!(elsewhere.handles("a.B", Some(&["a::i"])));
        let takers: BTreeSet<String> = (0..4)
            .filter_map(|_| elsewhere.taker("a.B", Some(&["a::i"])))
            .collect();
        assert_eq!(takers, BTreeSet::from(["new1".into(), "new2".into()]));
        assert_eq!(elsewhere.taker("a.B", Some(&["a::gone"])), None);
        assert_eq!(elsewhere.taker("a.Nobody", None), None);
        assert!(elsewhere.taker("a.B", None).is_some());
    }

    #[test]
    fn the_sets_of_one_build_are_shared_not_merged() {
        let one = set(&[("a.B", &["a::h"])]);
        let merged = union([Arc::clone(&one), Arc::clone(&one)].iter());
        assert!(Arc::ptr_eq(&merged, &one));
        let two = set(&[("a.C", &["a::j"])]);
        let merged = union([one, two].iter());
        assert_eq!(merged.len(), 2);
    }
}
