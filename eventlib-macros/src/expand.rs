//! Code generation. Generated items live in `const _: () = { ... };`
//! blocks and reach the runtime only through `<crate>::__private`, where
//! `<crate>` is `::eventlib` or the path given with `crate = ...`. Each
//! handler is one `static` whose function is one call of a runtime
//! function; nothing is generated that a generic of the runtime can do.
//! The generated items carry no `#[allow]`: they are named and shaped so
//! that rustc's and clippy's lints (pedantic and nursery included) have
//! nothing to say about them.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::{Ident, LitStr, ReturnType, Type};

use crate::ast::{EventImpl, Item};
use crate::valid::{HandlerSpec, Kind, Param};

fn private(krate: &TokenStream) -> TokenStream {
    quote!(#krate::__private)
}

/// The line of a span, for the registry's "where declared".
fn line_of(span: Span) -> TokenStream {
    // Outside a macro (this crate's unit tests) there is no source line.
    let line = match proc_macro::is_available() {
        true => span.unwrap().line() as u32,
        false => 0,
    };
    quote!(#line)
}

/// A handler's path in the registry: `module::path::` + `tail`, the tail
/// written here rather than by `stringify!` at each handler.
fn handler_path(tail: &str) -> TokenStream {
    let tail = format!("::{tail}");
    quote!(::core::concat!(::core::module_path!(), #tail))
}

/// A type as `stringify!` writes it, for a path without generics:
/// `shop::Order`.
fn type_text(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}

/// The declaration of one handler: a `HandlerDecl` expression.
pub(crate) fn handler_decl(spec: &HandlerSpec, index: u32, krate: &TokenStream) -> TokenStream {
    let p = private(krate);
    let ident = &spec.ident;
    let line = line_of(spec.ident.span());
    let group = spec
        .group
        .as_ref()
        .map_or_else(|| quote!(""), |g| quote!(#g));
    let (kind, target, path, callee) = match (&spec.kind, &spec.event_ty) {
        (Kind::Method, Some(ty)) => (
            quote!(Method),
            event_target(ty, krate),
            handler_path(&format!("{}::{ident}", type_text(ty))),
            quote!(<#ty>::#ident),
        ),
        (Kind::Wildcard, _) | (_, None) => {
            let pattern = spec
                .pattern
                .clone()
                .unwrap_or_else(|| LitStr::new("*", Span::call_site()));
            (
                quote!(Wildcard),
                quote!(#p::Target::Pattern(#pattern)),
                handler_path(&ident.to_string()),
                quote!(#ident),
            )
        }
        (Kind::Function, Some(ty)) => (
            quote!(Function),
            event_target(ty, krate),
            handler_path(&ident.to_string()),
            quote!(#ident),
        ),
    };
    let into = output_conversion(spec, krate);
    let call_fn = match &spec.event_ty {
        Some(ty) if !matches!(spec.kind, Kind::Wildcard) => {
            typed_call(spec, ty, &callee, &into, krate)
        }
        _ => wildcard_call(spec, &callee, &into, krate),
    };
    quote! {
        #p::HandlerDecl {
            name: #path,
            kind: #p::HandlerKind::#kind,
            target: #target,
            order: #index,
            group: #group,
            file: __EVENTLIB_FILE,
            line: #line,
            call: #call_fn,
        }
    }
}

/// The parameters of a typed handler, in the user's order, the event
/// (`&self` of a method) included.
fn typed_params(spec: &HandlerSpec) -> Vec<&Param> {
    let receiver = matches!(spec.kind, Kind::Method).then_some(&Param::Event);
    receiver.into_iter().chain(&spec.params).collect()
}

/// The `HandlerFn` of a typed handler: one call of a runtime function
/// (`call_sync`, `call_sync_ctx`, `call_async`) that downcasts the record,
/// with the user's function (or a one-line adapter for another order of
/// parameters) and the conversion of its output.
fn typed_call(
    spec: &HandlerSpec,
    ty: &Type,
    callee: &TokenStream,
    into: &TokenStream,
    krate: &TokenStream,
) -> TokenStream {
    let p = private(krate);
    let params = typed_params(spec);
    let args = params.iter().map(|param| match param {
        Param::Context => quote!(__ctx),
        _ => quote!(__event),
    });
    let call = quote!(#callee(#(#args),*));
    // The event type spanned on the user's type: "`T` is not an eventlib
    // event" lands there, once (rustc merges it with the target's).
    let span = syn::spanned::Spanned::span(ty);
    let event = quote_spanned!(span=> #ty);
    match spec.asyncness {
        Some(async_span) => {
            // Spanned on the user's `async`: a handler whose future is not
            // `Send` is reported there, with rustc's note on the `.await`.
            let boxed = quote_spanned!(async_span=> ::std::boxed::Box::pin(#call));
            quote! {
                #p::HandlerFn::Async(|__record: #p::Record| {
                    #p::call_async::<#event, _>(__record, |__event, __ctx| #boxed, #into)
                })
            }
        }
        None => {
            let handler = match params.as_slice() {
                [Param::Event] | [Param::Event, Param::Context] => callee.clone(),
                _ => quote!(|__event, __ctx| #call),
            };
            let run = match params.as_slice() {
                [Param::Event] => quote!(#p::call_sync),
                _ => quote!(#p::call_sync_ctx),
            };
            quote! {
                #p::HandlerFn::Sync(|__record: &#p::Record| {
                    #run::<#event, _>(__record, #handler, #into)
                })
            }
        }
    }
}

/// The `HandlerFn` of a wildcard handler, which takes the record itself.
fn wildcard_call(
    spec: &HandlerSpec,
    callee: &TokenStream,
    into: &TokenStream,
    krate: &TokenStream,
) -> TokenStream {
    let p = private(krate);
    let args = spec.params.iter().map(|param| match param {
        Param::Context => quote!(__record.context()),
        _ => quote!(__record),
    });
    let call = quote!(#callee(#(#args),*));
    match spec.asyncness {
        Some(async_span) => {
            let future = quote_spanned! {async_span=>
                ::std::boxed::Box::pin(async move {
                    let __record = &__record;
                    #into(#call.await)
                })
            };
            quote! {
                #p::HandlerFn::Async(|__record: #p::Record| -> #p::BoxFuture<'static, ::core::result::Result<(), #p::anyhow::Error>> {
                    #future
                })
            }
        }
        None => quote! {
            #p::HandlerFn::Sync(|__record: &#p::Record| -> ::core::result::Result<(), #p::anyhow::Error> {
                #into(#call)
            })
        },
    }
}

/// The conversion of the handler's output into the dispatcher's result,
/// written `<ReturnType as HandlerOutput>::into_result` with the user's own
/// tokens where it can be, so that an unsupported return type is reported
/// on the return type.
fn output_conversion(spec: &HandlerSpec, krate: &TokenStream) -> TokenStream {
    let p = private(krate);
    match &spec.output {
        ReturnType::Type(_, ty) if nameable(ty.to_token_stream()) => {
            if let Some(error_ty) = result_error_type(ty) {
                // `Result<(), E>`: checked on `E`, with a message about `E`.
                let span = syn::spanned::Spanned::span(error_ty);
                let check = quote_spanned!(span=> #p::assert_handler_error::<#error_ty>);
                return check;
            }
            let span = syn::spanned::Spanned::span(ty);
            let trait_path = quote_spanned!(span=> #p::HandlerOutput);
            quote_spanned!(span=> <#ty as #trait_path>::into_result)
        }
        ReturnType::Type(_, ty) => {
            let span = syn::spanned::Spanned::span(ty);
            quote_spanned!(span=> #p::HandlerOutput::into_result)
        }
        ReturnType::Default => quote!(#p::HandlerOutput::into_result),
    }
}

/// `E` of a return type written `Result<(), E>`.
fn result_error_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter();
    match (types.next(), types.next(), types.next()) {
        (
            Some(syn::GenericArgument::Type(Type::Tuple(unit))),
            Some(syn::GenericArgument::Type(error)),
            None,
        ) if unit.elems.is_empty() => Some(error),
        _ => None,
    }
}

/// Whether a return type can be named outside its function: no
/// `impl Trait`, no `Self`, no lifetime of the function's own.
fn nameable(tokens: TokenStream) -> bool {
    let mut after_quote = false;
    tokens.into_iter().all(|tt| {
        let ok = match &tt {
            // A lifetime of the function's own: only `'static` and `'_`.
            proc_macro2::TokenTree::Ident(i) if after_quote => i == "static" || i == "_",
            proc_macro2::TokenTree::Ident(i) => i != "impl" && i != "Self",
            proc_macro2::TokenTree::Group(g) => nameable(g.stream()),
            _ => true,
        };
        after_quote = matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == '\'');
        ok
    })
}

/// `Target::Event(<T as Event>::__slot)`, spanned on the user's type so
/// that "`T` is not an eventlib event" lands there.
fn event_target(ty: &Type, krate: &TokenStream) -> TokenStream {
    let p = private(krate);
    let span = syn::spanned::Spanned::span(ty);
    let decl = quote_spanned!(span=> <#ty as #krate::Event>::__slot);
    quote!(#p::Target::Event(#decl))
}

/// What `#[event]` adds next to the impl block.
pub(crate) struct EventExpansion<'a> {
    pub(crate) self_ty: &'a Type,
    pub(crate) type_ident: &'a Ident,
    pub(crate) name: Option<&'a LitStr>,
    pub(crate) validator: Option<(&'a Ident, &'a ReturnType)>,
    /// The `HandlerDecl`s of the handler methods.
    pub(crate) methods: Vec<TokenStream>,
    pub(crate) impl_span: Span,
    pub(crate) krate: TokenStream,
}

impl ToTokens for EventExpansion<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let krate = &self.krate;
        let p = private(krate);
        let self_ty = self.self_ty;
        let name = match self.name {
            Some(name) => quote!(#name),
            None => {
                let type_name = self.type_ident.to_string();
                quote!(::core::concat!(::core::env!("CARGO_CRATE_NAME"), ".", #type_name))
            }
        };
        let validate = match self.validator {
            Some((ident, output)) => {
                let span = match output {
                    ReturnType::Type(_, ty) => syn::spanned::Spanned::span(ty),
                    ReturnType::Default => ident.span(),
                };
                match output {
                    ReturnType::Type(_, ty) if nameable(ty.to_token_stream()) => {
                        let trait_path = quote_spanned!(span=> #p::ValidateOutput);
                        let convert = quote_spanned!(span=> <#ty as #trait_path>::into_validation);
                        quote!(#convert(<#self_ty>::#ident(self)))
                    }
                    _ => quote_spanned!(span=> <#self_ty>::#ident(self)),
                }
            }
            None => quote!(#p::no_validation()),
        };
        let line = line_of(self.impl_span);
        let ty_span = syn::spanned::Spanned::span(self_ty);
        // Spanned on the user's type: a missing `Serialize`/`Deserialize`
        // (or a second `#[event]` on the same type) is reported there.
        let event_trait = quote_spanned!(ty_span=> #krate::Event);
        let methods = &self.methods;
        let count = methods.len();
        tokens.extend(quote! {
            const _: () = {
                const __EVENTLIB_FILE: &str = ::core::file!();
                // The methods go with the event, in one element of `EVENTS`.
                static __EVENTLIB_METHODS: [#p::HandlerDecl; #count] = [#(#methods),*];
                #p::register_event! {
                static __EVENTLIB_EVENT: #p::EventDecl = #p::EventDecl::new::<#self_ty>(&__EVENTLIB_SLOT, __EVENTLIB_FILE, #line, &__EVENTLIB_METHODS);
                }
                static __EVENTLIB_SLOT: #p::EventSlot = #p::EventSlot::new();
                impl #event_trait for #self_ty {
                    const NAME: &'static str = #name;
                    #[inline]
                    fn __validate(&self) -> ::core::result::Result<(), #krate::ValidationError> {
                        #validate
                    }
                    #[inline]
                    fn __slot() -> &'static #p::EventSlot {
                        &__EVENTLIB_SLOT
                    }
                }
                #p::VERSION_0_1
            };
        });
    }
}

/// The registration of a free-function handler, next to the function.
pub(crate) fn free_handler(spec: &HandlerSpec, krate: &TokenStream) -> TokenStream {
    let p = private(krate);
    let decl = handler_decl(spec, 0, krate);
    quote! {
        const _: () = {
            const __EVENTLIB_FILE: &str = ::core::file!();
            #p::register_handler! {
                static __EVENTLIB_HANDLER: #p::HandlerDecl = #decl;
            }
            #p::VERSION_0_1
        };
    }
}

/// The user's impl block as written, without the attributes `#[event]`
/// read.
pub(crate) fn impl_block(imp: &EventImpl) -> TokenStream {
    let EventImpl {
        attrs,
        unsafety,
        impl_token,
        generics,
        trait_,
        self_ty,
        inner_attrs,
        items,
    } = imp;
    let items = items.iter().map(|item| match item {
        Item::Fn(f) => f.to_token_stream(),
        Item::Other(o) => o.to_token_stream(),
    });
    let trait_part = trait_.as_ref().map(|(path, f)| quote!(#path #f));
    let where_clause = &generics.where_clause;
    quote! {
        #(#attrs)*
        #unsafety #impl_token #generics #trait_part #self_ty #where_clause {
            #(#inner_attrs)*
            #(#items)*
        }
    }
}
