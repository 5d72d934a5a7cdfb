//! Every way of logging an event: `log!(event)`, `log!("name", {...})` and
//! [`log_json`]. Each validates in the caller, builds a [`Record`] and hands
//! it to the dispatcher.

use serde::Serialize;
use serde_json::Value;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use crate::dispatcher::{self, Offered, Wait};
use crate::error::Error;
use crate::event::{validate, Event, EventSlot};
use crate::id::EventId;
use crate::meters::Refusal;
use crate::record::Record;
use crate::registry::registry;

/// `log!(event)`.
#[inline]
pub fn log_typed<T: Event>(event: T) -> Result<EventId, Error> {
    dispatch(typed_record(event)?, Wait::AsConfigured)
}

/// The record of a typed event, validated in the caller.
#[inline]
pub(crate) fn typed_record<T: Event>(event: T) -> Result<Record, Error> {
    let index = T::__slot().index(|| registry().index_of_slot(T::__slot(), T::NAME))?;
    if let Err(err) = validate(&event) {
        return Err(refused(index, err));
    }
    Ok(Record::new(event, index))
}

/// `log!(event)` that never waits for room in the queue: when the queue is
/// full it returns [`Error::QueueFull`] at once (the event counted as
/// dropped), whatever the [overflow policy](crate::Overflow). For code
/// that must not block and can tell its caller to try again, like
/// [`try_log_json`].
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize)] struct Ping { n: u32 }
/// # #[eventlib::event(name = "docs.TryTyped")] impl Ping {}
/// match eventlib::try_log(Ping { n: 1 }) {
///     Ok(id) => println!("queued as {id}"),
///     Err(eventlib::Error::QueueFull { .. }) => println!("busy: try again later"),
///     Err(other) => return Err(other),
/// }
/// # Ok::<(), eventlib::Error>(())
/// ```
pub fn try_log<T: Event>(event: T) -> Result<EventId, Error> {
    dispatch(typed_record(event)?, Wait::Never)
}

/// `log!(event)` for async code: validated at once, in the caller, then
/// queued; while the queue is full, the returned future waits for room
/// without blocking the thread that polls it (it looks again every
/// millisecond), on any executor. Nothing is dropped: the event is queued
/// once there is room, or the future resolves to the error that refused it.
///
/// A request handler on tokio uses it where `log!`, under the default
/// [`Overflow::Wait`](crate::Overflow), could block a runtime thread for up
/// to a second on a full queue.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize)] struct Ping { n: u32 }
/// # #[eventlib::event(name = "docs.AsyncTyped")] impl Ping {}
/// # futures::executor::block_on(async {
/// let id = eventlib::log_async(Ping { n: 1 }).await?;
/// # let _ = id;
/// # Ok::<(), eventlib::Error>(())
/// # })?;
/// # Ok::<(), eventlib::Error>(())
/// ```
pub fn log_async<T: Event>(event: T) -> Logging {
    Logging {
        state: Some(typed_record(event)),
    }
}

/// The future of [`log_async`]: the event's id once it is queued.
#[must_use = "the event is queued only when this future is awaited"]
pub struct Logging {
    state: Option<Result<Record, Error>>,
}

impl Future for Logging {
    type Output = Result<EventId, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let record = match self.state.take() {
            Some(Ok(record)) => record,
            Some(Err(err)) => return Poll::Ready(Err(err)),
            None => panic!("`log_async` future polled after it completed"),
        };
        match dispatcher::dispatch_or_give_back(record) {
            Offered::Done(result) => {
                #[cfg(feature = "tracing")]
                if let Ok(id) = &result {
                    tracing::debug!(target: "eventlib", event_id = %id, "event logged");
                }
                Poll::Ready(result)
            }
            Offered::Full(record) => {
                self.state = Some(Ok(record));
                if crate::room::wake_at_once() {
                    cx.waker().wake_by_ref();
                } else {
                    crate::room::wake_soon(cx.waker());
                }
                Poll::Pending
            }
        }
    }
}

/// Hands a record to the dispatcher, and tells the current span.
#[inline]
fn dispatch(record: Record, wait: Wait) -> Result<EventId, Error> {
    let result = dispatcher::dispatch(record, wait);
    #[cfg(feature = "tracing")]
    if let Ok(id) = &result {
        tracing::debug!(target: "eventlib", event_id = %id, "event logged");
    }
    result
}

/// Counts a refusal of `log!` against event `index`, by its reason.
#[cold]
fn refused(index: u32, err: Error) -> Error {
    let reason = match err {
        Error::Validation { .. } => Some(Refusal::Validation),
        Error::InvalidData { .. } => Some(Refusal::Data),
        _ => None,
    };
    if let Some(reason) = reason {
        registry().events[index as usize].counters.refuse(reason);
    }
    err
}

/// The record of event `index` built from by-name data, refusals counted.
pub(crate) fn from_json(index: u32, data: Value) -> Result<Record, Error> {
    (registry().decl(index).from_json)(data, index).map_err(|err| refused(index, err))
}

/// A `log!("name", {...})` call site: caches the name's registry index.
pub struct CallSite {
    name: &'static str,
    slot: EventSlot,
}

impl CallSite {
    /// The call site of a by-name `log!`.
    pub const fn new(name: &'static str) -> Self {
        CallSite {
            name,
            slot: EventSlot::new(),
        }
    }
}

/// `log!("name", { ... })`.
pub fn log_by_name(
    site: &'static CallSite,
    data: Result<Value, DataError>,
) -> Result<EventId, Error> {
    let index = site.slot.index(|| registry().index_of_name(site.name))?;
    let data = data.map_err(|err| {
        let err = Error::InvalidData {
            event: registry().decl(index).name,
            field: Some(err.field),
            reason: err.error.to_string(),
        };
        refused(index, err)
    })?;
    dispatch(from_json(index, data)?, Wait::AsConfigured)
}

/// Logs an event by a name known only at run time (from a message queue,
/// a webhook, another language), with its data as JSON. `log!` with a
/// literal name is the usual form; this is the same path.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize)] struct Ping { n: u32 }
/// # #[eventlib::event(name = "docs.ByName")] impl Ping {}
/// let name = String::from("docs.ByName");
/// eventlib::log_json(&name, serde_json::json!({ "n": 1 }))?;
/// assert!(matches!(
///     eventlib::log_json("docs.Nope", serde_json::json!({})),
///     Err(eventlib::Error::UnknownEvent { .. })
/// ));
/// # Ok::<(), eventlib::Error>(())
/// ```
pub fn log_json(name: &str, data: Value) -> Result<EventId, Error> {
    let index = registry().index_of_name(name)?;
    dispatch(from_json(index, data)?, Wait::AsConfigured)
}

/// [`log_json`] that never waits for room in the queue: when the queue is
/// full it returns [`Error::QueueFull`] at once (the event counted as
/// dropped), whatever the [overflow policy](crate::Overflow), and the
/// event is never dropped behind an `Ok`.
///
/// For code that takes events from outside and must not block, such as an
/// async request handler: it answers "try again later" to its client
/// instead of holding a runtime thread, and never acknowledges an event
/// the queue had no room for. `eventlib-axum`'s ingestion endpoint logs
/// through it.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize)] struct Ping { n: u32 }
/// # #[eventlib::event(name = "docs.TryByName")] impl Ping {}
/// match eventlib::try_log_json("docs.TryByName", serde_json::json!({ "n": 1 })) {
///     Ok(id) => println!("queued as {id}"),
///     Err(eventlib::Error::QueueFull { .. }) => println!("busy: try again later"),
///     Err(other) => return Err(other),
/// }
/// # Ok::<(), eventlib::Error>(())
/// ```
pub fn try_log_json(name: &str, data: Value) -> Result<EventId, Error> {
    let index = registry().index_of_name(name)?;
    dispatch(from_json(index, data)?, Wait::Never)
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
