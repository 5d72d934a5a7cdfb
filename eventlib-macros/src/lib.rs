//! Procedural macros of eventlib: `#[event]`, `#[handler]`, `#[validate]`,
//! and the parser behind `log!`.
//!
//! Use them through the `eventlib` crate, which re-exports them
//! (`eventlib::event`, `eventlib::handler`, `eventlib::validate`,
//! `eventlib::log!`). Their expansions name only `::eventlib::...` (or the
//! path given with `crate = ...`), so a crate that uses them needs no other
//! dependency than `eventlib` and the `serde` derives of its event types.
//!
//! The examples on this page are plain text, because this crate cannot
//! depend on `eventlib`; the same examples are compiled and run as the
//! guides of the eventlib repository (`docs/declaring-events.md` above all).
//!
//! ```text
//! use eventlib::{event, handler, log, Context, Record, ValidationError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! pub struct ProductViewed { pub user_id: u64, pub product_id: u64, pub source: String }
//!
//! #[event]                                   // named "<crate>.ProductViewed"
//! impl ProductViewed {
//!     #[validate]                            // runs in the caller of log!
//!     fn check(&self) -> Result<(), ValidationError> { Ok(()) }
//!
//!     #[handler]                             // a method handler
//!     async fn save(&self, ctx: &Context) -> anyhow::Result<()> { Ok(()) }
//! }
//!
//! #[handler(group = "analytics")]           // a free function, in any crate
//! fn count(view: &ProductViewed) {}
//!
//! #[handler("shoestore.*")]                  // a wildcard
//! fn audit(record: &Record) {}
//!
//! log!(ProductViewed { user_id: 7, product_id: 42, source: "web".into() })?;
//! ```
//!
//! # Event names
//!
//! A name is one or more *segments* joined by dots; a segment starts with an
//! ASCII letter or `_` and goes on with ASCII letters, digits and `_`.
//! Names are case-sensitive and at most 255 bytes long:
//! `shoestore.ProductViewed`, `billing.v2.InvoicePaid`. The default name of
//! an event is `<crate name>.<TypeName>`, the crate name as Rust spells it
//! (`_` for `-`). A name that breaks the grammar is a compile error; the
//! same grammar is `eventlib::name::validate_name` at run time.
//!
//! # Patterns
//!
//! The argument of a wildcard handler, `#[handler("...")]`, is one of:
//!
//! ```text
//! pattern       matches
//! *             every event
//! shop.*        every name that starts with `shop.`, at any depth
//!               (`shop.Order`, `shop.cart.Added`; not `shopping.Order`, not `shop`)
//! shop.Order    exactly `shop.Order` (an event of a crate you do not depend on)
//! ```
//!
//! `*` stands only alone or as the whole last segment: `a.*.b`, `shop*`,
//! `*.Order` and `**` are compile errors. At run time the same rules are
//! `eventlib::name::validate_pattern` and `eventlib::name::matches`.
//!
//! # Handler groups
//!
//! `group = "..."` puts a handler in a group: 1 to 64 ASCII letters,
//! digits, `_` and `-`. A handler without one is in the group `default`.
//! Locally every group runs; with the Redis transport each group is a
//! consumer group, run by the workers built for it.
//!
//! # A renamed dependency: `crate = path`
//!
//! A crate that depends on eventlib under another name
//! (`ev = { package = "eventlib", ... }` in `Cargo.toml`) tells the
//! attribute macros where to find it, as serde's and linkme's `crate`
//! options do; `log!` needs nothing, it knows its own crate:
//!
//! ```text
//! #[ev::event(crate = ev, name = "shop.OrderPaid")]
//! impl OrderPaid {
//!     #[handler]                 // a method follows its #[event]
//!     fn send_receipt(&self) {}
//! }
//!
//! #[ev::handler(crate = ev)]
//! fn notify(order: &OrderPaid) {}
//!
//! ev::log!(OrderPaid { order_id: 1 })?;
//! ```
//!
//! # How the crate is organised
//!
//! Each macro is parse (`ast.rs`, `attr.rs`) → validate (`valid.rs`) →
//! expand (`expand.rs`); every mistake of one item is reported at once, on
//! the user's tokens, and the user's item is still emitted so that one
//! mistake does not cascade.
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

use proc_macro::TokenStream;

mod ast;
mod attr;
mod errors;
mod event;
mod expand;
mod handler;
mod log;
mod name;
mod valid;

/// Declares the type of an impl block as an event and registers it, with
/// the impl's `#[handler]` methods and its `#[validate]` method, at link
/// time: nothing is registered by hand.
///
/// ```text
/// #[derive(Debug, Clone, Serialize, Deserialize)]
/// pub struct OrderPaid { pub order_id: u64 }
///
/// #[eventlib::event(name = "shop.OrderPaid")]
/// impl OrderPaid {
///     pub fn is_test(&self) -> bool { self.order_id == 0 } // ordinary methods stay
///     #[validate]
///     fn check(&self) -> Result<(), eventlib::ValidationError> { Ok(()) }
///     #[handler]
///     fn send_receipt(&self) -> anyhow::Result<()> { Ok(()) }
/// }
/// ```
///
/// It goes on the type's own `impl` block (not a trait impl) of a named,
/// non-generic struct or enum, once per type. The type must be
/// `Serialize + Deserialize` (wildcard handlers, by-name `log!` and the
/// Redis transport see events as JSON) and `Send + Sync + 'static`
/// (handlers run on other threads).
///
/// Arguments, each at most once, in any order:
///
/// - `name = "shop.OrderPaid"`: the registered name (see the crate's
///   "Event names" for the grammar); default `<crate name>.<TypeName>`. Set
///   it to keep a name stable when the type moves to another crate. Two
///   events of one name in a binary make `log!` of either return
///   `eventlib::Error::DuplicateEvent`.
/// - `crate = path`: where the eventlib crate is, for a dependency renamed
///   in `Cargo.toml` (`#[ev::event(crate = ev)]`); default `::eventlib`.
///
/// In the impl, `#[handler]` marks handler methods (see [`handler`]) and
/// `#[validate]` at most one validation method (see [`validate`]).
/// The guides (`docs/declaring-events.md` of the eventlib repository) have
/// these examples compiled and run.
#[proc_macro_attribute]
pub fn event(args: TokenStream, input: TokenStream) -> TokenStream {
    event::expand(args.into(), input.into()).into()
}

/// Registers a handler: a method of an `#[event]` impl, a free function
/// taking `&MyEvent`, or a wildcard `#[handler("shop.*")]` taking
/// `&eventlib::Record`.
///
/// ```text
/// #[eventlib::event]
/// impl OrderPaid {
///     #[handler]                              // a method: `&self`
///     fn send_receipt(&self) -> anyhow::Result<()> { Ok(()) }
/// }
///
/// #[eventlib::handler]                        // a free function, in any crate:
/// async fn notify_partner(order: &OrderPaid,  // its event is the parameter's type
///                         ctx: &eventlib::Context) -> anyhow::Result<()> { Ok(()) }
///
/// #[eventlib::handler("shop.*", group = "audit")]  // a wildcard, in group "audit"
/// fn audit(record: &eventlib::Record) {}
/// ```
///
/// Arguments, all optional, the pattern first:
///
/// - a pattern, `"*"`, `"prefix.*"` or an exact event name (see the crate's
///   "Patterns"): makes a wildcard handler, which takes
///   `record: &eventlib::Record` (the name, context, data as JSON, and the
///   typed event through `downcast_ref`). Methods take no pattern.
/// - `group = "analytics"`: the handler group (see the crate's "Handler
///   groups"); default `default`.
/// - `crate = path`: where the eventlib crate is, for a renamed dependency;
///   default `::eventlib`. On free functions only: a method follows the
///   `crate = ...` of its `#[event]` (and may be written `#[handler]` or
///   `#[ev::handler]`).
///
/// Signatures:
///
/// ```text
/// kind             fn or async fn; not const, unsafe, extern, generic, variadic,
///                  no where clause
/// method           &self (not &mut self, not self), in an #[event] impl
/// free function    one &MyEvent, or &eventlib::Record with a pattern
/// context          an optional &eventlib::Context (id, name, emit time, attempt),
///                  anywhere in the list, once
/// returns          () or Result<(), E> where E: Into<anyhow::Error>
/// async            the future must be Send (it may run on another thread)
/// ```
///
/// Anything else is a compile error that says what is wrong, on the
/// offending tokens. The function itself stays an ordinary function: a test
/// can call it directly.
///
/// For one event, handlers start in this order: the `#[event]` impl's
/// methods in declaration order, then free functions, then wildcards (both
/// sorted by file and line). The order is the start order, not a chain: a
/// failure or a panic never stops the handlers after it.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, input: TokenStream) -> TokenStream {
    handler::expand(args.into(), input.into()).into()
}

/// Marks the validation method of an `#[event]` impl: at most one, with
/// the shape `fn check(&self) -> Result<(), eventlib::ValidationError>`
/// (not `async`, no other parameter).
///
/// ```text
/// #[eventlib::event(name = "accounts.Signup")]
/// impl Signup {
///     #[validate]
///     fn check(&self) -> Result<(), eventlib::ValidationError> {
///         if !self.email.contains('@') {
///             return Err(eventlib::ValidationError::new("not an email address").on_field("email"));
///         }
///         Ok(())
///     }
/// }
/// ```
///
/// It runs in the caller of `log!` before anything is queued, whatever the
/// form of `log!` (typed, by name, `log_json`), and on a Redis worker
/// before any handler; its error comes back from `log!` as
/// `eventlib::Error::Validation`. It is only meaningful inside an `#[event]`
/// impl, which reads it; anywhere else it is a compile error.
#[proc_macro_attribute]
pub fn validate(_args: TokenStream, input: TokenStream) -> TokenStream {
    handler::validate_outside(input.into()).into()
}

#[doc(hidden)]
#[proc_macro]
pub fn log_impl(input: TokenStream) -> TokenStream {
    log::expand(input.into()).into()
}
