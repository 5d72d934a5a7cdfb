//! Handler kinds, what a handler may return, and the functions generated
//! handlers call.

use std::fmt;

use futures::future::BoxFuture;

use crate::context::Context;
use crate::event::Event;
use crate::record::Record;

/// The kind of a handler, as introspection reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandlerKind {
    /// A `#[handler]` method inside the event's `#[event]` impl.
    Method,
    /// A `#[handler]` free function taking `&TheEvent`.
    Function,
    /// A `#[handler("pattern")]` free function taking `&eventlib::Record`.
    Wildcard,
}

impl fmt::Display for HandlerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandlerKind::Method => "method",
            HandlerKind::Function => "function",
            HandlerKind::Wildcard => "wildcard",
        })
    }
}

/// What a handler may return: `()` or `Result<(), E>` with
/// `E: Into<anyhow::Error>`.
#[diagnostic::on_unimplemented(
    message = "`#[handler]` functions must return `()` or `Result<(), E>` where `E: Into<anyhow::Error>`, not `{Self}`",
    label = "unsupported handler return type"
)]
pub trait HandlerOutput {
    /// Converts the output into the dispatcher's result.
    fn into_result(self) -> Result<(), anyhow::Error>;
}

impl HandlerOutput for () {
    fn into_result(self) -> Result<(), anyhow::Error> {
        Ok(())
    }
}

impl<E: Into<anyhow::Error>> HandlerOutput for Result<(), E> {
    fn into_result(self) -> Result<(), anyhow::Error> {
        self.map_err(Into::into)
    }
}

/// The event a typed handler was registered for, out of its record (the
/// first line of every generated typed handler).
#[doc(hidden)]
#[inline]
pub fn event_of<T: Event>(record: &Record) -> Result<&T, anyhow::Error> {
    record
        .downcast_ref::<T>()
        .ok_or_else(|| of_another_type(T::NAME, record))
}

/// Why a typed handler of `expected` cannot take `record`. Out of line and
/// the same for every event type: the handlers' generated code stays the
/// few instructions of the usual path.
#[cold]
#[inline(never)]
fn of_another_type(expected: &'static str, record: &Record) -> anyhow::Error {
    anyhow::anyhow!(
        "eventlib: handler for `{expected}` received an event of another type (`{}`)",
        record.name()
    )
}

/// Runs a typed sync handler taking the event: the body of every generated
/// `fn(&MyEvent)` handler, so that each expansion is one call.
#[doc(hidden)]
#[inline]
pub fn call_sync<T: Event, O>(
    record: &Record,
    handler: fn(&T) -> O,
    into: fn(O) -> Result<(), anyhow::Error>,
) -> Result<(), anyhow::Error> {
    into(handler(event_of::<T>(record)?))
}

/// [`call_sync`] for a handler that also takes the context.
#[doc(hidden)]
#[inline]
pub fn call_sync_ctx<T: Event, O>(
    record: &Record,
    handler: fn(&T, &Context) -> O,
    into: fn(O) -> Result<(), anyhow::Error>,
) -> Result<(), anyhow::Error> {
    into(handler(event_of::<T>(record)?, record.context()))
}

/// Runs a typed `async fn` handler: `handler` boxes the user's future (so
/// that a future which is not `Send` is reported on the user's `async`),
/// this owns the record it borrows from.
#[doc(hidden)]
pub fn call_async<T: Event, O: 'static>(
    record: Record,
    handler: for<'a> fn(&'a T, &'a Context) -> BoxFuture<'a, O>,
    into: fn(O) -> Result<(), anyhow::Error>,
) -> BoxFuture<'static, Result<(), anyhow::Error>> {
    Box::pin(async move {
        let event = event_of::<T>(&record)?;
        into(handler(event, record.context()).await)
    })
}
