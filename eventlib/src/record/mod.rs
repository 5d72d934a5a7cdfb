//! [`Record`]: one logged event with its context, in a type-erased form.

use std::alloc::Layout;
use std::any::TypeId;
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, Ordering};
#[cfg(feature = "redis")]
use std::sync::Arc;
#[cfg(any(feature = "tokio", feature = "redis"))]
use std::sync::OnceLock;

use once_cell::race::OnceBox;
use serde_json::Value;

use crate::context::Context;
use crate::error::Error;
use crate::event::{validate, Event};
use crate::id::EventId;
use shared::{Counted, Shared};

mod shared;

/// One logged event: its [`Context`], the event itself (typed, through
/// [`downcast_ref`](Self::downcast_ref)) and its data as JSON
/// (through [`data`](Self::data)).
///
/// Wildcard handlers receive `&Record`; the testing capture returns them.
/// Cloning is cheap (a reference count).
///
/// ```
/// use eventlib::{event, testing};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// struct Ping { n: u32 }
/// #[event(name = "docs.Ping")]
/// impl Ping {}
///
/// let cap = testing::capture();
/// eventlib::log!(Ping { n: 3 }).unwrap();
/// let record = &cap.records()[0];
/// assert_eq!(record.name(), "docs.Ping");
/// assert_eq!(record.downcast_ref::<Ping>(), Some(&Ping { n: 3 }));
/// assert_eq!(record.data()["n"], 3);
/// ```
#[derive(Clone)]
pub struct Record(Shared<Inner<dyn ErasedEvent>>);

// Kept small: every queued event is one of these, so each field is what
// `docs/performance.md` counts per queued event, and with a small event
// the whole allocation stays within the sizes the system allocator serves
// fastest across threads.
//
// In C's layout, the event last: everything before it is at the same
// place for every event type of an alignment up to a word's, so that a
// record is written by one function for all of them (`allocate`) and
// only the event's move is made for each type.
#[repr(C)]
struct Inner<E: ?Sized> {
    context: Context,
    /// What few events carry, made on first use: one pointer, null until
    /// then, so that the others pay no more.
    extra: OnceBox<Extra>,
    /// Two counts of the delivery in progress in one word: the handlers
    /// not finished yet (low half) and the position of the next one to
    /// start (high half), by which pool threads share out the handlers.
    remaining: AtomicU32,
    event: E,
}

/// A record's allocation with everything but its event: what [`allocate`]
/// writes for an event of any type.
type Header = Counted<Inner<()>>;

/// Whether a record of `T` is laid out as [`Header`] then the event: so is
/// every event type whose alignment is at most a [`Header`]'s (a word).
/// Others (a `u128` field, `#[repr(align(16))]`) are built as one value.
const fn header_first<T>() -> bool {
    std::mem::align_of::<T>() <= std::mem::align_of::<Header>()
}

/// Allocates a record of `layout` (that of a `Counted<Inner<T>>` with
/// [`header_first::<T>`]) and writes its [`Header`]: a new context of
/// event `index`, one reference, no delivery, no extra. The event is left
/// to write.
///
/// Out of line and the same for every event type: what each type's
/// `log!` compiles to is only the move of its event and two calls, which
/// keeps a program of many event types in the instruction cache.
#[inline(never)]
fn allocate(layout: Layout, index: u32) -> NonNull<Header> {
    debug_assert!(layout.size() >= std::mem::size_of::<Header>());
    debug_assert_eq!(layout.align(), std::mem::align_of::<Header>());
    // SAFETY: a `Counted` is never zero-sized (its count is a word).
    let Some(block) = NonNull::new(unsafe { std::alloc::alloc(layout) }) else {
        std::alloc::handle_alloc_error(layout)
    };
    let header = block.cast::<Header>();
    // SAFETY: the block is freshly allocated, aligned for a `Header` and
    // at least as large (a `Counted<Inner<T>>` holds a `Header`'s fields
    // at the same offsets, then the event, and is rounded up to a word).
    // The bytes after the `Header`'s fields that it writes as padding are
    // the event's, written after this.
    unsafe {
        header.as_ptr().write(Counted::new(Inner {
            context: Context::new(index),
            extra: OnceBox::new(),
            remaining: AtomicU32::new(0),
            event: (),
        }));
    }
    header
}

/// The parts of a record that few events have. Each is set at most once.
#[derive(Default)]
struct Extra {
    /// The event as JSON, made when a handler or a transport asks for it.
    data: OnceBox<Value>,
    /// The tokio runtime the event was logged in, where its async handlers
    /// run (set only for events that have some, logged inside a runtime).
    #[cfg(feature = "tokio")]
    runtime: OnceLock<crate::ambient::Handle>,
    /// The outbox batch that handed the event over, told when it settles.
    #[cfg(feature = "redis")]
    batch: OnceLock<Arc<crate::settle::Tally>>,
    /// The envelope the event was read from, when it is to be sent on as
    /// it is (see [`Record::resent_from`]).
    #[cfg(feature = "redis")]
    envelope: OnceLock<Box<[u8]>>,
}

/// The most handlers one event may have: a delivery counts them in half
/// of a word (see `Inner::remaining`).
pub(crate) const MAX_HANDLERS: u32 = (1 << NEXT_SHIFT) - 1;
const NEXT_SHIFT: u32 = 16;

/// An event behind `dyn`: what a record needs of its typed value.
trait ErasedEvent: Send + Sync + 'static {
    fn to_json(&self) -> Result<Value, serde_json::Error>;
    #[cfg(feature = "redis")]
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;
    /// The event's type: one call through the record's own table, where
    /// `Any` would take two (to `&dyn Any`, then to its `type_id`).
    fn event_type(&self) -> TypeId;
}

impl<T: Event> ErasedEvent for T {
    fn to_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    #[cfg(feature = "redis")]
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(out, self)
    }
    fn event_type(&self) -> TypeId {
        TypeId::of::<T>()
    }
}

impl Record {
    #[inline]
    pub(crate) fn new<T: Event>(event: T, index: u32) -> Self {
        if !header_first::<T>() {
            return Record::with_context_of(event, Context::new(index));
        }
        let header = allocate(Layout::new::<Counted<Inner<T>>>(), index);
        let block = header.cast::<Counted<Inner<T>>>();
        // SAFETY: `allocate` wrote every field of the `Counted<Inner<T>>`
        // but the event (`repr(C)`: with `header_first::<T>`, the
        // `Header`'s fields are at the same offsets in both), with the
        // layout of a `Counted<Inner<T>>`, from the global allocator, as
        // `Box` allocates. The event is written here, once: the block is
        // then whole, with its one reference, which the `Shared` owns.
        unsafe {
            let inner = Counted::value_place(block.as_ptr());
            ptr::addr_of_mut!((*inner).event).write(event);
            let erased: NonNull<Counted<Inner<dyn ErasedEvent>>> = block;
            Record(Shared::from_raw(erased))
        }
    }

    /// A record of `event` with a context made elsewhere (read back from a
    /// transport).
    #[inline]
    fn with_context_of<T: Event>(event: T, context: Context) -> Self {
        let inner: Box<Counted<Inner<dyn ErasedEvent>>> = Box::new(Counted::new(Inner {
            context,
            remaining: AtomicU32::new(0),
            extra: OnceBox::new(),
            event,
        }));
        Record(Shared::from_box(inner))
    }

    /// The record's [`Extra`], made if it has none.
    fn extra(&self) -> &Extra {
        self.0.extra.get_or_init(Box::default)
    }

    /// Notes the runtime the event is logged in, before it is queued (a
    /// shared record is left as it is).
    #[cfg(feature = "tokio")]
    pub(crate) fn set_runtime(&mut self, runtime: crate::ambient::Handle) {
        if self.0.get_mut().is_some() {
            let _ = self.extra().runtime.set(runtime);
        }
    }

    /// The runtime the event was logged in, if noted.
    #[cfg(feature = "tokio")]
    pub(crate) fn runtime(&self) -> Option<&crate::ambient::Handle> {
        self.0.extra.get()?.runtime.get()
    }

    /// Ties the event, before it is dispatched, to the outbox batch that
    /// hands it over: the batch is told when it is emitted and when it
    /// settles. The record is one just decoded, not shared yet: a batch
    /// that did not hear of one of its events would count it confirmed.
    #[cfg(feature = "redis")]
    pub(crate) fn set_batch(&mut self, batch: Arc<crate::settle::Tally>) {
        if self.0.get_mut().is_none() {
            unreachable!("a record joins its batch before it is shared");
        }
        if self.extra().batch.set(batch).is_err() {
            unreachable!("a record joins one batch");
        }
    }

    /// Keeps `envelope`, the one the record was just decoded from, so that
    /// a transport sends it as it is instead of encoding the event again:
    /// fields this build does not know are kept, and nothing is encoded
    /// twice. The record is not shared yet.
    #[cfg(feature = "redis")]
    pub(crate) fn resent_from(&mut self, envelope: Box<[u8]>) {
        if self.0.get_mut().is_none() {
            unreachable!("a record keeps its envelope before it is shared");
        }
        if self.extra().envelope.set(envelope).is_err() {
            unreachable!("a record is decoded from one envelope");
        }
    }

    /// The envelope kept by [`resent_from`](Self::resent_from), if any.
    #[cfg(feature = "redis")]
    pub(crate) fn kept_envelope(&self) -> Option<&[u8]> {
        self.0.extra.get()?.envelope.get().map(|raw| &**raw)
    }

    /// The batch the event belongs to, if any.
    #[cfg(feature = "redis")]
    pub(crate) fn batch(&self) -> Option<&crate::settle::Tally> {
        self.0.extra.get()?.batch.get().map(|batch| &**batch)
    }

    /// The event's context: id, name, emit time, attempt.
    pub fn context(&self) -> &Context {
        &self.0.context
    }

    /// The [metadata](crate::metadata) in scope at `log!`.
    pub fn metadata(&self) -> &crate::metadata::Metadata {
        self.0.context.metadata()
    }

    /// The event's id.
    pub fn id(&self) -> EventId {
        self.0.context.id()
    }

    /// The event's registered name.
    pub fn name(&self) -> &'static str {
        self.0.context.name()
    }

    /// The event as its own type, or `None` if it is of another type.
    #[inline]
    pub fn downcast_ref<T: Event>(&self) -> Option<&T> {
        if !self.is::<T>() {
            return None;
        }
        let event: *const dyn ErasedEvent = &self.0.event;
        // SAFETY: the event is a `T`, as its type id says, and lives as
        // long as the record borrowed.
        Some(unsafe { &*event.cast::<T>() })
    }

    /// Whether the event is of type `T`.
    #[inline]
    pub fn is<T: Event>(&self) -> bool {
        self.0.event.event_type() == TypeId::of::<T>()
    }

    /// The event as JSON, serialized from the typed event on first use:
    /// local dispatch serializes nothing unless a handler asks for this.
    ///
    /// An event whose `Serialize` impl fails (a map with non-string keys,
    /// say) reads as `Value::Null`, and the failure is logged as a warning.
    pub fn data(&self) -> &Value {
        self.extra().data.get_or_init(|| {
            Box::new(self.0.event.to_json().unwrap_or_else(|err| {
                log::warn!(
                    "eventlib: event `{}` ({}) cannot be serialized to JSON: {err}",
                    self.name(),
                    self.id()
                );
                Value::Null
            }))
        })
    }

    /// Appends the event's JSON to `out`, straight from the typed event
    /// (no `Value` in between) unless [`data`](Self::data) already made one.
    #[cfg(feature = "redis")]
    pub(crate) fn write_data(&self, out: &mut Vec<u8>) {
        let mark = out.len();
        let written = match self.0.extra.get().and_then(|extra| extra.data.get()) {
            Some(value) => serde_json::to_writer(&mut *out, value),
            None => self.0.event.write_json(out),
        };
        if written.is_err() {
            // A failing `Serialize` impl: what `data` does (null, and a warning).
            out.truncate(mark);
            let _ = serde_json::to_writer(&mut *out, self.data());
        }
    }

    /// A delivery to `handlers` handlers starts (before any of them runs).
    /// The registry refuses events of more than [`MAX_HANDLERS`] handlers.
    pub(crate) fn start_delivery(&self, handlers: usize) {
        debug_assert!(handlers <= MAX_HANDLERS as usize);
        let handlers = u32::try_from(handlers).map_or(MAX_HANDLERS, |n| n.min(MAX_HANDLERS));
        self.0.remaining.store(handlers, Ordering::Release);
    }

    /// Takes the next handler of the delivery to start: its position in
    /// `0..handlers`, each position handed out once, or `None` when every
    /// one was taken.
    pub(crate) fn take_handler(&self, handlers: usize) -> Option<usize> {
        let mut seen = self.0.remaining.load(Ordering::Acquire);
        loop {
            let next = seen >> NEXT_SHIFT;
            if next as usize >= handlers {
                return None;
            }
            match self.0.remaining.compare_exchange_weak(
                seen,
                seen + (1 << NEXT_SHIFT),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(next as usize),
                Err(now) => seen = now,
            }
        }
    }

    /// One handler of the delivery finished; true for the last one.
    pub(crate) fn handler_finished(&self) -> bool {
        self.0.remaining.fetch_sub(1, Ordering::AcqRel) & MAX_HANDLERS == 1
    }

    /// The event's index in the registry.
    pub(crate) fn index(&self) -> usize {
        self.0.context.index() as usize
    }

    /// A record of `T` built from by-name data (by-name logging, and
    /// transports' workers), held to the rules of a typed `log!`: serde's,
    /// then `#[validate]`. The `from_json` of `T`'s declaration.
    pub(crate) fn from_json<T: Event>(data: Value, index: u32) -> Result<Record, Error> {
        // Borrowed, so that the data stays at hand for the slow path: tracking
        // the path on every call would copy each key, and an error is rare.
        let event = match T::deserialize(&data) {
            Ok(event) => event,
            Err(_) => serde_path_to_error::deserialize::<_, T>(&data).map_err(data_error::<T>)?,
        };
        validate(&event)?;
        Ok(Record::new(event, index))
    }

    /// A record of `T` built from the JSON text of its data (a
    /// transport's envelope) with the context read with it, held to the
    /// same rules as [`from_json`](Self::from_json). The `from_json_text`
    /// of `T`'s declaration.
    pub(crate) fn from_json_text<T: Event>(data: &str, context: Context) -> Result<Record, Error> {
        let event = match serde_json::from_str::<T>(data) {
            Ok(event) => event,
            Err(err) => {
                let mut tracked = serde_json::Deserializer::from_str(data);
                let event = serde_path_to_error::deserialize::<_, T>(&mut tracked)
                    .map_err(data_error::<T>)?;
                // Text after the value: what the first reading said.
                tracked.end().map_err(|_| Error::InvalidData {
                    event: T::NAME,
                    field: None,
                    reason: err.to_string(),
                })?;
                event
            }
        };
        validate(&event)?;
        Ok(Record::with_context_of(event, context))
    }
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

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("name", &self.name())
            .field("id", &self.id())
            .field("data", self.data())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::sync::atomic::AtomicUsize;

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    /// Counts its drops.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Tracked(String);

    impl Clone for Tracked {
        fn clone(&self) -> Self {
            Tracked(self.0.clone())
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Nothing;
    #[crate::event(name = "record.Nothing")]
    impl Nothing {}

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Byte(u8);
    #[crate::event(name = "record.Byte")]
    impl Byte {}

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Small(u32, u16);
    #[crate::event(name = "record.Small")]
    impl Small {}

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Owned {
        values: Vec<u64>,
        tracked: Tracked,
    }
    #[crate::event(name = "record.Owned")]
    impl Owned {}

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Wide(u128);
    #[crate::event(name = "record.Wide")]
    impl Wide {}

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[repr(align(64))]
    struct Aligned(u64);
    #[crate::event(name = "record.Aligned")]
    impl Aligned {}

    /// A record of `event` holds it whole with a new context, and drops it
    /// with its last reference.
    fn check<T: Event + PartialEq + Clone + fmt::Debug>(event: T, index: u32) {
        let record = Record::new(event.clone(), index);
        let other = record.clone();
        assert_eq!(record.downcast_ref::<T>(), Some(&event));
        assert!(record.is::<T>());
        assert_eq!(record.downcast_ref::<Byte>().is_some(), record.is::<Byte>());
        assert_eq!(
            record.downcast_ref::<Nothing>().is_some(),
            record.is::<Nothing>()
        );
        assert_eq!(record.index(), index as usize);
        assert_eq!(record.context().attempt, 1);
        assert!(record.0.extra.get().is_none());
        record.start_delivery(3);
        assert_eq!(record.take_handler(3), Some(0));
        drop(record);
        assert_eq!(other.downcast_ref::<T>(), Some(&event));
        let finished: Vec<bool> = (0..3).map(|_| other.handler_finished()).collect();
        assert_eq!(finished, [false, false, true]);
    }

    #[test]
    fn records_of_every_layout_hold_their_event_and_drop_it_once() {
        assert!(header_first::<Nothing>() && header_first::<Byte>() && header_first::<Owned>());
        assert!(!header_first::<Aligned>());
        assert!(!Record::new(Byte(1), 0).is::<Nothing>());
        assert!(Record::new(Byte(1), 0).downcast_ref::<Small>().is_none());
        check(Nothing, 1);
        check(Byte(0xA5), 2);
        check(Small(7, 9), 3);
        check(Wide(u128::MAX - 5), 4);
        check(Aligned(11), 5);
        let before = DROPS.load(Ordering::SeqCst);
        check(
            Owned {
                values: vec![1, 2, 3],
                tracked: Tracked("held".into()),
            },
            6,
        );
        // The clone compared against and the record's own.
        assert_eq!(DROPS.load(Ordering::SeqCst) - before, 2);
    }
}
