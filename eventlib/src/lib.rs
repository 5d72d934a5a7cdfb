//! Asynchronous event tracking for Rust services.
//!
//! A request handler logs an event in one line; every action that should
//! follow is a *handler* declared next to the event or in any other crate,
//! registered at link time. Handlers run off the caller's path, each on its
//! own: a failing or panicking handler never fails or breaks the caller and
//! never stops its siblings, and a slow one delays the caller only when the
//! queue is full (see [`Overflow`]: by default `log!` then waits at most a
//! second for room).
//!
//! ```
//! use eventlib::{event, handler, log};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! pub struct ProductViewed {
//!     pub user_id: u64,
//!     pub product_id: u64,
//!     pub source: String,
//! }
//!
//! #[event]
//! impl ProductViewed {
//!     #[validate]
//!     fn check(&self) -> Result<(), eventlib::ValidationError> {
//!         if self.source.is_empty() {
//!             return Err(eventlib::ValidationError::new("source is required"));
//!         }
//!         Ok(())
//!     }
//!
//!     #[handler]
//!     fn bump_counter(&self, ctx: &eventlib::Context) -> anyhow::Result<()> {
//!         println!("{} viewed product {} ({})", self.user_id, self.product_id, ctx.id());
//!         Ok(())
//!     }
//! }
//!
//! #[handler("*")]
//! fn audit(record: &eventlib::Record) {
//!     println!("audit: {} {}", record.name(), record.data());
//! }
//!
//! # fn main() -> Result<(), eventlib::Error> {
//! log!(ProductViewed { user_id: 7, product_id: 42, source: "web".into() })?;
//! log!("eventlib.ProductViewed", { "user_id": 7, "product_id": 42, "source": "web" })?;
//! eventlib::flush();
//! assert_eq!(eventlib::stats().event("eventlib.ProductViewed").unwrap().completed, 2);
//! # Ok(())
//! # }
//! ```
//!
//! The guides in `docs/` tell the whole story; the items below are the
//! reference.
#![deny(missing_docs)]
#![warn(unreachable_pub, rust_2018_idioms)]

// Lets the macros' `::eventlib::...` paths resolve inside this crate's own
// tests and doctests.
#[allow(unused_extern_crates)] // used by the macros' expansions in this crate's tests
extern crate self as eventlib;

mod ambient;
mod context;
mod counters;
mod decl;
mod dispatcher;
mod error;
mod event;
mod failure;
mod handler;
mod hook;
mod id;
mod indexed_names;
mod log;
pub mod metadata;
mod meters;
pub mod name;
mod notice;
mod observe;
mod pool;
mod queue;
mod record;
mod registry;
mod room;
#[cfg(feature = "redis")]
mod settle;
mod stats;
pub mod testing;
#[cfg(any(feature = "tracing", feature = "redis"))]
mod trace;
pub mod transport;

#[cfg(feature = "redis")]
pub mod outbox;
#[cfg(feature = "redis")]
pub mod redis;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use context::Context;
pub use dispatcher::{
    flush, flush_async, flush_timeout, shutdown, shutdown_async, Builder, Dispatcher, Mode,
    NotWaited, Overflow, Report,
};
pub use error::{Error, ValidationError};
pub use event::Event;
pub use failure::{Failure, FailureKind};
pub use handler::{HandlerKind, HandlerOutput};
pub use id::EventId;
pub use log::{log_async, log_json, try_log, try_log_json, Logging};
pub use record::Record;
pub use registry::{registry, EventInfo, HandlerInfo, Registry};
pub use stats::{stats, EventStats, HandlerStats, Stats, Totals};

pub use eventlib_macros::{event, handler, validate};

/// Logs an event and returns its [`EventId`], without waiting for handlers.
///
/// Two forms:
///
/// - `log!(expr)`: a value of a type declared with `#[event]`;
/// - `log!("crate.Name", { "field": value, ... })`: by name, with JSON-like
///   data (string keys; values are Rust expressions that implement
///   `Serialize`, or nested `{...}` / `[...]`). The data is deserialized
///   into the registered type; fields the type does not know are ignored
///   unless the type has `#[serde(deny_unknown_fields)]`.
///
/// Either way the event's `#[validate]` method runs in the caller first.
/// `log!` returns `Result<EventId, eventlib::Error>`; every failure on the
/// caller's side, including a dispatcher that cannot start its threads on
/// the first `log!` ([`Error::Spawn`]), is an `Err`.
///
/// `log!` does not wait for handlers, except where you ask it to: in
/// [`Mode::Inline`] and inside [`testing::inline`] it runs them before it
/// returns; when the queue is full it waits for room as the
/// [`Overflow`] policy says.
///
/// # Panics
///
/// Never on its own account; only if the event's own `#[validate]` method
/// panics (it runs in the caller, like any function you call).
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize)] struct Ping { n: u32 }
/// # #[eventlib::event(name = "docs.LogPing")] impl Ping {}
/// let id = eventlib::log!(Ping { n: 1 })?;
/// eventlib::log!("docs.LogPing", { "n": 2 })?;
/// let err = eventlib::log!("docs.LogPing", { "n": "two" }).unwrap_err();
/// assert_eq!(err.to_string(), "invalid data for event `docs.LogPing`: field `n`: invalid type: string \"two\", expected u32");
/// # let _ = id; Ok::<(), eventlib::Error>(())
/// ```
#[macro_export]
macro_rules! log {
    ($($input:tt)*) => {
        $crate::__private::log_impl!($crate; $($input)*)
    };
}
