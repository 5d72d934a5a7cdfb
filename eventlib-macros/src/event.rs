//! `#[event]`: parse, validate, expand; on error, the impl block is still
//! emitted (stripped of the inner attributes) so that one mistake does not
//! cascade.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Type};

use crate::ast::{describe_item, first_tokens, EventImpl, Item};
use crate::attr;
use crate::errors::Errors;
use crate::expand::{self, EventExpansion};
use crate::valid::{self, Place};

/// Which of our attributes an impl item carries.
pub(crate) fn take_attr(attrs: &mut Vec<Attribute>, name: &str) -> Vec<Attribute> {
    let mut taken = Vec::new();
    attrs.retain(|a| {
        let ours = a.path().segments.last().is_some_and(|s| s.ident == name);
        if ours {
            taken.push(a.clone());
        }
        !ours
    });
    taken
}

fn attr_args(attr: &Attribute) -> TokenStream {
    match &attr.meta {
        syn::Meta::List(list) => list.tokens.clone(),
        _ => TokenStream::new(),
    }
}

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let parsed: EventImpl = match syn::parse2(input.clone()) {
        Ok(parsed) => parsed,
        Err(err) => return misplaced(args, input, err),
    };
    let mut imp = parsed;
    let args = attr::event_args(args, &mut errors);
    for again in take_attr(&mut imp.attrs, "event") {
        errors.spanned(
            again,
            "`#[event]` appears twice on this impl block; remove one",
        );
    }

    if let Some((path, for_token)) = &imp.trait_ {
        let self_ty = &imp.self_ty;
        errors.spanned(
            quote!(#path #for_token),
            format!(
                "`#[event]` goes on the event type's own impl block, not on a trait impl: \
                 write `#[event] impl {} {{ ... }}` and keep this impl without it",
                quote!(#self_ty).to_string().replace(' ', "")
            ),
        );
    }
    if !imp.generics.params.is_empty() {
        errors.spanned(
            &imp.generics,
            "`#[event]` does not support generic types: an event has one name and one concrete type; \
             declare a concrete type (or a newtype around the generic one)",
        );
    }
    let type_ident = match &imp.self_ty {
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last();
            // `impl<T> Wrapper<T>` is reported once, on `<T>`.
            let generic_impl = !imp.generics.params.is_empty();
            if let Some(seg) = last.filter(|s| !s.arguments.is_empty() && !generic_impl) {
                errors.spanned(
                    &seg.arguments,
                    "`#[event]` does not support generic types: an event has one name and one concrete type; \
                     declare a concrete type (or a newtype around the generic one)",
                );
            }
            last.map(|s| s.ident.clone())
        }
        other => {
            errors.spanned(
                other,
                "`#[event]` goes on an impl block of a named struct or enum",
            );
            None
        }
    };

    let mut validator = None;
    let mut handlers = Vec::new();
    let mut handler_count = 0;
    for item in &mut imp.items {
        let func = match item {
            Item::Fn(func) => func,
            Item::Other(other) => {
                // `#[handler]` on a const or a type in the impl.
                let attrs = match other {
                    syn::ImplItem::Const(c) => &mut c.attrs,
                    syn::ImplItem::Type(t) => &mut t.attrs,
                    syn::ImplItem::Macro(m) => &mut m.attrs,
                    _ => continue,
                };
                for a in take_attr(attrs, "handler")
                    .into_iter()
                    .chain(take_attr(attrs, "validate"))
                {
                    errors.spanned(a, "`#[handler]` and `#[validate]` go on methods (`fn`) of the `#[event]` impl");
                }
                continue;
            }
        };
        let handler_attrs = take_attr(&mut func.attrs, "handler");
        let validate_attrs = take_attr(&mut func.attrs, "validate");
        for extra in handler_attrs.iter().skip(1) {
            errors.spanned(
                extra,
                "`#[handler]` appears twice on this method; remove one",
            );
        }
        for extra in validate_attrs.iter().skip(1) {
            errors.spanned(
                extra,
                "`#[validate]` appears twice on this method; remove one",
            );
        }
        if let (Some(_), Some(v)) = (handler_attrs.first(), validate_attrs.first()) {
            errors.spanned(
                v,
                "a method is either a `#[handler]` or the `#[validate]` method, not both; split it in two",
            );
            continue;
        }
        if let Some(attr) = handler_attrs.first() {
            let args = attr::handler_args(attr_args(attr), &mut errors);
            if let Some(spec) =
                valid::handler(&func.sig, Place::Method(&imp.self_ty), args, &mut errors)
            {
                handlers.push(expand::handler_static(&spec, handler_count));
            }
            handler_count += 1;
        }
        if let Some(attr) = validate_attrs.first() {
            if !attr_args(attr).is_empty() {
                errors.spanned(attr, "`#[validate]` takes no arguments");
            }
            if validator.is_some() {
                errors.spanned(
                    attr,
                    "an `#[event]` has at most one `#[validate]` method; merge the checks into one",
                );
            } else if valid::validator(&func.sig, &mut errors) {
                validator = Some((func.sig.ident.clone(), func.sig.output.clone()));
            }
        }
    }

    let EventImpl {
        attrs,
        unsafety,
        impl_token,
        generics,
        trait_,
        self_ty,
        inner_attrs,
        items,
    } = &imp;
    let items = items.iter().map(|item| match item {
        Item::Fn(f) => f.to_token_stream(),
        Item::Other(o) => o.to_token_stream(),
    });
    let trait_part = trait_.as_ref().map(|(path, f)| quote!(#path #f));
    let where_clause = &generics.where_clause;
    let impl_block = quote! {
        #(#attrs)*
        #unsafety #impl_token #generics #trait_part #self_ty #where_clause {
            #(#inner_attrs)*
            #(#items)*
        }
    };
    // The type is still declared an event when the impl has mistakes (a
    // trait impl declares its self type, without handlers), so that the
    // rest of the user's code compiles and only the mistakes are reported.
    // A generic impl cannot be.
    let registration = match (&type_ident, generics.params.is_empty()) {
        (Some(type_ident), true) => {
            let inherent = trait_.is_none();
            let expansion = EventExpansion {
                self_ty,
                type_ident,
                name: args.name.as_ref(),
                validator: validator.as_ref().filter(|_| inherent).map(|(i, o)| (i, o)),
                handlers: if inherent { handlers } else { Vec::new() },
                impl_span: impl_token.span(),
            };
            expansion.to_token_stream()
        }
        _ => TokenStream::new(),
    };
    let errors = errors.into_compile_errors();
    quote!(#impl_block #registration #errors)
}

/// `#[event]` on something other than an impl block: the error, the item
/// as it is, and for a plain struct or enum the event declaration, so that
/// the code that logs or handles the type reports nothing more.
fn misplaced(args: TokenStream, input: TokenStream, err: syn::Error) -> TokenStream {
    let item = syn::parse2::<syn::Item>(input.clone()).ok();
    let what = describe_item(input.clone());
    if matches!(item, Some(syn::Item::Impl(_)) | None) {
        let error = syn::Error::new(
            err.span(),
            format!("`#[event]` could not read this impl block: {err}"),
        )
        .to_compile_error();
        return quote!(#input #error);
    }
    let type_name = match &item {
        Some(syn::Item::Struct(s)) => s.ident.to_string(),
        Some(syn::Item::Enum(e)) => e.ident.to_string(),
        _ => "MyEvent".to_owned(),
    };
    let error = syn::Error::new_spanned(
        first_tokens(&input),
        format!(
            "`#[event]` goes on an impl block of the event type, not on {what}: \
             write `#[event] impl {type_name} {{ ... }}`, with its handlers inside"
        ),
    )
    .to_compile_error();
    let (ident, generics) = match &item {
        Some(syn::Item::Struct(s)) => (&s.ident, &s.generics),
        Some(syn::Item::Enum(e)) => (&e.ident, &e.generics),
        _ => return quote!(#input #error),
    };
    if !generics.params.is_empty() {
        return quote!(#input #error);
    }
    // The arguments are read for the name only; their own mistakes can
    // wait for the attribute to be moved.
    let args = attr::event_args(args, &mut Errors::default());
    let self_ty: Type = syn::parse_quote!(#ident);
    let stub = EventExpansion {
        self_ty: &self_ty,
        type_ident: ident,
        name: args.name.as_ref(),
        validator: None,
        handlers: Vec::new(),
        impl_span: ident.span(),
    };
    quote!(#input #stub #error)
}
