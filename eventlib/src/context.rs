//! [`EventId`] and the [`Context`] handlers receive: what is known of one
//! logged event besides its data.

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::metadata::{self, Metadata};
#[cfg(feature = "tracing")]
use crate::trace::Trace;

/// The unique id of one logged event: 128 bits, printed as 32 hex digits.
///
/// The high half is random per process, the low half counts up, so ids are
/// unique across processes and machines without coordination.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    // Two halves rather than a `u128`, whose 16-byte alignment would pad
    // every record.
    high: u64,
    low: u64,
}

impl EventId {
    /// A fresh id.
    pub fn new() -> Self {
        // Each thread takes blocks of 1024 ids so that producers on many
        // threads do not contend on one counter.
        const BLOCK: u64 = 1024;
        static NEXT_BLOCK: AtomicU64 = AtomicU64::new(0);
        thread_local! {
            static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let low = RANGE.with(|range| {
            let (mut next, mut end) = range.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(1, Ordering::Relaxed) * BLOCK;
                end = next + BLOCK;
            }
            range.set((next + 1, end));
            next
        });
        EventId {
            high: process_tag(),
            low,
        }
    }

    /// The id as a number.
    pub fn as_u128(self) -> u128 {
        (u128::from(self.high) << 64) | u128::from(self.low)
    }

    /// Rebuilds an id from [`as_u128`](Self::as_u128) (for ids read back
    /// from a transport).
    pub fn from_u128(id: u128) -> Self {
        EventId {
            high: (id >> 64) as u64,
            low: id as u64,
        }
    }
}

impl Default for EventId {
    fn default() -> Self {
        EventId::new()
    }
}

fn process_tag() -> u64 {
    static TAG: OnceLock<u64> = OnceLock::new();
    *TAG.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        if let Ok(now) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
            hasher.write_u128(now.as_nanos());
        }
        hasher.finish()
    })
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.as_u128())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl std::str::FromStr for EventId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u128::from_str_radix(s, 16).map(EventId::from_u128)
    }
}

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
