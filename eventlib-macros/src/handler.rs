//! `#[handler]` on a free function, and `#[validate]` outside an
//! `#[event]` impl.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::{describe_item, Func};
use crate::attr;
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
    let args = attr::handler_args(args, &mut errors);
    let spec = valid::handler(&func.sig, Place::Free, args, &mut errors);
    let registration = spec.as_ref().map(expand::free_handler);
    let errors = errors.into_compile_errors();
    quote!(#func #registration #errors)
}

pub(crate) fn validate_outside(input: TokenStream) -> TokenStream {
    let error = syn::Error::new_spanned(
        first_tokens(&input),
        "`#[validate]` goes on a method of an `#[event]` impl block: \
         `#[event] impl MyEvent { #[validate] fn check(&self) -> Result<(), eventlib::ValidationError> { ... } }`",
    )
    .to_compile_error();
    quote!(#input #error)
}

/// The item's tokens up to its name, to point at without underlining a
/// whole body.
fn first_tokens(input: &TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    for tt in input.clone() {
        let stop = matches!(&tt, proc_macro2::TokenTree::Ident(_)) && !out.is_empty() && {
            let s = tt.to_string();
            !matches!(
                s.as_str(),
                "pub"
                    | "fn"
                    | "async"
                    | "const"
                    | "unsafe"
                    | "extern"
                    | "struct"
                    | "enum"
                    | "trait"
                    | "impl"
                    | "mod"
                    | "static"
                    | "type"
                    | "union"
                    | "use"
            )
        };
        out.extend(std::iter::once(tt));
        if stop {
            break;
        }
    }
    out
}
