//! Parsing of the macros' own arguments. Every mistake is collected; none
//! stops the parse early.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, LitStr, Meta, Path, Token};

use crate::errors::Errors;
use crate::name;

/// The names the macros read: their attributes and their arguments.
pub(crate) mod names {
    /// The runtime crate, as a dependency is named by default.
    pub(crate) const RUNTIME: &str = "eventlib";
    pub(crate) const EVENT: &str = "event";
    pub(crate) const HANDLER: &str = "handler";
    pub(crate) const VALIDATE: &str = "validate";
    /// `#[event(name = "...")]`.
    pub(crate) const NAME: &str = "name";
    /// `#[handler(group = "...")]`.
    pub(crate) const GROUP: &str = "group";
    /// `#[event(crate = path)]`, `#[handler(crate = path)]`.
    pub(crate) const CRATE: &str = "crate";
}

/// The path of the runtime crate in the user's code: `::eventlib`, or the
/// `crate = path` of the attribute for a dependency renamed in Cargo.toml.
#[derive(Default)]
pub(crate) struct CratePath(Option<Path>);

impl CratePath {
    pub(crate) fn new(path: Option<Path>) -> Self {
        CratePath(path)
    }

    /// The path to write in generated code.
    pub(crate) fn tokens(&self) -> TokenStream {
        match &self.0 {
            Some(path) => quote!(#path),
            None => quote!(::eventlib),
        }
    }

    /// Whether `path` names our attribute `name`: `name` itself,
    /// `eventlib::name`, or `<crate path>::name`. Any other path (another
    /// crate's `#[other::handler]`) is left alone.
    pub(crate) fn names(&self, path: &Path, name: &str) -> bool {
        let mut prefix: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let last_is_name = prefix.pop().is_some_and(|last| last == name);
        let plain = path.segments.iter().all(|s| s.arguments.is_empty());
        if !(last_is_name && plain) {
            return false;
        }
        if prefix.is_empty() {
            return path.leading_colon.is_none();
        }
        let krate: Vec<String> = match &self.0 {
            Some(krate) => krate.segments.iter().map(|s| s.ident.to_string()).collect(),
            None => vec![names::RUNTIME.to_owned()],
        };
        prefix == krate || prefix == [names::RUNTIME]
    }
}

/// Removes our attribute `name` from `attrs` and returns its occurrences.
pub(crate) fn take(attrs: &mut Vec<Attribute>, name: &str, krate: &CratePath) -> Vec<Attribute> {
    let mut taken = Vec::new();
    attrs.retain(|a| {
        let ours = krate.names(a.path(), name);
        if ours {
            taken.push(a.clone());
        }
        !ours
    });
    taken
}

/// The tokens inside an attribute's parentheses.
pub(crate) fn args_of(attr: &Attribute) -> TokenStream {
    match &attr.meta {
        Meta::List(list) => list.tokens.clone(),
        _ => TokenStream::new(),
    }
}

/// `crate = path`: the path, or the mistake.
fn crate_value(macro_name: &str, value: &Expr, errors: &mut Errors) -> Option<Path> {
    match value {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Some(p.path.clone()),
        other => {
            errors.spanned(
                other,
                format!(
                    "`#[{macro_name}(crate = ...)]` takes the path of the eventlib crate as your Cargo.toml \
                     names it, not a string or an expression: `crate = ev` for `ev = {{ package = \"eventlib\", ... }}`"
                ),
            );
            None
        }
    }
}

/// The arguments of `#[event(...)]`.
#[derive(Default)]
pub(crate) struct EventArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: CratePath,
}

pub(crate) fn event_args(tokens: TokenStream, errors: &mut Errors) -> EventArgs {
    let mut args = EventArgs::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(metas) => metas,
        Err(err) => {
            errors.push(syn::Error::new(
                err.span(),
                format!("`#[event]` arguments are `name = \"crate.Name\"`: {err}"),
            ));
            return args;
        }
    };
    for meta in metas {
        let key = meta.path().get_ident().map(ToString::to_string);
        match (key.as_deref(), &meta) {
            (Some(names::CRATE), Meta::NameValue(nv)) if args.krate.0.is_some() => {
                errors.spanned(&nv.value, "`#[event]` takes `crate` once; remove one of them")
            }
            (Some(names::CRATE), Meta::NameValue(nv)) => {
                args.krate = CratePath(crate_value(names::EVENT, &nv.value, errors));
            }
            (Some(names::NAME), Meta::NameValue(nv)) => match string_literal(&nv.value) {
                Some(lit) if args.name.is_some() => {
                    errors.spanned(lit, "`#[event]` takes `name` once; remove one of them")
                }
                Some(lit) => {
                    if let Err(reason) = name::validate_name(&lit.value()) {
                        errors.spanned(
                            &lit,
                            format!("`#[event]` name `{}` is invalid: {reason}; write it like `shop.OrderPlaced`", lit.value()),
                        );
                    }
                    args.name = Some(lit);
                }
                None => errors.spanned(
                    &nv.value,
                    "`#[event(name = ...)]` takes a string literal: `name = \"shop.OrderPlaced\"`",
                ),
            },
            (Some(names::NAME), _) => {
                errors.spanned(&meta, "`#[event]` expects `name = \"crate.Name\"`")
            }
            (Some(names::CRATE), _) => {
                errors.spanned(&meta, "`#[event]` expects `crate = path`, such as `crate = ev`")
            }
            _ => errors.spanned(
                meta.path(),
                format!(
                    "unknown `#[event]` argument `{}`; the arguments are `name = \"crate.Name\"` and `crate = path`",
                    path_text(meta.path())
                ),
            ),
        }
    }
    args
}

fn path_text(path: &syn::Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}

fn string_literal(expr: &Expr) -> Option<LitStr> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        _ => None,
    }
}

/// The arguments of `#[handler(...)]`.
#[derive(Default)]
pub(crate) struct HandlerArgs {
    pub(crate) pattern: Option<LitStr>,
    pub(crate) group: Option<LitStr>,
    /// `crate = path`: for a free function only (a method uses its
    /// `#[event]`'s).
    pub(crate) krate: Option<Path>,
    /// The arguments could not be read: checks that depend on them are
    /// skipped, so that one mistake is reported once.
    pub(crate) invalid: bool,
}

enum HandlerArg {
    Pattern(LitStr),
    Meta(Box<Meta>),
}

impl Parse for HandlerArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            input.parse().map(HandlerArg::Pattern)
        } else {
            input.parse().map(|m| HandlerArg::Meta(Box::new(m)))
        }
    }
}

pub(crate) fn handler_args(tokens: TokenStream, errors: &mut Errors) -> HandlerArgs {
    let mut args = HandlerArgs::default();
    let parsed = match Punctuated::<HandlerArg, Token![,]>::parse_terminated.parse2(tokens.clone())
    {
        Ok(parsed) => parsed,
        Err(_) => {
            let message = if tokens.clone().into_iter().next().is_some_and(|tt| {
                !matches!(&tt, proc_macro2::TokenTree::Literal(_))
                    && !tokens.to_string().contains('=')
            }) {
                "`#[handler]` takes its pattern as a string literal: `#[handler(\"shop.*\")]`"
            } else {
                "`#[handler]` arguments are an optional pattern and `group = \"...\"`: \
                 `#[handler]`, `#[handler(\"shop.*\")]`, `#[handler(\"shop.*\", group = \"analytics\")]`"
            };
            errors.spanned(&tokens, message);
            args.invalid = true;
            return args;
        }
    };
    for (position, arg) in parsed.into_iter().enumerate() {
        match arg {
            HandlerArg::Pattern(lit) if position > 0 || args.pattern.is_some() => errors.spanned(
                &lit,
                "`#[handler]` takes one pattern, first: `#[handler(\"shop.*\", group = \"...\")]`",
            ),
            HandlerArg::Pattern(lit) => {
                if let Err(reason) = name::validate_pattern(&lit.value()) {
                    errors.spanned(
                        &lit,
                        format!(
                            "`#[handler]` pattern `{}` is invalid: {reason}; patterns are `*`, `prefix.*` or an exact event name",
                            lit.value()
                        ),
                    );
                }
                args.pattern = Some(lit);
            }
            HandlerArg::Meta(meta) => {
                let key = meta.path().get_ident().map(ToString::to_string);
                match (&*meta, key.as_deref()) {
                    (Meta::NameValue(nv), Some(names::CRATE)) if args.krate.is_some() => {
                        errors.spanned(&nv.value, "`#[handler]` takes `crate` once; remove one of them")
                    }
                    (Meta::NameValue(nv), Some(names::CRATE)) => {
                        args.krate = crate_value(names::HANDLER, &nv.value, errors);
                    }
                    (Meta::NameValue(nv), Some(names::GROUP)) => match string_literal(&nv.value) {
                        Some(lit) if args.group.is_some() => {
                            errors.spanned(lit, "`#[handler]` takes `group` once; remove one of them")
                        }
                        Some(lit) => {
                            if let Err(reason) = name::validate_group(&lit.value()) {
                                errors.spanned(&lit, format!("`#[handler]` group is invalid: {reason}"));
                            }
                            args.group = Some(lit);
                        }
                        None => errors.spanned(
                            &nv.value,
                            "`#[handler(group = ...)]` takes a string literal: `group = \"analytics\"`",
                        ),
                    },
                    _ => errors.spanned(
                        &meta,
                        format!(
                            "unknown `#[handler]` argument `{}`; the arguments are an optional pattern, \
                             `group` and `crate`: `#[handler(\"shop.*\", group = \"analytics\")]`",
                            path_text(meta.path())
                        ),
                    ),
                }
            }
        }
    }
    args
}
