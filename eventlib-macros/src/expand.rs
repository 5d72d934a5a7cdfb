//! Code generation. Generated items live in `const _: () = { ... };`
//! blocks and reach the runtime only through `::eventlib::__private`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{Ident, LitStr, ReturnType, Type};

use crate::valid::{HandlerSpec, Kind, Param};

pub(crate) fn private() -> TokenStream {
    quote!(::eventlib::__private)
}

/// The line of a span, for the registry's "where declared".
fn line_of(span: Span) -> TokenStream {
    let line = span.unwrap().line() as u32;
    quote!(#line)
}

/// The static that registers one handler.
pub(crate) fn handler_static(spec: &HandlerSpec, index: usize) -> TokenStream {
    let p = private();
    let ident = &spec.ident;
    let static_name = format_ident!("__EVENTLIB_HANDLER_{}", index);
    let line = line_of(spec.ident.span());
    let group = spec
        .group
        .as_ref()
        .map_or_else(|| quote!(""), |g| quote!(#g));
    let (kind, target, path, callee) = match (&spec.kind, &spec.event_ty) {
        (Kind::Method, Some(ty)) => (
            quote!(Method),
            event_target(ty),
            quote!(::core::concat!(
                ::core::module_path!(),
                "::",
                ::core::stringify!(#ty),
                "::",
                ::core::stringify!(#ident)
            )),
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
                quote!(::core::concat!(
                    ::core::module_path!(),
                    "::",
                    ::core::stringify!(#ident)
                )),
                quote!(#ident),
            )
        }
        (Kind::Function, Some(ty)) => (
            quote!(Function),
            event_target(ty),
            quote!(::core::concat!(
                ::core::module_path!(),
                "::",
                ::core::stringify!(#ident)
            )),
            quote!(#ident),
        ),
    };
    let event_binding = match (&spec.kind, &spec.event_ty) {
        (Kind::Wildcard, _) | (_, None) => quote!(),
        (_, Some(ty)) => quote!(let __event: &#ty = #p::event_of::<#ty>(__record)?;),
    };
    let args = spec.params.iter().map(|param| match param {
        Param::Event => quote!(__event),
        Param::Context => quote!(__record.context()),
        Param::Record => quote!(__record),
    });
    let receiver = match spec.kind {
        Kind::Method => Some(quote!(__event,)),
        _ => None,
    };
    let call = quote!(#callee(#receiver #(#args),*));
    let into = output_conversion(spec);
    // The call is a closure in the static's initializer, not a separate
    // fn: one body, so that "`T` is not an eventlib event" is reported once,
    // for the target and the downcast together.
    let call_fn = match spec.asyncness {
        Some(async_span) => {
            // Spanned on the user's `async`: a handler whose future is not
            // `Send` is reported there, with rustc's note on the `.await`.
            let future = quote_spanned! {async_span=>
                ::std::boxed::Box::pin(async move {
                    let __record = &__record;
                    #event_binding
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
                #event_binding
                #into(#call)
            })
        },
    };
    quote! {
        #[#p::linkme::distributed_slice(#p::HANDLERS)]
        #[linkme(crate = #p::linkme)]
        static #static_name: #p::HandlerDecl = #p::HandlerDecl {
            name: #path,
            kind: #p::HandlerKind::#kind,
            target: #target,
            order: #index as u32,
            group: #group,
            file: ::core::file!(),
            line: #line,
            call: #call_fn,
        };
    }
}

/// The conversion of the handler's output into the dispatcher's result,
/// written `<ReturnType as HandlerOutput>::into_result` with the user's own
/// tokens where it can be, so that an unsupported return type is reported
/// on the return type.
fn output_conversion(spec: &HandlerSpec) -> TokenStream {
    let p = private();
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

/// `Target::Event(<T as Event>::__decl)`, spanned on the user's type so
/// that "`T` is not an eventlib event" lands there.
fn event_target(ty: &Type) -> TokenStream {
    let p = private();
    let span = syn::spanned::Spanned::span(ty);
    let decl = quote_spanned!(span=> <#ty as ::eventlib::Event>::__decl);
    quote!(#p::Target::Event(#decl))
}

/// What `#[event]` adds next to the impl block.
pub(crate) struct EventExpansion<'a> {
    pub(crate) self_ty: &'a Type,
    pub(crate) type_ident: &'a Ident,
    pub(crate) name: Option<&'a LitStr>,
    pub(crate) validator: Option<(&'a Ident, &'a ReturnType)>,
    pub(crate) handlers: Vec<TokenStream>,
    pub(crate) impl_span: Span,
}

impl ToTokens for EventExpansion<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let p = private();
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
        let event_trait = quote_spanned!(ty_span=> ::eventlib::Event);
        let handlers = &self.handlers;
        tokens.extend(quote! {
            #[doc(hidden)]
            #[allow(non_upper_case_globals, clippy::all)]
            const _: () = {
                #[#p::linkme::distributed_slice(#p::EVENTS)]
                #[linkme(crate = #p::linkme)]
                static __EVENTLIB_EVENT: #p::EventDecl = #p::EventDecl::new::<#self_ty>(::core::file!(), #line);
                static __EVENTLIB_SLOT: #p::EventSlot = #p::EventSlot::new();
                impl #event_trait for #self_ty {
                    const NAME: &'static str = #name;
                    #[inline]
                    fn __validate(&self) -> ::core::result::Result<(), ::eventlib::ValidationError> {
                        #validate
                    }
                    #[inline]
                    fn __decl() -> &'static #p::EventDecl {
                        &__EVENTLIB_EVENT
                    }
                    #[inline]
                    fn __slot() -> &'static #p::EventSlot {
                        &__EVENTLIB_SLOT
                    }
                }
                #(#handlers)*
                #p::VERSION_0_1
            };
        });
    }
}

/// The registration of a free-function handler, next to the function.
pub(crate) fn free_handler(spec: &HandlerSpec) -> TokenStream {
    let p = private();
    let item = handler_static(spec, 0);
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, clippy::all)]
        const _: () = {
            #item
            #p::VERSION_0_1
        };
    }
}
