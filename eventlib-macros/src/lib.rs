//! Procedural macros of eventlib: `#[event]`, `#[handler]`, `#[validate]`,
//! and the parser behind `log!`.
//!
//! Use them through the `eventlib` crate, which re-exports them
//! (`eventlib::event`, `eventlib::handler`, `eventlib::validate`,
//! `eventlib::log!`). Their expansions name only `::eventlib::...` (or the
//! path given with `crate = ...`), so a crate that uses them needs no other
//! dependency than `eventlib` and the `serde` derives of its event types.
//! The guides of the eventlib repository (`docs/declaring-events.md` above
//! all) tell the whole story.
//!
//! ```
//! use eventlib::{event, handler, log, Context, Record, ValidationError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! pub struct ProductViewed { pub user_id: u64, pub product_id: u64, pub source: String }
//!
//! #[event(name = "shoestore.ProductViewed")] // default: "<crate>.ProductViewed"
//! impl ProductViewed {
//!     #[validate] // runs in the caller of log!
//!     fn check(&self) -> Result<(), ValidationError> {
//!         match self.source.is_empty() {
//!             true => Err(ValidationError::new("source is required")),
//!             false => Ok(()),
//!         }
//!     }
//!
//!     #[handler] // a method handler
//!     async fn save(&self, ctx: &Context) -> anyhow::Result<()> {
//!         println!("saving {}", ctx.id());
//!         Ok(())
//!     }
//! }
//!
//! #[handler(group = "analytics")] // a free function, in any crate
//! fn count(view: &ProductViewed) {
//!     let _ = view.product_id;
//! }
//!
//! #[handler("shoestore.*")] // a wildcard
//! fn audit(record: &Record) {
//!     println!("{} {}", record.name(), record.data());
//! }
//!
//! log!(ProductViewed { user_id: 7, product_id: 42, source: "web".into() })?;
//! assert!(log!(ProductViewed { user_id: 7, product_id: 42, source: String::new() }).is_err());
//! eventlib::flush();
//! # Ok::<(), eventlib::Error>(())
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
//! same grammar (one source file shared by both crates) is
//! `eventlib::name::validate_name` at run time.
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
//! options do: on `#[event]` and on free `#[handler]` functions. Handler
//! methods follow their `#[event]`, and `log!` needs nothing, it knows its
//! own crate:
//!
//! ```
//! extern crate eventlib as ev; // what the renamed dependency amounts to
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Serialize, Deserialize)] struct OrderPaid { order_id: u64 }
//!
//! #[ev::event(crate = ev, name = "shop.OrderPaid")]
//! impl OrderPaid {
//!     #[handler] // or #[ev::handler]: a method follows its #[event]
//!     fn send_receipt(&self) {}
//! }
//!
//! #[ev::handler(crate = ev)]
//! fn notify(order: &OrderPaid) {
//!     let _ = order.order_id;
//! }
//!
//! fn main() {
//!     ev::log!(OrderPaid { order_id: 1 }).unwrap();
//! }
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
#[cfg(test)]
mod tests;
mod valid;

/// Declares the type of an impl block as an event and registers it, with
/// the impl's `#[handler]` methods and its `#[validate]` method, at link
/// time: nothing is registered by hand.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct OrderPlaced {
///     id: u64,
/// }
///
/// #[eventlib::event(name = "shop.OrderPlaced")]
/// impl OrderPlaced {
///     // Ordinary methods stay what they are.
///     fn is_test(&self) -> bool {
///         self.id == 0
///     }
///
///     #[validate]
///     fn check(&self) -> Result<(), eventlib::ValidationError> {
///         match self.is_test() {
///             true => Err(eventlib::ValidationError::new("id is required")),
///             false => Ok(()),
///         }
///     }
///
///     #[handler]
///     fn notify(&self, ctx: &eventlib::Context) -> anyhow::Result<()> {
///         println!("order {} ({})", self.id, ctx.id());
///         Ok(())
///     }
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
/// - `name = "crate.Name"`: the registered name (see the crate's "Event
///   names" for the grammar); by default `<crate name>.<TypeName>`. Set it
///   to keep a name stable when the type moves to another crate. Two events
///   of one name in a binary make `log!` of either return
///   `eventlib::Error::DuplicateEvent`.
/// - `crate = path`: where the `eventlib` crate is, for a dependency
///   renamed in Cargo.toml. With `ev = { package = "eventlib", ... }`, write
///   `#[ev::event(crate = ev)]`; the generated code then reaches the runtime
///   through `ev::` only, and the impl's `#[ev::handler]` or `#[handler]`
///   methods follow it. Without it, the path is `::eventlib`.
///
/// Inside the impl, `#[handler]` (also written `#[eventlib::handler]`, or
/// with the path given to `crate =`) marks a handler method taking `&self`
/// and optionally `&eventlib::Context`, sync or `async`, returning `()` or
/// `Result<(), E>` with `E: Into<anyhow::Error>` (see [`handler`]);
/// `#[validate]` marks at most one method
/// `fn(&self) -> Result<(), eventlib::ValidationError>`, run by `log!` in
/// the caller (see [`validate`]). Attributes of other crates or tools that
/// happen to share these names (`#[other::handler]`) are left alone.
#[proc_macro_attribute]
pub fn event(args: TokenStream, input: TokenStream) -> TokenStream {
    event::expand(args.into(), input.into()).into()
}

/// Registers a handler: a method of an `#[event]` impl (see [`event`]), a
/// free function taking `&MyEvent`, or a wildcard taking
/// `&eventlib::Record` with a pattern.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] struct OrderPlaced { id: u64 }
/// # #[eventlib::event(name = "shop.OrderPlaced")] impl OrderPlaced {}
/// #[eventlib::handler] // its event is the parameter's type
/// fn bill(order: &OrderPlaced) -> anyhow::Result<()> {
///     println!("bill {}", order.id);
///     Ok(())
/// }
///
/// #[eventlib::handler("shop.*", group = "audit")]
/// async fn audit(record: &eventlib::Record) {
///     println!("{} {}", record.name(), record.data());
/// }
/// ```
///
/// Arguments, all optional:
///
/// - a pattern, first: `"*"` (every event), `"shop.*"` (every event whose
///   name starts with `shop.`) or an exact name (see the crate's
///   "Patterns"); only with a `&eventlib::Record` parameter, which needs
///   one. The record gives the name, the context, the data as JSON, and the
///   typed event through `downcast_ref`. Methods take no pattern.
/// - `group = "name"`: the handler group (1 to 64 ASCII letters, digits,
///   `_`, `-`); `"default"` when absent. Locally every group runs; on
///   Redis, only the workers of that group run the handler.
/// - `crate = path`: as for `event`, for a renamed dependency
///   (`#[ev::handler(crate = ev)]`). A method inside an `#[event]` impl
///   takes the `#[event]`'s instead.
///
/// Signatures:
///
/// ```text
/// kind             fn or async fn; not const, unsafe, extern, generic, variadic,
///                  no where clause
/// method           &self (not &mut self, not self), in an #[event] impl
/// free function    one &MyEvent, or &eventlib::Record with a pattern
/// context          an optional &eventlib::Context (id, name, emit time, attempt),
///                  in either place, once
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

/// Marks the validation method of an `#[event]` impl (see [`event`]): at
/// most one, `fn(&self) -> Result<(), eventlib::ValidationError>`, not
/// `async`, no other parameter.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] struct Signup { email: String }
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
///
/// let err = eventlib::log!(Signup { email: "nobody".into() }).unwrap_err();
/// assert_eq!(err.to_string(), "event `accounts.Signup` failed validation: email: not an email address");
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
