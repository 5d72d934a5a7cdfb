//! Every way of logging an event: `log!(event)`, `log!("name", {...})` and
//! [`log_json`]. Each validates in the caller, builds a [`Record`] and hands
//! it to the dispatcher.

use serde::Serialize;
use serde_json::Value;

use crate::context::EventId;
use crate::dispatcher;
use crate::error::Error;
use crate::event::{validate, Event, EventSlot};
use crate::record::Record;
use crate::registry::registry;

/// `log!(event)`.
#[inline]
pub fn log_typed<T: Event>(event: T) -> Result<EventId, Error> {
    validate(&event)?;
    let index = T::__slot().index(|| registry().index_of_slot(T::__slot(), T::NAME))?;
    dispatcher::dispatch(Record::new(event, index))
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
    let decl = registry().decl(index);
    let data = data.map_err(|err| Error::InvalidData {
        event: decl.name,
        field: Some(err.field),
        reason: err.error.to_string(),
    })?;
    dispatcher::dispatch((decl.from_json)(data, index)?)
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
    let registry = registry();
    let index = registry.index_of_name(name)?;
    dispatcher::dispatch((registry.decl(index).from_json)(data, index)?)
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
