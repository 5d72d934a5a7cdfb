//! What the macros' generated code reaches, through `::eventlib::__private`.
//! Not a public API: it may change in any release.

use std::sync::atomic::{AtomicU32, Ordering};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, ValidationError};
use crate::event::{Context, Event, EventId};
use crate::registry::{registry, UNSET};

pub use crate::handler::{HandlerKind, HandlerOutput};
pub use crate::record::Record;
pub use anyhow;
pub use eventlib_macros::log_impl;
pub use futures::future::BoxFuture;
pub use linkme;
pub use serde_json;

/// Bumped when generated code and this module stop fitting together; the
/// macros emit a reference to it so that a mismatched pair fails to build.
pub const VERSION_0_1: () = ();

/// Every `#[event]` in the binary.
#[linkme::distributed_slice]
pub static EVENTS: [EventDecl];

/// Every `#[handler]` in the binary.
#[linkme::distributed_slice]
pub static HANDLERS: [HandlerDecl];

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
}

impl EventDecl {
    /// The declaration of event type `T`.
    pub const fn new<T: Event>(file: &'static str, line: u32) -> Self {
        EventDecl {
            name: T::NAME,
            type_name: std::any::type_name::<T>,
            file,
            line,
            from_json: record_from_json::<T>,
        }
    }
}

/// The per-type cache of an event's index in the registry.
pub struct EventSlot(AtomicU32);

impl EventSlot {
    /// An empty slot.
    #[allow(clippy::new_without_default)] // only ever built in a `static`
    pub const fn new() -> Self {
        EventSlot(AtomicU32::new(UNSET))
    }

    #[inline]
    pub(crate) fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self, index: u32) {
        self.0.store(index, Ordering::Relaxed);
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

/// The event a typed handler was registered for, out of its record.
#[inline]
pub fn event_of<T: Event>(record: &Record) -> Result<&T, anyhow::Error> {
    record.downcast_ref::<T>().ok_or_else(|| {
        anyhow::anyhow!(
            "eventlib: handler for `{}` received an event of another type (`{}`)",
            T::NAME,
            record.name()
        )
    })
}

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

/// `log!(event)`.
#[inline]
pub fn log_typed<T: Event>(event: T) -> Result<EventId, Error> {
    if let Err(error) = event.__validate() {
        return Err(Error::Validation {
            event: T::NAME,
            error,
        });
    }
    let index = index_of::<T>()?;
    let record = Record::new(event, Context::new(index));
    crate::dispatcher::dispatch(record)
}

#[inline]
fn index_of<T: Event>() -> Result<u32, Error> {
    let cached = T::__slot().get();
    if cached != UNSET {
        return Ok(cached);
    }
    let index = registry().index_of_decl(T::__decl())?;
    T::__slot().set(index);
    Ok(index)
}

/// A `log!("name", {...})` call site: caches the name's registry index.
pub struct CallSite {
    name: &'static str,
    index: AtomicU32,
}

impl CallSite {
    /// The call site of a by-name `log!`.
    pub const fn new(name: &'static str) -> Self {
        CallSite {
            name,
            index: AtomicU32::new(UNSET),
        }
    }
}

/// `log!("name", { ... })`.
pub fn log_by_name(
    site: &'static CallSite,
    data: Result<Value, DataError>,
) -> Result<EventId, Error> {
    let mut index = site.index.load(Ordering::Relaxed);
    if index == UNSET {
        index = registry().index_of_name(site.name)?;
        site.index.store(index, Ordering::Relaxed);
    }
    let decl = registry().decl(index);
    let data = data.map_err(|err| Error::InvalidData {
        event: decl.name,
        field: Some(err.field),
        reason: err.error.to_string(),
    })?;
    let record = (decl.from_json)(data, index)?;
    crate::dispatcher::dispatch(record)
}

fn record_from_json<T: Event>(data: Value, index: u32) -> Result<Record, Error> {
    // Borrowed, so that the data stays at hand for the slow path: tracking
    // the path on every call would copy each key, and an error is rare.
    let event = match T::deserialize(&data) {
        Ok(event) => event,
        Err(_) => serde_path_to_error::deserialize::<_, T>(&data).map_err(data_error::<T>)?,
    };
    if let Err(error) = event.__validate() {
        return Err(Error::Validation {
            event: T::NAME,
            error,
        });
    }
    Ok(Record::new(event, Context::new(index)))
}

#[cold]
fn data_error<T: Event>(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = err.path().to_string();
    let path = (path != ".").then_some(path);
    let reason = err.into_inner().to_string();
    // serde reports a missing field at the path of the object that lacks
    // it; the field's own path is what the caller wants.
    let missing = reason
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let (field, reason) = match (missing, path) {
        (Some(name), Some(path)) => (Some(format!("{path}.{name}")), "missing".to_owned()),
        (Some(name), None) => (Some(name.to_owned()), "missing".to_owned()),
        (None, path) => (path, reason),
    };
    Error::InvalidData {
        event: T::NAME,
        field,
        reason,
    }
}

/// A by-name data value that could not be turned into JSON.
#[derive(Debug)]
pub struct DataError {
    field: String,
    error: serde_json::Error,
}

/// One field of by-name data.
pub fn to_value<T: Serialize + ?Sized>(field: &str, value: &T) -> Result<Value, DataError> {
    serde_json::to_value(value).map_err(|error| DataError {
        field: field.to_owned(),
        error,
    })
}

/// A JSON object of by-name data.
pub fn object<const N: usize>(
    entries: [(&'static str, Result<Value, DataError>); N],
) -> Result<Value, DataError> {
    let mut map = serde_json::Map::with_capacity(N);
    for (key, value) in entries {
        map.insert(key.to_owned(), value?);
    }
    Ok(Value::Object(map))
}

/// A JSON array of by-name data.
pub fn array<const N: usize>(items: [Result<Value, DataError>; N]) -> Result<Value, DataError> {
    items
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// The `Ok(())` of an event without `#[validate]`.
#[inline]
pub fn no_validation() -> Result<(), ValidationError> {
    Ok(())
}
