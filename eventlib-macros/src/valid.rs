//! The rules: one function per rule, each reporting its mistakes on the
//! user's tokens and returning whether the item passed it. Parsing
//! (`ast.rs`, `attr.rs`) comes before; expansion (`expand.rs`) only sees
//! what passed.

use std::fmt::Display;

use proc_macro2::Span;
use quote::{quote, ToTokens};
use syn::{Attribute, FnArg, Ident, LitStr, ReturnType, Signature, Type};

use crate::ast::EventImpl;
use crate::attr::{self, HandlerArgs};
use crate::errors::Errors;

/// One rule being checked: its mistakes go to `errors`, and `ok` says
/// whether there was none.
struct Rule<'e> {
    errors: &'e mut Errors,
    ok: bool,
}

impl<'e> Rule<'e> {
    fn new(errors: &'e mut Errors) -> Self {
        Rule { errors, ok: true }
    }

    fn fail(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.errors.spanned(tokens, message);
        self.ok = false;
    }

    fn fail_at(&mut self, span: Span, message: impl Display) {
        self.errors.push(syn::Error::new(span, message));
        self.ok = false;
    }
}

// ---- `#[event]` on an impl block ----

const NOT_GENERIC: &str =
    "`#[event]` does not support generic types: an event has one name and one concrete type; \
     declare a concrete type (or a newtype around the generic one)";

/// `#[event]` once on the impl block.
pub(crate) fn event_once(again: &[Attribute], errors: &mut Errors) {
    for again in again {
        errors.spanned(
            again,
            "`#[event]` appears twice on this impl block; remove one",
        );
    }
}

/// The impl block is the type's own, not a trait impl.
pub(crate) fn inherent_impl(imp: &EventImpl, errors: &mut Errors) -> bool {
    let Some((path, for_token)) = &imp.trait_ else {
        return true;
    };
    let self_ty = &imp.self_ty;
    errors.spanned(
        quote!(#path #for_token),
        format!(
            "`#[event]` goes on the event type's own impl block, not on a trait impl: \
             write `#[event] impl {} {{ ... }}` and keep this impl without it",
            quote!(#self_ty).to_string().replace(' ', "")
        ),
    );
    false
}

/// The impl block has no generic parameters.
pub(crate) fn concrete_impl(imp: &EventImpl, errors: &mut Errors) -> bool {
    if imp.generics.params.is_empty() {
        return true;
    }
    errors.spanned(&imp.generics, NOT_GENERIC);
    false
}

/// The type is a named struct or enum without generic arguments; its name.
/// `impl<T> Wrapper<T>` is reported once, by [`concrete_impl`].
pub(crate) fn event_type(imp: &EventImpl, errors: &mut Errors) -> Option<Ident> {
    match &imp.self_ty {
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            if !last.arguments.is_empty() && imp.generics.params.is_empty() {
                errors.spanned(&last.arguments, NOT_GENERIC);
            }
            Some(last.ident.clone())
        }
        other => {
            errors.spanned(
                other,
                "`#[event]` goes on an impl block of a named struct or enum",
            );
            None
        }
    }
}

/// `#[handler]` and `#[validate]` found on an impl item that is not a `fn`.
pub(crate) fn on_methods_only(attrs: &[Attribute], errors: &mut Errors) {
    for a in attrs {
        errors.spanned(
            a,
            "`#[handler]` and `#[validate]` go on methods (`fn`) of the `#[event]` impl",
        );
    }
}

/// What one method of an `#[event]` impl is.
pub(crate) enum Role<'a> {
    /// Neither, or a mistake already reported.
    Plain,
    Handler(&'a Attribute),
    Validate(&'a Attribute),
}

/// Each attribute once, and not both on one method.
pub(crate) fn method_role<'a>(
    handler: &'a [Attribute],
    validate: &'a [Attribute],
    errors: &mut Errors,
) -> Role<'a> {
    for extra in handler.iter().skip(1) {
        errors.spanned(
            extra,
            "`#[handler]` appears twice on this method; remove one",
        );
    }
    for extra in validate.iter().skip(1) {
        errors.spanned(
            extra,
            "`#[validate]` appears twice on this method; remove one",
        );
    }
    match (handler.first(), validate.first()) {
        (Some(_), Some(v)) => {
            errors.spanned(
                v,
                "a method is either a `#[handler]` or the `#[validate]` method, not both; split it in two",
            );
            Role::Plain
        }
        (Some(h), None) => Role::Handler(h),
        (None, Some(v)) => Role::Validate(v),
        (None, None) => Role::Plain,
    }
}

/// A handler method takes the crate path of its `#[event]`, not its own.
pub(crate) fn no_crate_on_method(args: &HandlerArgs, errors: &mut Errors) {
    if let Some(krate) = &args.krate {
        errors.spanned(
            krate,
            "a `#[handler]` method uses the crate path of its `#[event]`; \
             write `crate = ...` on the `#[event]` attribute instead",
        );
    }
}

/// `#[validate]` takes no arguments.
pub(crate) fn validate_without_args(attr: &Attribute, errors: &mut Errors) {
    if !attr::args_of(attr).is_empty() {
        errors.spanned(attr, "`#[validate]` takes no arguments");
    }
}

/// At most one `#[validate]` method per event.
pub(crate) fn first_validator(seen: bool, attr: &Attribute, errors: &mut Errors) -> bool {
    if seen {
        errors.spanned(
            attr,
            "an `#[event]` has at most one `#[validate]` method; merge the checks into one",
        );
    }
    !seen
}

// ---- handler and validator signatures ----

/// `#[handler]` once on a free function.
pub(crate) fn handler_once(again: &[Attribute], errors: &mut Errors) {
    for again in again {
        errors.spanned(
            again,
            "`#[handler]` appears twice on this function; remove one (it would be registered twice)",
        );
    }
}

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

/// What `#[handler]` and `#[validate]` forbid on any function: const,
/// unsafe, extern, generics, variadics.
fn plain_fn(sig: &Signature, macro_name: &str, errors: &mut Errors) -> bool {
    let mut rule = Rule::new(errors);
    if let Some(c) = &sig.constness {
        rule.fail(
            c,
            format!("`{macro_name}` cannot be a `const fn`; remove `const`"),
        );
    }
    if let Some(u) = &sig.unsafety {
        rule.fail(
            u,
            format!("`{macro_name}` cannot be an `unsafe fn`: the dispatcher calls it with no safety contract; remove `unsafe`"),
        );
    }
    if let Some(abi) = &sig.abi {
        rule.fail(
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
        rule.fail(
            &sig.generics,
            format!("`{macro_name}` cannot be generic: it is registered for one concrete event type; remove the type parameters"),
        );
    } else if let Some(w) = &sig.generics.where_clause {
        rule.fail(
            w,
            format!("`{macro_name}` cannot have a `where` clause; remove it"),
        );
    }
    if let Some(v) = &sig.variadic {
        rule.fail(v, format!("`{macro_name}` cannot be variadic"));
    }
    rule.ok
}

/// The parameters of a handler, as read by [`handler_params`].
struct Params {
    /// What the dispatcher passes, in order (the receiver excluded).
    list: Vec<Param>,
    /// The type of a free function's `&Event` parameter.
    event_ty: Option<Type>,
    /// A free function's `&Record` parameter.
    record: Option<Type>,
    receiver: bool,
    /// No parameter was reported.
    ok: bool,
}

/// Each parameter is one the dispatcher can supply, once.
fn handler_params(sig: &Signature, place: Place<'_>, errors: &mut Errors) -> Params {
    let mut rule = Rule::new(errors);
    let mut list = Vec::new();
    let mut event_ty: Option<Type> = None;
    let mut record = None;
    let mut receiver = false;
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                receiver = true;
                match place {
                    Place::Free => rule.fail(
                        r,
                        "`#[handler]` with a `self` receiver must be a method of an `#[event]` impl; \
                         add `#[event]` to the impl block, or take the event as a parameter: `fn name(event: &MyEvent)`",
                    ),
                    Place::Method(_) if r.reference.is_none() => rule.fail(
                        r,
                        "`#[handler]` methods take `&self`, not `self` by value: the event is shared by all its handlers",
                    ),
                    Place::Method(_) if r.mutability.is_some() => rule.fail(
                        r,
                        "`#[handler]` methods take `&self`, not `&mut self`: the event is shared by all its handlers",
                    ),
                    Place::Method(_) if r.colon_token.is_some() && !matches!(&*r.ty, Type::Reference(_)) => {
                        rule.fail(r, "`#[handler]` methods take `&self`")
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
                    Some(r) if r.mutability.is_some() => rule.fail(
                        ty,
                        "`#[handler]` parameters are shared references: the event is shared by all its handlers; remove `mut`",
                    ),
                    Some(r) if is_named(&r.elem, "Context") => {
                        if list.iter().any(|p| matches!(p, Param::Context)) {
                            rule.fail(ty, "`#[handler]` takes `&eventlib::Context` once; remove this parameter");
                        }
                        list.push(Param::Context);
                    }
                    Some(r) if is_named(&r.elem, "Record") => {
                        if let Place::Method(_) = place {
                            rule.fail(
                                ty,
                                "`#[handler]` methods take `&self` and optionally `ctx: &eventlib::Context`; \
                                 a `&Record` parameter belongs to a free wildcard handler",
                            );
                        } else if event_ty.is_some() || record.is_some() {
                            rule.fail(ty, "`#[handler]` takes one event parameter; remove this one");
                        } else {
                            record = Some(ty.clone());
                            list.push(Param::Record);
                        }
                    }
                    Some(r) => match place {
                        Place::Method(_) => rule.fail(
                            ty,
                            "`#[handler]` methods take `&self` and optionally `ctx: &eventlib::Context`; \
                             remove this parameter (the event is `self`)",
                        ),
                        Place::Free if event_ty.is_some() || record.is_some() => rule.fail(
                            ty,
                            "`#[handler]` takes one event parameter; remove this one (write one handler per event)",
                        ),
                        Place::Free => {
                            event_ty = Some((*r.elem).clone());
                            list.push(Param::Event);
                        }
                    },
                    None if is_named(ty, "Context") => rule.fail(
                        ty,
                        "`#[handler]` takes the context by reference: `ctx: &eventlib::Context`",
                    ),
                    None if is_named(ty, "Record") => rule.fail(
                        ty,
                        "`#[handler]` takes the record by reference: `record: &eventlib::Record`",
                    ),
                    None => match place {
                        Place::Method(_) => rule.fail(
                            ty,
                            "`#[handler]` methods take `&self` and optionally `ctx: &eventlib::Context`; remove this parameter",
                        ),
                        // Another parameter is the event: this one is extra.
                        Place::Free if has_event_param(sig) => rule.fail(
                            ty,
                            "`#[handler]` functions take the event and optionally `ctx: &eventlib::Context`; \
                             remove this parameter",
                        ),
                        Place::Free => rule.fail(
                            ty,
                            format!(
                                "`#[handler]` takes the event by reference: `&{}`; the event is shared by all its handlers",
                                quote!(#ty)
                            ),
                        ),
                    },
                }
            }
        }
    }
    Params {
        list,
        event_ty,
        record,
        receiver,
        ok: rule.ok,
    }
}

/// The return type is written, not `impl Trait`.
fn handler_output(sig: &Signature, errors: &mut Errors) -> bool {
    match &sig.output {
        ReturnType::Type(_, ty) if matches!(&**ty, Type::ImplTrait(_)) => {
            errors.spanned(
                ty,
                "`#[handler]` functions return `()` or `Result<(), E>` where `E: Into<anyhow::Error>`, \
                 not `impl Trait`; write the type",
            );
            false
        }
        _ => true,
    }
}

/// What the handler is attached to — its impl's event, its parameter's
/// event, or a pattern — and that its parameters fit that.
fn handler_kind(
    sig: &Signature,
    place: Place<'_>,
    args: &HandlerArgs,
    params: &Params,
    errors: &mut Errors,
) -> Option<(Kind, Option<Type>)> {
    let mut rule = Rule::new(errors);
    let kind = match place {
        Place::Method(self_ty) => {
            if !params.receiver {
                rule.fail(
                    &sig.ident,
                    "`#[handler]` methods take `&self`: add it as the first parameter (`fn name(&self)`)",
                );
            }
            if let Some(pattern) = &args.pattern {
                rule.fail(
                    pattern,
                    "a `#[handler]` method handles the event of its impl; remove the pattern \
                     (patterns are for free functions taking `record: &eventlib::Record`)",
                );
            }
            (Kind::Method, Some(self_ty.clone()))
        }
        Place::Free => match (&args.pattern, &params.event_ty, &params.record) {
            (Some(_), Some(ty), _) => {
                rule.fail(
                    ty,
                    "a wildcard `#[handler(\"...\")]` takes `record: &eventlib::Record`, not a typed event",
                );
                (Kind::Wildcard, None)
            }
            (Some(_), None, Some(_)) => (Kind::Wildcard, None),
            (None, _, Some(ty)) if !args.invalid => {
                rule.fail(
                    ty,
                    "a `#[handler]` taking `&eventlib::Record` needs a pattern: `#[handler(\"*\")]` or `#[handler(\"shop.*\")]`",
                );
                (Kind::Wildcard, None)
            }
            // A parameter already reported (`Ping` by value, `&mut Ping`)
            // is not reported a second time as a missing event.
            (_, None, None) if !params.receiver && params.ok => {
                rule.fail_at(
                    sig.paren_token.span.join(),
                    "`#[handler]` needs the event as a parameter: `fn name(event: &MyEvent)` \
                     (or `record: &eventlib::Record` with a pattern)",
                );
                (Kind::Function, None)
            }
            (_, ty, _) => (Kind::Function, ty.clone()),
        },
    };
    rule.ok.then_some(kind)
}

/// Checks a handler's signature against every rule; the handler, if it
/// passed them all.
pub(crate) fn handler(
    sig: &Signature,
    place: Place<'_>,
    args: HandlerArgs,
    errors: &mut Errors,
) -> Option<HandlerSpec> {
    let plain = plain_fn(sig, "#[handler]", errors);
    let params = handler_params(sig, place, errors);
    let output = handler_output(sig, errors);
    let kind = handler_kind(sig, place, &args, &params, errors);
    let (Some((kind, event_ty)), true, true, true) = (kind, plain, params.ok, output) else {
        return None;
    };
    Some(HandlerSpec {
        ident: sig.ident.clone(),
        asyncness: sig.asyncness.map(|a| a.span),
        kind,
        params: params.list,
        event_ty,
        pattern: args.pattern,
        group: args.group,
        output: sig.output.clone(),
    })
}

const VALIDATE_SHAPE: &str = "`fn check(&self) -> Result<(), eventlib::ValidationError>`";

/// A validator runs in the caller: not `async`.
fn validator_sync(sig: &Signature, errors: &mut Errors) -> bool {
    let Some(a) = &sig.asyncness else { return true };
    errors.spanned(
        a,
        format!("`#[validate]` runs in the caller before the event is queued and cannot be `async`; write {VALIDATE_SHAPE}"),
    );
    false
}

/// A validator takes `&self` only.
fn validator_params(sig: &Signature, errors: &mut Errors) -> bool {
    let mut rule = Rule::new(errors);
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        Some(other) => rule.fail(
            other,
            format!("`#[validate]` takes `&self` only: {VALIDATE_SHAPE}"),
        ),
        None => rule.fail(
            &sig.ident,
            format!("`#[validate]` takes `&self`: {VALIDATE_SHAPE}"),
        ),
    }
    for extra in inputs {
        rule.fail(
            extra,
            format!("`#[validate]` takes `&self` only; remove this parameter: {VALIDATE_SHAPE}"),
        );
    }
    rule.ok
}

/// A validator returns a result (its type is checked by rustc, through
/// `ValidateOutput`).
fn validator_output(sig: &Signature, errors: &mut Errors) -> bool {
    if let ReturnType::Type(..) = sig.output {
        return true;
    }
    errors.spanned(
        &sig.ident,
        format!("`#[validate]` must return a result: {VALIDATE_SHAPE}"),
    );
    false
}

/// Checks a `#[validate]` method against every rule:
/// `fn(&self) -> Result<(), ValidationError>`.
pub(crate) fn validator(sig: &Signature, errors: &mut Errors) -> bool {
    let plain = plain_fn(sig, "#[validate]", errors);
    let sync = validator_sync(sig, errors);
    let params = validator_params(sig, errors);
    let output = validator_output(sig, errors);
    plain && sync && params && output
}
