//! Request metadata: a small map of strings that travels with every event
//! logged while it is in scope, and that handlers read with
//! [`Context::metadata`](crate::Context::metadata).
//!
//! Set it for a scope of synchronous code with [`scope`], for a future
//! (on any executor) with [`FutureExt::with_metadata`], or for one call
//! with [`Metadata::in_scope`]. `log!` captures what is in scope when it is
//! called; the event keeps it through the pool, inline mode, test captures,
//! by-name logging and the Redis wire (the envelope's `meta` object).
//!
//! ```
//! use eventlib::{event, handler, metadata, Context};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! struct Viewed { product_id: u64 }
//!
//! #[event(name = "docs.MetaViewed")]
//! impl Viewed {
//!     #[handler]
//!     fn audit(&self, ctx: &Context) {
//!         assert_eq!(ctx.metadata().get("client_ip"), Some("203.0.113.9"));
//!     }
//! }
//!
//! let _inline = eventlib::testing::inline();
//! metadata::scope([("request_id", "r-1"), ("client_ip", "203.0.113.9")], || {
//!     eventlib::log!(Viewed { product_id: 42 })
//! })??;
//! # Ok::<(), eventlib::Error>(())
//! ```
//!
//! # Limits
//!
//! Metadata is for identifiers, not payloads: at most [`MAX_ENTRIES`]
//! entries, and at most [`MAX_BYTES`] bytes of keys and values together.
//! Keys are 1 to [`MAX_KEY_LEN`] bytes of ASCII letters, digits, `_`, `-`
//! and `.`. Past a limit, [`scope`] and [`Metadata::with`] return
//! [`Error::InvalidMetadata`]; nothing is truncated.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use crate::error::Error;

/// The most entries one event's metadata may hold.
pub const MAX_ENTRIES: usize = 32;
/// The most bytes of keys and values together one event's metadata may hold.
pub const MAX_BYTES: usize = 4096;
/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 64;

/// A small, immutable map of strings: cheap to clone (a reference count),
/// and free when empty (no allocation).
///
/// Entries keep the order they were first set in; setting a key again
/// replaces its value in place.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata(Option<Arc<Entries>>);

/// Boxed again so that `Metadata` is one thin pointer (it sits in every
/// queued event).
type Entries = Box<[(Box<str>, Box<str>)]>;

impl Metadata {
    /// Empty metadata.
    pub const fn new() -> Self {
        Metadata(None)
    }

    /// This metadata with `key` set to `value`, or an error past a limit
    /// or for a malformed key.
    pub fn with(&self, key: &str, value: &str) -> Result<Self, Error> {
        self.extend([(key, value)])
    }

    /// This metadata with every entry of `entries` set, in order, or an
    /// error past a limit or for a malformed key (then nothing is set).
    pub fn extend<K, V>(&self, entries: impl IntoIterator<Item = (K, V)>) -> Result<Self, Error>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut all: Vec<(Box<str>, Box<str>)> =
            self.iter().map(|(k, v)| (k.into(), v.into())).collect();
        for (key, value) in entries {
            let (key, value) = (key.as_ref(), value.as_ref());
            check_key(key)?;
            match all.iter_mut().find(|(k, _)| &**k == key) {
                Some(entry) => entry.1 = value.into(),
                None => all.push((key.into(), value.into())),
            }
        }
        check_size(&all)?;
        Ok(Metadata(
            (!all.is_empty()).then(|| Arc::new(all.into_boxed_slice())),
        ))
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The entries, in the order they were first set.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.entries().iter().map(|(k, v)| (&**k, &**v))
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Runs `f` with this metadata in scope instead of the current one:
    /// every `log!` inside `f` on this thread carries it. For one call,
    /// or for metadata built once and reused.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _restore = Swapped::new(self.clone());
        f()
    }

    fn entries(&self) -> &[(Box<str>, Box<str>)] {
        self.0.as_deref().map_or(&[], |entries| entries)
    }

    /// Metadata read back from a transport, held to the same limits.
    #[cfg(feature = "redis")]
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, Error> {
        Metadata::new().extend(pairs)
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    let reason = if key.is_empty() {
        "a key is empty".to_owned()
    } else if key.len() > MAX_KEY_LEN {
        format!("key `{key}` is longer than {MAX_KEY_LEN} bytes")
    } else if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        format!("key `{key}` holds {c:?}: keys are ASCII letters, digits, `_`, `-` and `.`")
    } else {
        return Ok(());
    };
    Err(Error::InvalidMetadata { reason })
}

fn check_size(entries: &[(Box<str>, Box<str>)]) -> Result<(), Error> {
    if entries.len() > MAX_ENTRIES {
        return Err(Error::InvalidMetadata {
            reason: format!(
                "{} entries, more than the {MAX_ENTRIES} allowed",
                entries.len()
            ),
        });
    }
    let bytes: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_BYTES {
        return Err(Error::InvalidMetadata {
            reason: format!("{bytes} bytes of keys and values, more than the {MAX_BYTES} allowed"),
        });
    }
    Ok(())
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

thread_local! {
    static CURRENT: RefCell<Metadata> = const { RefCell::new(Metadata::new()) };
}

/// The metadata in scope on this thread (what a `log!` here would carry).
pub fn current() -> Metadata {
    CURRENT.with(|current| current.borrow().clone())
}

/// Runs `f` with `entries` added to the metadata in scope (an entry of the
/// same key replaces the outer one), and returns what `f` returns; an
/// error, with `f` not run, past a limit or for a malformed key.
///
/// ```
/// let id = eventlib::metadata::scope([("request_id", "r-7")], || {
///     eventlib::metadata::current().get("request_id").map(str::to_owned)
/// })?;
/// assert_eq!(id.as_deref(), Some("r-7"));
/// assert!(eventlib::metadata::current().is_empty());
/// # Ok::<(), eventlib::Error>(())
/// ```
pub fn scope<K, V, R>(
    entries: impl IntoIterator<Item = (K, V)>,
    f: impl FnOnce() -> R,
) -> Result<R, Error>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let metadata = current().extend(entries)?;
    Ok(metadata.in_scope(f))
}

/// Puts metadata in scope and restores the previous one when dropped,
/// also when the code in scope panics.
struct Swapped(Option<Metadata>);

impl Swapped {
    fn new(metadata: Metadata) -> Self {
        Swapped(Some(CURRENT.with(|current| current.replace(metadata))))
    }
}

impl Drop for Swapped {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            // The thread-local outlives every scope but in thread teardown.
            let _ = CURRENT.try_with(|current| current.replace(previous));
        }
    }
}

pin_project_lite::pin_project! {
    /// A future that runs with metadata in scope on whichever thread polls
    /// it; see [`FutureExt::with_metadata`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct WithMetadata<F> {
        metadata: Metadata,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for WithMetadata<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _restore = Swapped::new(this.metadata.clone());
        this.future.poll(cx)
    }
}

/// Metadata for async code, like `tracing::Instrument`: the future carries
/// its metadata to whichever thread polls it, on any executor.
///
/// ```
/// use eventlib::metadata::{self, FutureExt as _, Metadata};
///
/// let request = Metadata::new().with("request_id", "r-9")?;
/// let task = async { metadata::current().get("request_id").map(str::to_owned) }
///     .with_metadata(request);
/// let seen = std::thread::spawn(move || futures::executor::block_on(task)).join().unwrap();
/// assert_eq!(seen.as_deref(), Some("r-9"));
/// # Ok::<(), eventlib::Error>(())
/// ```
pub trait FutureExt: Future + Sized {
    /// This future with `metadata` in scope while it runs.
    fn with_metadata(self, metadata: Metadata) -> WithMetadata<Self> {
        WithMetadata {
            metadata,
            future: self,
        }
    }

    /// This future with the metadata in scope here and now: for a task
    /// spawned from code that runs in a scope.
    fn with_current_metadata(self) -> WithMetadata<Self> {
        self.with_metadata(current())
    }
}

impl<F: Future> FutureExt for F {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_their_order_and_replace_in_place() {
        let md = Metadata::new()
            .with("b", "1")
            .unwrap()
            .with("a", "2")
            .unwrap()
            .with("b", "3")
            .unwrap();
        assert_eq!(md.iter().collect::<Vec<_>>(), [("b", "3"), ("a", "2")]);
        assert_eq!(md.get("a"), Some("2"));
        assert_eq!(md.get("c"), None);
        assert_eq!(format!("{md:?}"), r#"{"b": "3", "a": "2"}"#);
    }

    #[test]
    fn limits_are_errors_not_truncations() {
        let many = (0..=MAX_ENTRIES).map(|i| (format!("k{i}"), "v"));
        let err = Metadata::new().extend(many).unwrap_err().to_string();
        assert!(err.contains("33 entries"), "{err}");
        let big = "x".repeat(MAX_BYTES);
        let err = Metadata::new().with("k", &big).unwrap_err().to_string();
        assert!(err.contains("4097 bytes"), "{err}");
        for key in ["", "a b", "ü", &"k".repeat(MAX_KEY_LEN + 1)] {
            assert!(
                matches!(
                    Metadata::new().with(key, "v"),
                    Err(Error::InvalidMetadata { .. })
                ),
                "{key:?}"
            );
        }
        assert!(Metadata::new().with("user.id-2_x", "").is_ok());
    }

    #[test]
    fn scopes_nest_and_restore_even_on_panic() {
        scope([("a", "1")], || {
            scope([("a", "2"), ("b", "3")], || {
                assert_eq!(current().get("a"), Some("2"));
                assert_eq!(current().get("b"), Some("3"));
            })
            .unwrap();
            assert_eq!(current().iter().collect::<Vec<_>>(), [("a", "1")]);
            let caught = std::panic::catch_unwind(|| {
                scope([("c", "4")], || panic!("in scope")).unwrap();
            });
            assert!(caught.is_err());
            assert_eq!(current().get("c"), None);
        })
        .unwrap();
        assert!(current().is_empty());
        assert!(scope([("bad key", "v")], || unreachable!()).is_err());
    }
}
