//! Checks of a handler's or validator's signature, with one error per
//! mistake, each on the user's tokens.

use proc_macro2::Span;
use syn::{FnArg, Ident, LitStr, ReturnType, Signature, Type};

use crate::attr::HandlerArgs;
use crate::errors::Errors;

/// Where a `#[handler]` function stands.
#[derive(Clone, Copy)]
pub(crate) enum Place<'a> {
    /// A method of an `#[event]` impl of this type.
    Method(&'a Type),
    /// A free function.
    Free,
}

/// One parameter the dispatcher supplies, in the user's order.
pub(crate) enum Param {
    Event,
    Context,
    Record,
}

pub(crate) enum Kind {
    Method,
    Function,
    Wildcard,
}

/// A handler whose signature passed every check.
pub(crate) struct HandlerSpec {
    pub(crate) ident: Ident,
    /// The span of `async`, for an `async fn`.
    pub(crate) asyncness: Option<Span>,
    pub(crate) kind: Kind,
    pub(crate) params: Vec<Param>,
    /// The event type: the impl's for methods, the parameter's for typed
    /// free functions, `None` for wildcards.
    pub(crate) event_ty: Option<Type>,
    pub(crate) pattern: Option<LitStr>,
    pub(crate) group: Option<LitStr>,
    pub(crate) output: ReturnType,
}

fn last_ident(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| &s.ident),
        Type::Group(g) => last_ident(&g.elem),
        Type::Paren(p) => last_ident(&p.elem),
        _ => None,
    }
}

/// Whether a free function has a parameter that can be its event: a
/// shared reference to something other than `Context`.
fn has_event_param(sig: &Signature) -> bool {
    sig.inputs.iter().any(|input| match input {
        FnArg::Typed(pat) => matches!(
            &*pat.ty,
            Type::Reference(r) if r.mutability.is_none() && !is_named(&r.elem, "Context")
        ),
        FnArg::Receiver(_) => false,
    })
}

fn is_named(ty: &Type, name: &str) -> bool {
    last_ident(ty).is_some_and(|i| i == name)
}

/// Checks what `#[handler]` forbids on any function: const, unsafe,
/// extern, generics, variadics.
fn check_plain_fn(sig: &Signature, macro_name: &str, errors: &mut Errors) {
    if let Some(c) = &sig.constness {
        errors.spanned(
            c,
            format!("`{macro_name}` cannot be a `const fn`; remove `const`"),
        );
    }
    if let Some(u) = &sig.unsafety {
        errors.spanned(
            u,
            format!("`{macro_name}` cannot be an `unsafe fn`: the dispatcher calls it with no safety contract; remove `unsafe`"),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(
            abi,
            format!("`{macro_name}` cannot be an `extern` fn; remove the ABI"),
        );
    }
    // Lifetime parameters are only names for the borrows of the event.
    let generic = sig
        .generics
        .params
        .iter()
        .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)));
    if generic {
        errors.spanned(
            &sig.generics,
            format!("`{macro_name}` cannot be generic: it is registered for one concrete event type; remove the type parameters"),
        );
    } else if let Some(w) = &sig.generics.where_clause {
        errors.spanned(
            w,
            format!("`{macro_name}` cannot have a `where` clause; remove it"),
        );
    }
    if let Some(v) = &sig.variadic {
        errors.spanned(v, format!("`{macro_name}` cannot be variadic"));
    }
}

pub(crate) fn handler(
    sig: &Signature,
    place: Place<'_>,
    args: HandlerArgs,
    errors: &mut Errors,
) -> Option<HandlerSpec> {
    let before = errors_count(errors);
    check_plain_fn(sig, "#[handler]", errors);
    let mut params = Vec::new();
    let mut event_ty: Option<Type> = None;
    let mut record_param = None;
    let mut has_receiver = false;
    let before_params = errors_count(errors);

    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                has_receiver = true;
                match place {
                    Place::Free => errors.spanned(
                        r,
                        "`#[handler]` with a `self` receiver must be a method of an `#[event]` impl; \
                         add `#[event]` to the impl block, or take the event as a parameter: `fn name(event: &MyEvent)`",
                    ),
                    Place::Method(_) if r.reference.is_none() => errors.spanned(
                        r,
                        "`#[handler]` methods take `&self`, not `self` by value: the event is shared by all its handlers",
                    ),
                    Place::Method(_) if r.mutability.is_some() => errors.spanned(
                        r,
                        "`#[handler]` methods take `&self`, not `&mut self`: the event is shared by all its handlers",
                    ),
                    Place::Method(_) if r.colon_token.is_some() && !matches!(&*r.ty, Type::Reference(_)) => {
                        errors.spanned(r, "`#[handler]` methods take `&self`")
                    }
                    Place::Method(_) => {}
                }
            }
            FnArg::Typed(pat) => {
                let ty = &*pat.ty;
                let reference = match ty {
                    Type::Reference(r) => Some(r),
                    _ => None,
                };
                match reference {
                    Some(r) if r.mutability.is_some() => errors.spanned(
                        ty,
                        "`#[handler]` parameters are shared references: the event is shared by all its handlers; remove `mut`",
                    ),
                    Some(r) if is_named(&r.elem, "Context") => {
                        if params.iter().any(|p| matches!(p, Param::Context)) {
                            errors.spanned(ty, "`#[handler]` takes `&eventlib::Context` once; remove this parameter");
                        }
                        params.push(Param::Context);
                    }
                    Some(r) if is_named(&r.elem, "Record") => {
                        if let Place::Method(_) = place {
                            errors.spanned(
                                ty,
                                "`#[handler]` methods take `&self` and optionally `ctx: &eventlib::Context`; \
                                 a `&Record` parameter belongs to a free wildcard handler",
                            );
                        } else if event_ty.is_some() || record_param.is_some() {
                            errors.spanned(ty, "`#[handler]` takes one event parameter; remove this one");
                        } else {
                            record_param = Some(ty.clone());
                            params.push(Param::Record);
                        }
                    }
                    Some(r) => match place {
                        Place::Method(_) => errors.spanned(
                            ty,
                            "`#[handler]` methods take `&self` and optionally `ctx: &eventlib::Context`; \
                             remove this parameter (the event is `self`)",
                        ),
                        Place::Free if event_ty.is_some() || record_param.is_some() => errors.spanned(
                            ty,
                            "`#[handler]` takes one event parameter; remove this one (write one handler per event)",
                        ),
                        Place::Free => {
                            event_ty = Some((*r.elem).clone());
                            params.push(Param::Event);
                        }
                    },
                    None if is_named(ty, "Context") => errors.spanned(
                        ty,
                        "`#[handler]` takes the context by reference: `ctx: &eventlib::Context`",
                    ),
                    None if is_named(ty, "Record") => errors.spanned(
                        ty,
                        "`#[handler]` takes the record by reference: `record: &eventlib::Record`",
                    ),
                    None => match place {
                        Place::Method(_) => errors.spanned(
                            ty,
                            "`#[handler]` methods take `&self` and optionally `ctx: &eventlib::Context`; remove this parameter",
                        ),
                        // Another parameter is the event: this one is extra.
                        Place::Free if has_event_param(sig) => errors.spanned(
                            ty,
                            "`#[handler]` functions take the event and optionally `ctx: &eventlib::Context`; \
                             remove this parameter",
                        ),
                        Place::Free => errors.spanned(
                            ty,
                            format!(
                                "`#[handler]` takes the event by reference: `&{}`; the event is shared by all its handlers",
                                quote::quote!(#ty)
                            ),
                        ),
                    },
                }
            }
        }
    }

    if let ReturnType::Type(_, ty) = &sig.output {
        if let Type::ImplTrait(_) = &**ty {
            errors.spanned(
                ty,
                "`#[handler]` functions return `()` or `Result<(), E>` where `E: Into<anyhow::Error>`, \
                 not `impl Trait`; write the type",
            );
        }
    }

    // A parameter already reported (`Ping` by value, `&mut Ping`) is not
    // reported a second time as a missing event.
    let params_reported = errors_count(errors) != before_params;
    let kind = match place {
        Place::Method(self_ty) => {
            if !has_receiver {
                errors.spanned(
                    &sig.ident,
                    "`#[handler]` methods take `&self`: add it as the first parameter (`fn name(&self)`)",
                );
            }
            if let Some(pattern) = &args.pattern {
                errors.spanned(
                    pattern,
                    "a `#[handler]` method handles the event of its impl; remove the pattern \
                     (patterns are for free functions taking `record: &eventlib::Record`)",
                );
            }
            event_ty = Some(self_ty.clone());
            Kind::Method
        }
        Place::Free => match (&args.pattern, &event_ty, &record_param) {
            (Some(_), Some(ty), _) => {
                errors.spanned(
                    ty,
                    "a wildcard `#[handler(\"...\")]` takes `record: &eventlib::Record`, not a typed event",
                );
                Kind::Wildcard
            }
            (Some(_), None, Some(_)) => Kind::Wildcard,
            (None, _, Some(ty)) if !args.invalid => {
                errors.spanned(
                    ty,
                    "a `#[handler]` taking `&eventlib::Record` needs a pattern: `#[handler(\"*\")]` or `#[handler(\"shop.*\")]`",
                );
                Kind::Wildcard
            }
            (_, None, None) if !has_receiver && !params_reported => {
                errors.push(syn::Error::new(
                    sig.paren_token.span.join(),
                    "`#[handler]` needs the event as a parameter: `fn name(event: &MyEvent)` \
                     (or `record: &eventlib::Record` with a pattern)",
                ));
                Kind::Function
            }
            _ => Kind::Function,
        },
    };

    if errors_count(errors) != before {
        return None;
    }
    Some(HandlerSpec {
        ident: sig.ident.clone(),
        asyncness: sig.asyncness.map(|a| a.span),
        kind,
        params,
        event_ty,
        pattern: args.pattern,
        group: args.group,
        output: sig.output.clone(),
    })
}

/// Checks a `#[validate]` method: `fn(&self) -> Result<(), ValidationError>`.
pub(crate) fn validator(sig: &Signature, errors: &mut Errors) -> bool {
    let before = errors_count(errors);
    check_plain_fn(sig, "#[validate]", errors);
    const SHAPE: &str = "`fn check(&self) -> Result<(), eventlib::ValidationError>`";
    if let Some(a) = &sig.asyncness {
        errors.spanned(
            a,
            format!("`#[validate]` runs in the caller before the event is queued and cannot be `async`; write {SHAPE}"),
        );
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        Some(other) => errors.spanned(other, format!("`#[validate]` takes `&self` only: {SHAPE}")),
        None => errors.spanned(&sig.ident, format!("`#[validate]` takes `&self`: {SHAPE}")),
    }
    for extra in inputs {
        errors.spanned(
            extra,
            format!("`#[validate]` takes `&self` only; remove this parameter: {SHAPE}"),
        );
    }
    if let ReturnType::Default = sig.output {
        errors.spanned(
            &sig.ident,
            format!("`#[validate]` must return a result: {SHAPE}"),
        );
    }
    errors_count(errors) == before
}

fn errors_count(errors: &Errors) -> usize {
    errors.count()
}
