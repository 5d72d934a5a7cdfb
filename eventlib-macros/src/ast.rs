//! A typed view over the user's tokens that keeps function bodies as raw
//! tokens, so that a mistake inside a body is rustc's to report, at the
//! user's line, and never the macro's.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::parse::discouraged::Speculative;
use syn::parse::{Parse, ParseStream};
use syn::{braced, Attribute, Generics, ImplItem, Signature, Token, Type, Visibility};

/// A function whose body is kept as tokens.
pub(crate) struct Func {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) defaultness: Option<Token![default]>,
    pub(crate) sig: Signature,
    pub(crate) body: TokenStream,
}

impl Parse for Func {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let defaultness = input.parse()?;
        let sig: Signature = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let inner: TokenStream = content.parse()?;
        let mut body = TokenStream::new();
        brace.surround(&mut body, |tokens| tokens.extend(inner));
        Ok(Func {
            attrs,
            vis,
            defaultness,
            sig,
            body,
        })
    }
}

impl ToTokens for Func {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let Func {
            attrs,
            vis,
            defaultness,
            sig,
            body,
        } = self;
        tokens.extend(quote!(#(#attrs)* #vis #defaultness #sig #body));
    }
}

/// One item of an `impl` block.
#[allow(clippy::large_enum_variant)] // a handful per impl block, built once at compile time
pub(crate) enum Item {
    Fn(Func),
    Other(ImplItem),
}

/// `impl Type { ... }`, the input of `#[event]`.
pub(crate) struct EventImpl {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) unsafety: Option<Token![unsafe]>,
    pub(crate) impl_token: Token![impl],
    pub(crate) generics: Generics,
    /// `Some` for `impl Trait for Type`, which `#[event]` rejects.
    pub(crate) trait_: Option<(syn::Path, Token![for])>,
    pub(crate) self_ty: Type,
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) items: Vec<Item>,
}

impl Parse for EventImpl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let unsafety = input.parse()?;
        let impl_token = input.parse()?;
        let mut generics: Generics = input.parse()?;
        let first: Type = input.parse()?;
        let (trait_, self_ty) = if input.peek(Token![for]) {
            let for_token: Token![for] = input.parse()?;
            let path = match first {
                Type::Path(p) => p.path,
                other => return Err(syn::Error::new_spanned(other, "expected a trait path")),
            };
            (Some((path, for_token)), input.parse()?)
        } else {
            (None, first)
        };
        generics.where_clause = input.parse()?;
        let content;
        braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let mut items = Vec::new();
        while !content.is_empty() {
            let fork = content.fork();
            if let Ok(func) = fork.parse::<Func>() {
                content.advance_to(&fork);
                items.push(Item::Fn(func));
            } else {
                items.push(Item::Other(content.parse()?));
            }
        }
        Ok(EventImpl {
            attrs,
            unsafety,
            impl_token,
            generics,
            trait_,
            self_ty,
            inner_attrs,
            items,
        })
    }
}

/// The kind of item a macro was put on by mistake, for its error message.
pub(crate) fn describe_item(tokens: TokenStream) -> &'static str {
    match syn::parse2::<syn::Item>(tokens) {
        Ok(syn::Item::Struct(_)) => "a struct",
        Ok(syn::Item::Enum(_)) => "an enum",
        Ok(syn::Item::Union(_)) => "a union",
        Ok(syn::Item::Fn(_)) => "a function",
        Ok(syn::Item::Trait(_)) => "a trait",
        Ok(syn::Item::Impl(i)) if i.trait_.is_some() => "a trait impl",
        Ok(syn::Item::Impl(_)) => "an impl block",
        Ok(syn::Item::Mod(_)) => "a module",
        Ok(syn::Item::Const(_)) => "a const",
        Ok(syn::Item::Static(_)) => "a static",
        Ok(syn::Item::Type(_)) => "a type alias",
        Ok(syn::Item::Use(_)) => "a `use` item",
        _ => "this item",
    }
}

/// The item's tokens up to its name, to point at without underlining a
/// whole body.
pub(crate) fn first_tokens(input: &TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    let mut tokens = input.clone().into_iter().peekable();
    // Outer attributes (`#[derive(...)]`, doc comments) are not the item.
    while matches!(tokens.peek(), Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == '#') {
        tokens.next();
        tokens.next();
    }
    for tt in tokens {
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
