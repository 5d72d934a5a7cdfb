//! `#[handler]` on a free function, and `#[validate]` outside an
//! `#[event]` impl.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::{describe_item, first_tokens, Func};
use crate::attr::{self, names, CratePath};
use crate::errors::Errors;
use crate::expand;
use crate::valid::{self, Place};

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let func: Func = match syn::parse2(input.clone()) {
        Ok(func) => func,
        Err(_) => {
            let what = describe_item(input.clone());
            let error = syn::Error::new_spanned(
                first_tokens(&input),
                format!("`#[handler]` goes on a `fn` or `async fn`, not on {what}"),
            )
            .to_compile_error();
            return quote!(#input #error);
        }
    };
    let mut func = func;
    let args = attr::handler_args(args, &mut errors);
    let krate = CratePath::new(args.krate.clone());
    let again = attr::take(&mut func.attrs, names::HANDLER, &krate);
    valid::handler_once(&again, &mut errors);
    let spec = valid::handler(&func.sig, Place::Free, args, &mut errors);
    let registration = spec
        .as_ref()
        .map(|spec| expand::free_handler(spec, &krate.tokens()));
    let errors = errors.into_compile_errors();
    quote!(#func #registration #errors)
}

/// On its own, `#[validate]` is an error on the attribute itself.
pub(crate) fn validate_outside(input: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[validate]` only works on a method of an `#[event]` impl block; add `#[event]` to the impl: \
         `#[event] impl MyEvent { #[validate] fn check(&self) -> Result<(), eventlib::ValidationError> { ... } }`",
    )
    .to_compile_error();
    quote!(#input #error)
}
