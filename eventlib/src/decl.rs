//! The link-time model: what `#[event]` and `#[handler]` declare, and the
//! `linkme` slices that collect every declaration linked into the binary.
//!
//! Generated code builds these values in `static`s (through `__private`);
//! the registry reads the slices once, on first use.

use futures::future::BoxFuture;
use serde_json::Value;

use crate::context::Context;
use crate::error::Error;
use crate::event::{Event, EventSlot};
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
    /// The type's [`EventSlot`], which also identifies the type.
    pub slot: &'static EventSlot,
    /// `std::any::type_name` of the type.
    pub type_name: fn() -> &'static str,
    /// Where the `#[event]` impl is.
    pub file: &'static str,
    /// The line of the `#[event]` impl.
    pub line: u32,
    /// Builds a record of the event from by-name data.
    pub from_json: fn(Value, u32) -> Result<Record, Error>,
    /// Builds a record of the event from the JSON text of its data and
    /// the context read with it.
    pub from_json_text: fn(&str, Context) -> Result<Record, Error>,
    /// The `#[handler]` methods of its `#[event]` impl.
    pub methods: &'static [HandlerDecl],
}

impl EventDecl {
    /// The declaration of event type `T`, with its handler methods.
    pub const fn new<T: Event>(
        slot: &'static EventSlot,
        file: &'static str,
        line: u32,
        methods: &'static [HandlerDecl],
    ) -> Self {
        EventDecl {
            name: T::NAME,
            slot,
            type_name: std::any::type_name::<T>,
            file,
            line,
            from_json: Record::from_json::<T>,
            from_json_text: Record::from_json_text::<T>,
            methods,
        }
    }
}

/// What a handler is attached to.
pub enum Target {
    /// One event type (methods and typed free functions), by its
    /// [`EventSlot`].
    Event(fn() -> &'static EventSlot),
    /// Every event whose name matches the pattern (wildcard handlers).
    Pattern(&'static str),
}

/// How to call a handler.
#[derive(Clone, Copy)]
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
