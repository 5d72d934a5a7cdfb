//! An event and its handler in a crate that the `unlinked` test binary
//! depends on but never names: the binary does not link it, so the event
//! is unknown there. The `linked` test binary names it and finds it.

use std::sync::atomic::{AtomicUsize, Ordering};

use eventlib::event;
use serde::{Deserialize, Serialize};

/// How many times `Declared::count` ran.
pub static RAN: AtomicUsize = AtomicUsize::new(0);

/// An event only this crate declares: `eventlib_test_unlinked.Declared`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Declared {
    /// Anything.
    pub n: u32,
}

#[event]
impl Declared {
    #[handler]
    fn count(&self) {
        RAN.fetch_add(1, Ordering::SeqCst);
    }
}
