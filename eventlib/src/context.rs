//! The [`Context`] handlers receive: what is known of one logged event
//! besides its data.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::id::EventId;
use crate::metadata::{self, Metadata};
#[cfg(feature = "tracing")]
use crate::trace::Trace;

/// What a handler may know about the event it handles besides its data.
///
/// Declare a `ctx: &eventlib::Context` parameter to receive it.
#[derive(Clone)]
pub struct Context {
    id: EventId,
    /// Nanoseconds since the Unix epoch: 8 bytes where `SystemTime` takes 16.
    emitted_at: u64,
    /// The event's registered name, behind a thin pointer (8 bytes where
    /// a `&str` takes 16).
    name: &'static &'static str,
    pub(crate) attempt: u32,
    /// What was in scope at `log!`: request id, client IP...
    metadata: Metadata,
    /// The span current at `log!`, or the producer's trace context.
    #[cfg(feature = "tracing")]
    trace: Trace,
}

fn nanos_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Context {
    // Not inlined: one copy serves every event type's `log!`.
    #[inline(never)]
    pub(crate) fn new(name: &'static &'static str) -> Self {
        Context {
            id: EventId::new(),
            emitted_at: nanos_since_epoch(SystemTime::now()),
            name,
            attempt: 1,
            metadata: metadata::current(),
            #[cfg(feature = "tracing")]
            trace: Trace::here(),
        }
    }

    /// A context read back from a transport.
    #[cfg(feature = "redis")]
    pub(crate) fn restore(
        id: EventId,
        name: &'static &'static str,
        emitted_at: SystemTime,
        attempt: u32,
        metadata: Metadata,
        trace: crate::trace::Trace,
    ) -> Self {
        #[cfg(not(feature = "tracing"))]
        let _ = trace;
        Context {
            id,
            emitted_at: nanos_since_epoch(emitted_at),
            name,
            attempt,
            metadata,
            #[cfg(feature = "tracing")]
            trace,
        }
    }

    /// The event's unique id (the one `log!` returned).
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The event's registered name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// When `log!` was called.
    pub fn emitted_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.emitted_at)
    }

    /// Which attempt this is: 1 for the first delivery, more when a
    /// transport retries a failed handler.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The [metadata](crate::metadata) that was in scope when `log!` was
    /// called: request id, client IP, and what else the service set.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The trace the event belongs to.
    #[cfg(feature = "tracing")]
    pub(crate) fn trace(&self) -> &Trace {
        &self.trace
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("id", &self.id)
            .field("name", &self.name())
            .field("emitted_at", &self.emitted_at())
            .field("attempt", &self.attempt)
            .field("metadata", &self.metadata)
            .finish()
    }
}
