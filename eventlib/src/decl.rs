//! The link-time model: what `#[event]` and `#[handler]` declare, and the
//! `linkme` slices that collect every declaration linked into the binary.
//!
//! Generated code builds these values in `static`s (through `__private`);
//! the registry reads the slices once, on first use.

use std::sync::atomic::{AtomicU32, Ordering};

use futures::future::BoxFuture;
use serde_json::Value;

use crate::error::Error;
use crate::event::Event;
use crate::handler::HandlerKind;
use crate::record::Record;

/// Every `#[event]` in the binary.
#[linkme::distributed_slice]
pub static EVENTS: [EventDecl];

/// Every free `#[handler]` function in the binary; the handler methods of
/// an `#[event]` impl are in its [`EventDecl::methods`], so that an event
/// and its methods are one element of `EVENTS`.
#[linkme::distributed_slice]
pub static FREE_HANDLERS: [HandlerDecl];

/// Every `#[handler]` in the binary: the free functions, then the methods
/// of every event.
pub(crate) static HANDLERS: AllHandlers = AllHandlers(());

/// The view behind [`HANDLERS`].
pub(crate) struct AllHandlers(());

impl AllHandlers {
    /// Every handler declaration, free functions first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'static HandlerDecl> {
        let methods = EVENTS.iter().flat_map(|event| event.methods);
        FREE_HANDLERS.iter().chain(methods)
    }
}

/// Adds a `static` [`EventDecl`] to [`EVENTS`]. Generated code calls this
/// instead of `#[linkme::distributed_slice]`: it expands straight to the
/// slice's own `macro_rules!` (which linkme defines next to the slice and
/// which puts the static in the slice's link section), without linkme's
/// attribute macro and the type-check function it adds to each element —
/// the type is fixed here.
#[doc(hidden)]
#[macro_export]
macro_rules! __eventlib_register_event {
    ($item:item) => {
        $crate::__private::EVENTS! {
            #![linkme_macro = $crate::__private::EVENTS]
            $item
        }
    };
}

/// Adds a `static` [`HandlerDecl`] of a free function to
/// [`FREE_HANDLERS`], as [`__eventlib_register_event!`] does for events.
#[doc(hidden)]
#[macro_export]
macro_rules! __eventlib_register_handler {
    ($item:item) => {
        $crate::__private::FREE_HANDLERS! {
            #![linkme_macro = $crate::__private::FREE_HANDLERS]
            $item
        }
    };
}

/// The link-time declaration of one event type.
pub struct EventDecl {
    /// The registered name.
    pub name: &'static str,
    /// `std::any::type_name` of the type.
    pub type_name: fn() -> &'static str,
    /// Where the `#[event]` impl is.
    pub file: &'static str,
    /// The line of the `#[event]` impl.
    pub line: u32,
    /// Builds a record of the event from by-name data.
    pub from_json: fn(Value, u32) -> Result<Record, Error>,
    /// The `#[handler]` methods of its `#[event]` impl.
    pub methods: &'static [HandlerDecl],
}

impl EventDecl {
    /// The declaration of event type `T`, with its handler methods.
    pub const fn new<T: Event>(
        file: &'static str,
        line: u32,
        methods: &'static [HandlerDecl],
    ) -> Self {
        EventDecl {
            name: T::NAME,
            type_name: std::any::type_name::<T>,
            file,
            line,
            from_json: crate::log::record_from_json::<T>,
            methods,
        }
    }
}

/// What a handler is attached to.
pub enum Target {
    /// One event type (methods and typed free functions).
    Event(fn() -> &'static EventDecl),
    /// Every event whose name matches the pattern (wildcard handlers).
    Pattern(&'static str),
}

/// How to call a handler.
pub enum HandlerFn {
    /// A `fn` handler, run to completion on a pool thread.
    Sync(fn(&Record) -> Result<(), anyhow::Error>),
    /// An `async fn` handler, spawned as its own task.
    Async(fn(Record) -> BoxFuture<'static, Result<(), anyhow::Error>>),
}

/// The link-time declaration of one handler.
pub struct HandlerDecl {
    /// The handler's path, such as `shoestore::ProductViewed::save_to_db`.
    pub name: &'static str,
    /// Method, function or wildcard.
    pub kind: HandlerKind,
    /// The event or the pattern it handles.
    pub target: Target,
    /// Declaration order inside an `#[event]` impl.
    pub order: u32,
    /// The handler group (`""` for the default group).
    pub group: &'static str,
    /// Where the handler is.
    pub file: &'static str,
    /// The handler's line.
    pub line: u32,
    /// The function the dispatcher calls.
    pub call: HandlerFn,
}

impl HandlerDecl {
    /// Whether it is an `async fn`.
    pub(crate) fn is_async(&self) -> bool {
        matches!(self.call, HandlerFn::Async(_))
    }

    /// The handler's group, `"default"` when none was given.
    pub(crate) fn group(&self) -> &'static str {
        if self.group.is_empty() {
            "default"
        } else {
            self.group
        }
    }
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
        let index = resolve()?;
        self.0.store(index, Ordering::Relaxed);
        Ok(index)
    }
}
