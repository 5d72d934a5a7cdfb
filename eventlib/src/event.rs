//! The [`Event`] trait, and the per-type cache of an event's place in the
//! registry.

use std::sync::atomic::{AtomicU32, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, ValidationError};

/// A type declared as an event with `#[event]`.
///
/// Never implement this trait by hand: `#[event]` on an `impl` block of the
/// type implements it and registers the type at link time.
///
/// An event is `Serialize + DeserializeOwned` (wildcard handlers see it as
/// JSON, by-name `log!` and the Redis transport build it from JSON) and
/// `Send + Sync + 'static` (handlers run on other threads).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an eventlib event",
    label = "not an event",
    note = "declare it with `#[eventlib::event]` on an `impl {Self} {{ ... }}` block"
)]
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The event's registered name, such as `"shoestore.ProductViewed"`.
    const NAME: &'static str;

    /// Runs the event's `#[validate]` method, if it has one.
    #[doc(hidden)]
    fn __validate(&self) -> Result<(), ValidationError>;

    /// The per-type cache of the event's place in the registry; it also
    /// identifies the type's declaration there.
    #[doc(hidden)]
    fn __slot() -> &'static EventSlot;
}

/// Runs `event`'s `#[validate]` method, as every way of logging does
/// before anything else.
pub(crate) fn validate<T: Event>(event: &T) -> Result<(), Error> {
    event.__validate().map_err(|error| Error::Validation {
        event: T::NAME,
        error,
    })
}

/// A cache of an event's index in the registry, in a `static`: one per
/// event type (`Event::__slot`) and one per by-name `log!` call site.
pub struct EventSlot(AtomicU32);

/// The "not yet looked up" value of an [`EventSlot`].
const UNSET: u32 = u32::MAX;

impl EventSlot {
    /// An empty slot.
    #[allow(clippy::new_without_default)] // only ever built in a `static`
    pub const fn new() -> Self {
        EventSlot(AtomicU32::new(UNSET))
    }

    /// The cached index, or the one `resolve` finds (then cached). The
    /// registry never changes once built, so a relaxed load is enough: a
    /// thread that sees no value resolves it again, to the same index.
    #[inline]
    pub(crate) fn index(&self, resolve: impl FnOnce() -> Result<u32, Error>) -> Result<u32, Error> {
        let cached = self.0.load(Ordering::Relaxed);
        if cached != UNSET {
            return Ok(cached);
        }
        self.resolve(resolve)
    }

    /// The first lookup, out of line: what a `log!` compiles to for each
    /// event type stays the few instructions of the cached path.
    #[cold]
    #[inline(never)]
    fn resolve(&self, resolve: impl FnOnce() -> Result<u32, Error>) -> Result<u32, Error> {
        let index = resolve()?;
        self.0.store(index, Ordering::Relaxed);
        Ok(index)
    }
}
