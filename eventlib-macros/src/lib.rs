//! Procedural macros of eventlib. Use them through the `eventlib` crate,
//! which re-exports them and documents them: `#[event]`, `#[handler]`,
//! `#[validate]` and `log!`.
//!
//! Each macro is organised parse (`ast.rs`, `attr.rs`) → validate
//! (`valid.rs`) → expand (`expand.rs`); every mistake of one item is
//! reported at once, on the user's tokens, and the user's item is still
//! emitted so that one mistake does not cascade.
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
/// time.
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
///     #[validate]
///     fn check(&self) -> Result<(), eventlib::ValidationError> {
///         match self.id {
///             0 => Err(eventlib::ValidationError::new("id is required")),
///             _ => Ok(()),
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
/// Arguments:
///
/// - `name = "crate.Name"`: the registered name (see `eventlib::name` for
///   the grammar); by default `<crate name>.<TypeName>`.
/// - `crate = path`: where the `eventlib` crate is, for a dependency
///   renamed in Cargo.toml. With `ev = { package = "eventlib", ... }`, write
///   `#[ev::event(crate = ev)]`; the generated code then reaches the runtime
///   through `ev::` only, and the impl's `#[ev::handler]` or `#[handler]`
///   methods follow it. Without it, the path is `::eventlib`.
///
/// Inside the impl, `#[handler]` (also written `#[eventlib::handler]`, or
/// with the path given to `crate =`) marks a handler method taking `&self`
/// and optionally `&eventlib::Context`, sync or `async`, returning `()` or
/// `Result<(), E>` with `E: Into<anyhow::Error>`; `#[validate]` marks at
/// most one method `fn(&self) -> Result<(), eventlib::ValidationError>`,
/// run by `log!` in the caller. Attributes of other crates or tools that
/// happen to share these names (`#[other::handler]`) are left alone.
#[proc_macro_attribute]
pub fn event(args: TokenStream, input: TokenStream) -> TokenStream {
    event::expand(args.into(), input.into()).into()
}

/// Registers a handler: a method of an `#[event]` impl (see `event`), a
/// free function taking `&MyEvent`, or a wildcard taking
/// `&eventlib::Record` with a pattern.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] struct OrderPlaced { id: u64 }
/// # #[eventlib::event(name = "shop.OrderPlaced")] impl OrderPlaced {}
/// #[eventlib::handler]
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
///   name starts with `shop.`) or an exact name; only with a
///   `&eventlib::Record` parameter, which needs one.
/// - `group = "name"`: the handler group (1 to 64 ASCII letters, digits,
///   `_`, `-`); `"default"` when absent. Locally every group runs; on
///   Redis, only the workers of that group run the handler.
/// - `crate = path`: as for `event`, for a renamed dependency
///   (`#[ev::handler(crate = ev)]`). A method inside an `#[event]` impl
///   takes the `#[event]`'s instead.
///
/// A free handler takes the event (or the record) by shared reference and
/// optionally `&eventlib::Context`, in either order; it is a `fn` or an
/// `async fn` (whose future must be `Send`), not generic, `const`, `unsafe`
/// or `extern`, and returns `()` or `Result<(), E>` with
/// `E: Into<anyhow::Error>`.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, input: TokenStream) -> TokenStream {
    handler::expand(args.into(), input.into()).into()
}

/// Marks the validation method of an `#[event]` impl (see `event`):
/// `fn(&self) -> Result<(), eventlib::ValidationError>`, not `async`. Only
/// meaningful inside one: `#[event]` reads it; on its own it is an error.
#[proc_macro_attribute]
pub fn validate(_args: TokenStream, input: TokenStream) -> TokenStream {
    handler::validate_outside(input.into()).into()
}

#[doc(hidden)]
#[proc_macro]
pub fn log_impl(input: TokenStream) -> TokenStream {
    log::expand(input.into()).into()
}
