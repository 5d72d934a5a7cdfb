//! The hook of a transactional outbox (such as `eventlib-sql`): an event
//! validated and encoded in the caller, to be written in the caller's own
//! database transaction, and later handed to the installed transport with
//! its original event id.
//!
//! The envelope is the wire format of `docs/wire-format.md`, so this
//! module lives behind the `redis` feature with its encoder.

use std::sync::Arc;

use serde_json::Value;

use crate::dispatcher::{self, Wait};
use crate::error::Error;
use crate::event::Event;
use crate::id::EventId;
use crate::record::Record;
use crate::redis::wire::{self, Undecodable};
use crate::settle::Tally;
pub use crate::settle::{Settled, Settling};

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

/// Whether an event of `name` that [`Batch::resend`] hands over now goes
/// nowhere: no transport is installed, and this program links no handler
/// of it. So it is for a relay in a process of its own that was not given
/// the transport it was meant to send to.
pub fn goes_nowhere(name: &str) -> bool {
    crate::transport::installed().is_none()
        && crate::registry::registry()
            .event(name)
            .is_some_and(|event| event.handlers().next().is_none())
}

/// An event [`Batch::resend`] handed to the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resent {
    id: EventId,
    name: &'static str,
}

impl Resent {
    /// Its original event id.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// Its event's registered name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Events handed to the dispatcher together, each with its original id
/// ([`Batch::resend`]), and known to be settled together
/// ([`Batch::settled`]): every one delivered by the transport (or its
/// handlers finished), or dropped.
///
/// Only the batch's own events are waited for: a service that logs
/// events of the same names all the time does not hold it up, and
/// batches handed one after another are each settled on their own.
#[derive(Debug, Default)]
pub struct Batch {
    tally: Arc<Tally>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    /// Hands the event of `envelope` to the dispatcher (and so the
    /// installed transport) with its original id, event time, metadata
    /// and trace context, as one of this batch.
    ///
    /// It blocks: it waits for room in the queue as the dispatcher is
    /// configured, and in [inline mode](crate::Mode::Inline) it runs the
    /// event's handlers, async ones included, before it returns. Call it
    /// on a thread that may block: a thread of its own, or one of tokio's
    /// blocking threads (`spawn_blocking`), not on an async runtime's
    /// worker.
    ///
    /// The envelope is sent on as it is to a Redis transport (or its
    /// spool): data fields, metadata and trace context this build does not
    /// know of are kept. It is decoded all the same, to build the event
    /// for local handlers and to refuse one that does not fit its type.
    pub fn resend(&self, envelope: impl Into<Box<[u8]>>) -> Result<Resent, ResendError> {
        let envelope = envelope.into();
        let (mut record, replay) = wire::decode_once(&envelope).map_err(|err| match err {
            Undecodable::UnknownEvent { reason, .. } => ResendError::UnknownEvent(reason),
            other => ResendError::Poison(other.reason().to_owned()),
        })?;
        // Sent on as it is, unless it targets a replay (`group`,
        // `handlers`), which an outbox row never asks for: encoding the
        // event again drops those fields, as it always did.
        if !replay {
            record.resent_from(envelope);
        }
        record.set_batch(Arc::clone(&self.tally));
        let name = record.name();
        crate::ambient::may_block(|| dispatcher::dispatch(record, Wait::AsConfigured))
            .map(|id| Resent { id, name })
            .map_err(ResendError::Dispatch)
    }

    /// Ends the batch: resolves once every event it handed over is
    /// settled. An event a testing capture took counts as settled at once
    /// (it is not dispatched).
    pub fn settled(self) -> Settling {
        Settling::of(self.tally)
    }
}
