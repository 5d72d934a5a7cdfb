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
/// time. See the `eventlib` crate.
#[proc_macro_attribute]
pub fn event(args: TokenStream, input: TokenStream) -> TokenStream {
    event::expand(args.into(), input.into()).into()
}

/// Registers a handler: a method of an `#[event]` impl, a free function
/// taking `&MyEvent`, or a wildcard `#[handler("shop.*")]` taking
/// `&eventlib::Record`. See the `eventlib` crate.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, input: TokenStream) -> TokenStream {
    handler::expand(args.into(), input.into()).into()
}

/// Marks the validation method of an `#[event]` impl. Only meaningful
/// inside one: `#[event]` reads it; on its own it is an error.
#[proc_macro_attribute]
pub fn validate(_args: TokenStream, input: TokenStream) -> TokenStream {
    handler::validate_outside(input.into()).into()
}

#[doc(hidden)]
#[proc_macro]
pub fn log_impl(input: TokenStream) -> TokenStream {
    log::expand(input.into()).into()
}
