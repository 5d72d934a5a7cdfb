//! `#[event]`: parse, validate, expand; on error, the impl block is still
//! emitted (stripped of the inner attributes) so that one mistake does not
//! cascade.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Signature, Type};

use crate::ast::{describe_item, first_tokens, EventImpl, Item};
use crate::attr::{self, names, CratePath};
use crate::errors::Errors;
use crate::expand::{self, EventExpansion};
use crate::valid::{self, Place, Role};

/// What one impl item carried of our attributes, taken off it.
enum Taken {
    /// A `fn`: its signature and its `#[handler]` and `#[validate]`s.
    Method {
        sig: Box<Signature>,
        handler: Vec<Attribute>,
        validate: Vec<Attribute>,
    },
    /// A const, type or macro item with `#[handler]` or `#[validate]`.
    NotFn(Vec<Attribute>),
}

/// Takes our attributes off the impl's items, in item order.
fn take_item_attrs(imp: &mut EventImpl, krate: &CratePath) -> Vec<Taken> {
    let mut taken = Vec::new();
    for item in &mut imp.items {
        match item {
            Item::Fn(func) => taken.push(Taken::Method {
                sig: Box::new(func.sig.clone()),
                handler: attr::take(&mut func.attrs, names::HANDLER, krate),
                validate: attr::take(&mut func.attrs, names::VALIDATE, krate),
            }),
            Item::Other(other) => {
                let attrs = match other {
                    syn::ImplItem::Const(c) => &mut c.attrs,
                    syn::ImplItem::Type(t) => &mut t.attrs,
                    syn::ImplItem::Macro(m) => &mut m.attrs,
                    _ => continue,
                };
                let mut ours = attr::take(attrs, names::HANDLER, krate);
                ours.extend(attr::take(attrs, names::VALIDATE, krate));
                if !ours.is_empty() {
                    taken.push(Taken::NotFn(ours));
                }
            }
        }
    }
    taken
}

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    // Parse.
    let mut errors = Errors::default();
    let mut imp: EventImpl = match syn::parse2(input.clone()) {
        Ok(parsed) => parsed,
        Err(err) => return misplaced(args, input, err),
    };
    let args = attr::event_args(args, &mut errors);
    let again = attr::take(&mut imp.attrs, names::EVENT, &args.krate);
    let items = take_item_attrs(&mut imp, &args.krate);
    let krate = args.krate.tokens();

    // Validate.
    valid::event_once(&again, &mut errors);
    let inherent = valid::inherent_impl(&imp, &mut errors);
    let concrete = valid::concrete_impl(&imp, &mut errors);
    let type_ident = valid::event_type(&imp, &mut errors);
    let mut validator = None;
    let mut handlers = Vec::new();
    let mut handler_count = 0u32;
    for item in &items {
        let (sig, handler, validate) = match item {
            Taken::NotFn(attrs) => {
                valid::on_methods_only(attrs, &mut errors);
                continue;
            }
            Taken::Method {
                sig,
                handler,
                validate,
            } => (sig, handler, validate),
        };
        match valid::method_role(handler, validate, &mut errors) {
            Role::Plain => {}
            Role::Handler(attr) => {
                let args = attr::handler_args(attr::args_of(attr), &mut errors);
                valid::no_crate_on_method(&args, &mut errors);
                if let Some(spec) =
                    valid::handler(sig, Place::Method(&imp.self_ty), args, &mut errors)
                {
                    handlers.push((spec, handler_count));
                }
                handler_count += 1;
            }
            Role::Validate(attr) => {
                valid::validate_without_args(attr, &mut errors);
                if valid::first_validator(validator.is_some(), attr, &mut errors)
                    && valid::validator(sig, &mut errors)
                {
                    validator = Some((sig.ident.clone(), sig.output.clone()));
                }
            }
        }
    }

    // Expand. The type is still declared an event when the impl has
    // mistakes (a trait impl declares its self type, without handlers), so
    // that the rest of the user's code compiles and only the mistakes are
    // reported. A generic impl cannot be.
    let impl_block = expand::impl_block(&imp);
    let registration = match (&type_ident, concrete) {
        (Some(type_ident), true) => {
            let methods = match inherent {
                true => handlers
                    .iter()
                    .map(|(spec, index)| expand::handler_decl(spec, *index, &krate))
                    .collect(),
                false => Vec::new(),
            };
            EventExpansion {
                self_ty: &imp.self_ty,
                type_ident,
                name: args.name.as_ref(),
                validator: validator.as_ref().filter(|_| inherent).map(|(i, o)| (i, o)),
                methods,
                impl_span: imp.impl_token.span(),
                krate: krate.clone(),
            }
            .to_token_stream()
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
        methods: Vec::new(),
        impl_span: ident.span(),
        krate: args.krate.tokens(),
    };
    quote!(#input #stub #error)
}
