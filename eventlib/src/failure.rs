//! The failures the error hook is told about: a handler's error or panic,
//! a dropped or undeliverable event.

use std::fmt;

use crate::id::EventId;

/// A handler failure or a dropped event, as reported to the error hook
/// (see [`Builder::error_hook`](crate::Builder::error_hook)).
#[derive(Debug)]
pub struct Failure {
    /// The event's name.
    pub event: &'static str,
    /// The event's id.
    pub event_id: EventId,
    /// The handler's path (`shoestore::save_to_db`), or `None` when the
    /// whole event was dropped.
    pub handler: Option<&'static str>,
    /// What happened.
    pub kind: FailureKind,
}

/// What went wrong, in a [`Failure`].
#[derive(Debug)]
#[non_exhaustive]
pub enum FailureKind {
    /// The handler returned `Err`.
    Error(anyhow::Error),
    /// The handler panicked; the panic message.
    Panic(String),
    /// The event was dropped because the queue was full (see
    /// [`Overflow`](crate::Overflow)).
    Dropped,
    /// A transport gave the event up: it can never be delivered as it is
    /// (the server refuses it); the reason.
    Undelivered(String),
    /// An async handler's task was dropped before it finished (the
    /// runtime or executor running it shut down); the reason. Counted as
    /// a failed run.
    Abandoned(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let handler = self.handler.unwrap_or("-");
        match &self.kind {
            FailureKind::Error(err) => write!(
                f,
                "handler `{handler}` of event `{}` ({}) failed: {err:#}",
                self.event, self.event_id
            ),
            FailureKind::Panic(msg) => write!(
                f,
                "handler `{handler}` of event `{}` ({}) panicked: {msg}",
                self.event, self.event_id
            ),
            FailureKind::Dropped => write!(
                f,
                "event `{}` ({}) dropped: the eventlib queue is full (see `Overflow`)",
                self.event, self.event_id
            ),
            FailureKind::Undelivered(reason) => write!(
                f,
                "event `{}` ({}) could not be delivered: {reason}",
                self.event, self.event_id
            ),
            FailureKind::Abandoned(reason) => write!(
                f,
                "handler `{handler}` of event `{}` ({}) was abandoned: {reason}",
                self.event, self.event_id
            ),
        }
    }
}

/// The error alone (`panicked: ...` for a panic), without the event and
/// handler a [`Failure`] names.
impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Error(err) => write!(f, "{err:#}"),
            FailureKind::Panic(msg) => write!(f, "panicked: {msg}"),
            FailureKind::Dropped => f.write_str("dropped: the eventlib queue is full"),
            FailureKind::Undelivered(reason) => write!(f, "undelivered: {reason}"),
            FailureKind::Abandoned(reason) => write!(f, "abandoned: {reason}"),
        }
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
