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
    /// The event's index in the registry, where its name is (4 bytes,
    /// beside the attempt's 4, where the name would take 8 or 16).
    index: u32,
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

/// The wall clock now, in nanoseconds since the Unix epoch (0 before it).
/// On Linux straight from `clock_gettime`, which is what `SystemTime::now`
/// reads, without its conversions through `Duration` and `u128` on every
/// `log!`.
#[inline]
pub(crate) fn now_nanos() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec for clock_gettime to write.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } == 0 {
            return match u64::try_from(ts.tv_sec) {
                Ok(secs) => secs
                    .saturating_mul(1_000_000_000)
                    .saturating_add(ts.tv_nsec as u64),
                Err(_) => 0,
            };
        }
    }
    nanos_since_epoch(SystemTime::now())
}

impl Context {
    // Not inlined: one copy serves every event type's `log!`.
    #[inline(never)]
    pub(crate) fn new(index: u32) -> Self {
        Context {
            id: EventId::new(),
            emitted_at: now_nanos(),
            index,
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
        index: u32,
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
            index,
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
        crate::indexed_names::get(self.index)
    }

    /// The event's index in the registry.
    #[inline]
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// When `log!` was called.
    pub fn emitted_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.emitted_at)
    }

    /// [`emitted_at`](Self::emitted_at) in nanoseconds since the epoch.
    #[cfg(any(feature = "metrics", feature = "redis"))]
    pub(crate) fn emitted_nanos(&self) -> u64 {
        self.emitted_at
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
