//! The registered events' names by registry index: written once, when the
//! registry is built, and read by a [`Context`](crate::Context), which
//! keeps its event's index (4 bytes) rather than its name.

use std::sync::OnceLock;

static NAMES: OnceLock<Box<[&'static str]>> = OnceLock::new();

/// Sets the names, in registry order (once: the registry is built once).
pub(crate) fn set(names: Box<[&'static str]>) {
    let _ = NAMES.set(names);
}

/// The name of the event at `index`.
#[inline]
pub(crate) fn get(index: u32) -> &'static str {
    // A context exists only for an event of the registry, made once the
    // registry is.
    NAMES
        .get()
        .and_then(|names| names.get(index as usize))
        .copied()
        .expect("a context's event is in the registry")
}
