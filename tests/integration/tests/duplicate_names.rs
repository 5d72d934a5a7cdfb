//! Two `#[event]`s with the same name in one binary: neither is dispatched,
//! `log!` says where both are, and the registry lists the problem.

mod common;

use eventlib::{event, log, Error};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct First {
    n: u32,
}

#[event(name = "dup.Same")]
impl First {
    #[handler]
    fn never(&self) {
        panic!("a duplicate event was dispatched");
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Second {
    n: u32,
}

#[event(name = "dup.Same")]
impl Second {}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Unique {
    n: u32,
}

#[event(name = "dup.Unique")]
impl Unique {}

const SOURCE: &str = include_str!("duplicate_names.rs");

/// Checks that `locations` are this file's `#[event]` impls of `First`
/// and `Second`, in any order.
fn assert_both_locations(locations: &[String]) {
    assert_eq!(locations.len(), 2, "{locations:?}");
    let mut impls: Vec<&str> = locations
        .iter()
        .map(|location| {
            let (file, line) = location.rsplit_once(':').unwrap();
            assert!(file.ends_with("duplicate_names.rs"), "{location}");
            let line: usize = line.parse().unwrap();
            SOURCE.lines().nth(line - 1).unwrap().trim()
        })
        .collect();
    impls.sort_unstable();
    assert_eq!(impls, ["impl First {", "impl Second {}"], "{locations:?}");
}

#[test]
fn logging_either_duplicate_fails_with_both_locations() {
    for result in [
        log!(First { n: 1 }),
        log!(Second { n: 1 }),
        log!("dup.Same", { "n": 1 }),
    ] {
        let err = result.unwrap_err();
        let message = err.to_string();
        let Error::DuplicateEvent { name, locations } = err else {
            panic!("expected DuplicateEvent, got {err:?}");
        };
        assert_eq!(name, "dup.Same");
        assert_both_locations(&locations);
        assert!(message.contains(&locations[0]) && message.contains(&locations[1]));
        assert!(message.contains("#[event(name = "), "{message}");
    }
    common::flush();
    let stats = eventlib::stats();
    let same: Vec<u64> = stats
        .events
        .iter()
        .filter(|e| e.name == "dup.Same")
        .map(|e| e.emitted)
        .collect();
    assert_eq!(
        same,
        [0, 0],
        "both declarations are listed, neither emitted"
    );
}

#[test]
fn the_registry_lists_the_duplicate() {
    let problems = eventlib::registry().problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let Error::DuplicateEvent { name, locations } = &problems[0] else {
        panic!("{problems:?}");
    };
    assert_eq!(*name, "dup.Same");
    assert_both_locations(locations);
}

#[test]
fn other_events_are_unaffected() {
    log!(Unique { n: 1 }).unwrap();
    common::flush();
    assert_eq!(eventlib::stats().event("dup.Unique").unwrap().completed, 1);
}
