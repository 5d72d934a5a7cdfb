//! Parsing of the macros' own arguments. Every mistake is collected; none
//! stops the parse early.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Lit, LitStr, Meta, Token};

use crate::errors::Errors;
use crate::name;

/// The arguments of `#[event(...)]`.
#[derive(Default)]
pub(crate) struct EventArgs {
    pub(crate) name: Option<LitStr>,
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
            (Some("name"), Meta::NameValue(nv)) => match string_literal(&nv.value) {
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
            (Some("name"), _) => {
                errors.spanned(&meta, "`#[event]` expects `name = \"crate.Name\"`")
            }
            _ => errors.spanned(
                meta.path(),
                format!(
                    "unknown `#[event]` argument `{}`; the only argument is `name = \"crate.Name\"`",
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
                let is_group = meta.path().is_ident("group");
                match (&*meta, is_group) {
                    (Meta::NameValue(nv), true) => match string_literal(&nv.value) {
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
                            "unknown `#[handler]` argument `{}`; the arguments are an optional pattern and \
                             `group`: `#[handler(\"shop.*\", group = \"analytics\")]`",
                            path_text(meta.path())
                        ),
                    ),
                }
            }
        }
    }
    args
}
