//! The hook of a transactional outbox (such as `eventlib-sql`): an event
//! validated and encoded in the caller, to be written in the caller's own
//! database transaction, and later handed to the installed transport with
//! its original event id.
//!
//! The envelope is the wire format of `docs/wire-format.md`, so this
//! module lives behind the `redis` feature with its encoder.

use serde_json::Value;

use crate::dispatcher::{self, Wait};
use crate::error::Error;
use crate::event::Event;
use crate::id::EventId;
use crate::record::Record;
use crate::redis::wire::{self, StreamId, Undecodable};

/// An event validated as `log!` validates it, encoded as its envelope, and
/// not yet dispatched.
#[derive(Debug, Clone)]
pub struct Prepared {
    id: EventId,
    name: &'static str,
    envelope: Vec<u8>,
}

impl Prepared {
    fn of(record: &Record) -> Self {
        Prepared {
            id: record.id(),
            name: record.name(),
            envelope: wire::encode(record),
        }
    }

    /// The event id, kept by every later send of this event.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The event's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The envelope (JSON, the wire format): metadata and trace context
    /// included.
    pub fn envelope(&self) -> &[u8] {
        &self.envelope
    }
}

/// Validates a typed event in the caller (its `#[validate]`, with the
/// refusal counted as `log!` counts it) and encodes it.
pub fn prepare<T: Event>(event: T) -> Result<Prepared, Error> {
    Ok(Prepared::of(&crate::log::typed_record(event)?))
}

/// Validates an event given by name with its data as JSON, as
/// [`log_json`](crate::log_json) does, and encodes it.
pub fn prepare_json(name: &str, data: Value) -> Result<Prepared, Error> {
    let index = crate::registry::registry().index_of_name(name)?;
    Ok(Prepared::of(&crate::log::from_json(index, data)?))
}

/// Why an envelope could not be handed to the transport.
#[derive(Debug)]
#[non_exhaustive]
pub enum ResendError {
    /// The envelope cannot be read or its data does not fit its event
    /// (it will never be sent as it is).
    Poison(String),
    /// No event of this name is linked into this program.
    UnknownEvent(String),
    /// The dispatcher refused it (not installed, shut down, queue full).
    Dispatch(Error),
}

impl std::fmt::Display for ResendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResendError::Poison(reason) => write!(f, "unreadable envelope: {reason}"),
            ResendError::UnknownEvent(reason) => f.write_str(reason),
            ResendError::Dispatch(err) => write!(f, "the dispatcher refused the event: {err}"),
        }
    }
}

impl std::error::Error for ResendError {}

/// Hands the event of `envelope` to the dispatcher (and so the installed
/// transport) with its original id, event time, metadata and trace
/// context; waits for room in the queue as the dispatcher is configured.
pub fn resend(envelope: &[u8]) -> Result<EventId, ResendError> {
    // A stored envelope always has its id and time: the entry id is unused.
    let decoded = wire::decode(envelope, StreamId::default()).map_err(|err| match err {
        Undecodable::UnknownEvent { reason, .. } => ResendError::UnknownEvent(reason),
        other => ResendError::Poison(other.reason().to_owned()),
    })?;
    dispatcher::dispatch(decoded.record, Wait::AsConfigured).map_err(ResendError::Dispatch)
}

/// Whether an event of `name` that [`resend`] hands over now goes
/// nowhere: no transport is installed, and this program links no handler
/// of it. So it is for a relay in a process of its own that was not given
/// the transport it was meant to send to.
pub fn goes_nowhere(name: &str) -> bool {
    crate::transport::installed().is_none()
        && crate::registry::registry()
            .event(name)
            .is_some_and(|event| event.handlers().next().is_none())
}

/// The events of some names, watched while a batch [`resend`] handed over
/// is out: whether any of them is still in flight, and how many the
/// dispatcher or the transport dropped. Reads the same counters as
/// [`stats`](crate::stats()), without copying them.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    events: Vec<u32>,
}

impl Watch {
    /// Watches the events of `names`; `None` when one of them is not linked
    /// into this program.
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Watch> {
        let registry = crate::registry::registry();
        let events = names
            .into_iter()
            .map(|name| registry.index_of_name(name).ok())
            .collect::<Option<Vec<u32>>>()?;
        Some(Watch { events })
    }

    /// Whether every event of these names emitted so far is completed
    /// (the transport confirmed it, or its handlers finished) or dropped.
    ///
    /// The settled counts are read before the emitted ones: counters only
    /// grow and an event is emitted before it settles, so equal sums mean
    /// nothing of these names was in flight when the first were read.
    pub fn settled(&self) -> bool {
        let settled: u64 = self.counters().map(|c| c.settled()).sum();
        let emitted: u64 = self.counters().map(|c| c.emitted()).sum();
        emitted <= settled
    }

    /// How many events of these names were dropped so far (never queued,
    /// or given up by the transport).
    pub fn dropped(&self) -> u64 {
        self.counters().map(|c| c.dropped()).sum()
    }

    fn counters(&self) -> impl Iterator<Item = &'static crate::counters::EventCounters> + '_ {
        let registry = crate::registry::registry();
        self.events
            .iter()
            .map(move |&index| &registry.events[index as usize].counters)
    }
}
