//! What this worker holds back now because an operator paused it (its
//! whole group, or some handlers), as last read by the upkeep thread; and
//! the entries set aside for a paused handler, taken again on resume.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::redis::pause::Held;

#[derive(Default)]
pub(crate) struct Paused {
    held: Mutex<Arc<Held>>,
    /// The whole group is paused: the reader takes nothing.
    group: AtomicBool,
}

impl Paused {
    /// What is held back now.
    pub(crate) fn held(&self) -> Arc<Held> {
        Arc::clone(&self.held.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether the whole group is paused.
    pub(crate) fn group(&self) -> bool {
        self.group.load(Ordering::Acquire)
    }

    /// Takes what the pauses hold back now; returns what was held before.
    pub(crate) fn replace(&self, held: Held) -> Arc<Held> {
        self.group.store(held.group, Ordering::Release);
        std::mem::replace(
            &mut *self.held.lock().unwrap_or_else(|e| e.into_inner()),
            Arc::new(held),
        )
    }
}
