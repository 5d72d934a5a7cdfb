//! What the macros' generated code reaches, through `::eventlib::__private`.
//! Not a public API: it may change in any release.
//!
//! Only re-exports, and the type-level checks that put rustc's errors on
//! the user's tokens; the model and the logic live in their own modules.

use serde::Serialize;
use serde_json::Value;

use crate::error::ValidationError;

pub use crate::__eventlib_register_event as register_event;
pub use crate::__eventlib_register_handler as register_handler;
pub use crate::decl::{EventDecl, HandlerDecl, HandlerFn, Target, EVENTS, FREE_HANDLERS};
pub use crate::event::EventSlot;
pub use crate::handler::{
    call_async, call_sync, call_sync_ctx, event_of, HandlerKind, HandlerOutput,
};
pub use crate::log::{array, log_by_name, log_typed, object, to_value, CallSite, DataError};
pub use crate::record::Record;
pub use anyhow;
pub use eventlib_macros::log_impl;
pub use futures::future::BoxFuture;
pub use linkme;
pub use serde_json;

/// Bumped when generated code and this module stop fitting together; the
/// macros emit a reference to it so that a mismatched pair fails to build.
pub const VERSION_0_1: () = ();

/// A type-level check: what a `#[validate]` method returns. The macro
/// writes `<ReturnType as ValidateOutput>::into_validation`, so a wrong
/// return type is reported on the user's return type.
#[diagnostic::on_unimplemented(
    message = "`#[validate]` must return `Result<(), eventlib::ValidationError>`, not `{Self}`",
    label = "expected `Result<(), eventlib::ValidationError>`",
    note = "return `Err(eventlib::ValidationError::new(\"why\"))` to refuse the event"
)]
pub trait ValidateOutput {
    /// The result `log!` returns.
    fn into_validation(self) -> Result<(), ValidationError>;
}

impl ValidateOutput for Result<(), ValidationError> {
    #[inline]
    fn into_validation(self) -> Result<(), ValidationError> {
        self
    }
}

/// The `Ok(())` of an event without `#[validate]`.
#[inline]
pub fn no_validation() -> Result<(), ValidationError> {
    Ok(())
}

/// A type-level check: a value of by-name `log!` data is `Serialize`.
#[diagnostic::on_unimplemented(
    message = "`log!` data values must implement `serde::Serialize`, and `{Self}` does not",
    label = "not `Serialize`",
    note = "derive `serde::Serialize` for `{Self}`, or log one of its fields instead"
)]
pub trait LogValue: Serialize {}

impl<T: Serialize + ?Sized> LogValue for T {}

/// A type-level check that `value` may be logged as by-name data, then
/// [`to_value`]: one bound, so a value that is not `Serialize` is reported
/// once, with the message of [`LogValue`].
#[inline]
pub fn assert_log_value<T: LogValue + ?Sized>(field: &str, value: &T) -> Result<Value, DataError> {
    to_value(field, value)
}

/// A type-level check: the error type of a handler returning
/// `Result<(), E>` converts into `anyhow::Error`.
#[diagnostic::on_unimplemented(
    message = "`#[handler]` error types must convert into `anyhow::Error`, and `{Self}` does not",
    label = "not `Into<anyhow::Error>`",
    note = "implement `std::error::Error` for `{Self}` (and keep it `Send + Sync + 'static`), or return `anyhow::Result<()>`"
)]
pub trait HandlerError: Into<anyhow::Error> {}

impl<E: Into<anyhow::Error>> HandlerError for E {}

/// The result of a handler returning `Result<(), E>`, checked by
/// [`HandlerError`] on the user's `E`.
#[inline]
pub fn assert_handler_error<E: HandlerError>(result: Result<(), E>) -> Result<(), anyhow::Error> {
    result.map_err(Into::into)
}
