//! The parser behind `log!`, so that its mistakes point at the user's
//! tokens: `log!(event)` and `log!("crate.Name", { "field": value, ... })`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{braced, bracketed, Expr, LitStr, Token};

use crate::errors::Errors;
use crate::name;

const FORMS: &str = "`log!(MyEvent { .. })` or `log!(\"crate.Name\", { \"field\": value })`";

/// By-name data: `{ "key": value, ... }`, where a value is a nested object,
/// an array, `null`, or any Rust expression that implements `Serialize`.
enum Value {
    Object(Vec<(LitStr, Value)>),
    Array(Vec<Value>),
    Null(Span),
    Expr(Expr),
}

fn parse_object(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<Value> {
    let content;
    braced!(content in input);
    let mut entries: Vec<(LitStr, Value)> = Vec::new();
    while !content.is_empty() {
        let key: LitStr = if content.peek(LitStr) {
            content.parse()?
        } else {
            let bad: TokenTree = content.parse()?;
            return Err(syn::Error::new_spanned(
                &bad,
                format!("`log!` data keys are string literals: `\"{bad}\": value`"),
            ));
        };
        if entries.iter().any(|(k, _)| k.value() == key.value()) {
            // Reported with the other mistakes of the call; parsing goes on.
            errors.spanned(
                &key,
                format!(
                    "`log!` data has the key \"{}\" twice; remove one",
                    key.value()
                ),
            );
        }
        if !content.peek(Token![:]) {
            return Err(syn::Error::new(
                content.span(),
                format!(
                    "`log!` data: expected `:` after the key \"{}\"",
                    key.value()
                ),
            ));
        }
        content.parse::<Token![:]>()?;
        let value = parse_value(&content, &key, errors)?;
        entries.push((key, value));
        if content.is_empty() {
            break;
        }
        if !content.peek(Token![,]) {
            return Err(syn::Error::new(
                content.span(),
                "`log!` data: expected `,` between fields",
            ));
        }
        content.parse::<Token![,]>()?;
    }
    Ok(Value::Object(entries))
}

fn parse_value(input: ParseStream<'_>, key: &LitStr, errors: &mut Errors) -> syn::Result<Value> {
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new(
            input.span(),
            format!("`log!` data: the key \"{}\" has no value", key.value()),
        ));
    }
    if input.peek(syn::token::Brace) {
        return parse_object(input, errors);
    }
    if input.peek(syn::token::Bracket) {
        let content;
        bracketed!(content in input);
        let mut items = Vec::new();
        while !content.is_empty() {
            items.push(parse_value(&content, key, errors)?);
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        return Ok(Value::Array(items));
    }
    if input.peek(syn::Ident) && input.peek2(Token![,]) || input.peek(syn::Ident) && is_last(input)
    {
        let fork = input.fork();
        let ident: syn::Ident = fork.parse()?;
        if ident == "null" {
            input.parse::<syn::Ident>()?;
            return Ok(Value::Null(ident.span()));
        }
    }
    input.parse().map(Value::Expr)
}

/// The first token of `tokens` as written (`=>` whole, a group by its
/// opening delimiter), for a message.
fn first_token(tokens: &TokenStream) -> String {
    let mut text = String::new();
    for tt in tokens.clone() {
        match tt {
            TokenTree::Punct(p) => {
                text.push(p.as_char());
                if p.spacing() == proc_macro2::Spacing::Alone {
                    break;
                }
            }
            TokenTree::Group(g) if text.is_empty() => {
                text.push_str(match g.delimiter() {
                    proc_macro2::Delimiter::Brace => "{",
                    proc_macro2::Delimiter::Bracket => "[",
                    proc_macro2::Delimiter::Parenthesis => "(",
                    proc_macro2::Delimiter::None => "",
                });
                break;
            }
            other if text.is_empty() => {
                text = other.to_string();
                break;
            }
            _ => break,
        }
    }
    text
}

fn is_last(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    fork.parse::<TokenTree>().is_ok() && fork.is_empty()
}

fn expand_value(value: &Value, key: &LitStr, p: &TokenStream) -> TokenStream {
    match value {
        Value::Object(entries) => {
            let entries = entries.iter().map(|(k, v)| {
                let v = expand_value(v, k, p);
                quote!((#k, #v))
            });
            quote!(#p::object([#(#entries),*]))
        }
        Value::Array(items) => {
            let items = items.iter().map(|v| expand_value(v, key, p));
            quote!(#p::array([#(#items),*]))
        }
        Value::Null(span) => {
            quote_spanned!(*span=> ::core::result::Result::Ok(#p::serde_json::Value::Null))
        }
        Value::Expr(expr) => {
            let span = expr.span();
            quote_spanned!(span=> #p::assert_log_value(#key, &(#expr)))
        }
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let parsed = (|input: ParseStream<'_>| parse(input, &mut errors)).parse2(input);
    match parsed {
        Ok(_) if !errors.is_empty() => errors.into_compile_errors(),
        Ok(tokens) => tokens,
        Err(err) => {
            errors.push(err);
            errors.into_compile_errors()
        }
    }
}

fn parse(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<TokenStream> {
    // `$crate` of the runtime, then `;`, then what the user wrote.
    let mut krate = TokenStream::new();
    while !input.peek(Token![;]) {
        krate.extend(std::iter::once(input.parse::<TokenTree>()?));
    }
    input.parse::<Token![;]>()?;
    let p = quote!(#krate::__private);

    if input.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!("`log!` needs an event: {FORMS}"),
        ));
    }

    if input.peek(LitStr) && (input.peek2(Token![,]) || is_last(input)) {
        let name: LitStr = input.parse()?;
        if let Err(reason) = name::validate_name(&name.value()) {
            errors.spanned(
                &name,
                format!(
                    "`log!`: event name `{}` is invalid: {reason}; names are dot-separated \
                     identifiers like `shop.OrderPlaced`",
                    name.value()
                ),
            );
        }
        if input.is_empty() {
            return Err(syn::Error::new_spanned(
                &name,
                "`log!` by name needs data after the name: `log!(\"crate.Name\", { \"field\": value })`; \
                 write `{}` for an event without fields",
            ));
        }
        input.parse::<Token![,]>()?;
        if !input.peek(syn::token::Brace) {
            let span = if input.is_empty() {
                name.span()
            } else {
                input.span()
            };
            return Err(syn::Error::new(
                span,
                "`log!` by name takes its data as `{ \"field\": value, ... }`",
            ));
        }
        let data = parse_object(input, errors)?;
        let _ = input.parse::<Option<Token![,]>>()?;
        if !input.is_empty() {
            let rest: TokenStream = input.parse()?;
            return Err(syn::Error::new_spanned(
                rest,
                "`log!` takes an event name and its data, nothing more; log each event with its own `log!`",
            ));
        }
        let data = expand_value(&data, &name, &p);
        return Ok(quote! {{
            static __EVENTLIB_SITE: #p::CallSite = #p::CallSite::new(#name);
            #p::log_by_name(&__EVENTLIB_SITE, #data)
        }});
    }

    let expr: Expr = input.parse().map_err(|err| {
        syn::Error::new(
            err.span(),
            format!("`log!` expects an event value or an event name and its data: {FORMS}"),
        )
    })?;
    if input.peek(Token![,]) && input.peek2(syn::token::Brace) {
        return Err(syn::Error::new_spanned(
            &expr,
            "`log!`: the event name must be a string literal, like `log!(\"shop.Order\", { ... })`; \
             for a name known only at run time, call `eventlib::log_json(name, data)`",
        ));
    }
    let comma = input.parse::<Option<Token![,]>>()?;
    if !input.is_empty() {
        let rest: TokenStream = input.parse()?;
        let message = match comma {
            Some(_) => "`log!` takes one event; log each event with its own `log!`".to_owned(),
            None => format!(
                "`log!`: unexpected `{}` after the event; write {FORMS}",
                first_token(&rest)
            ),
        };
        return Err(syn::Error::new_spanned(rest, message));
    }
    let span = expr.span();
    let call = quote_spanned!(span=> #p::log_typed);
    Ok(quote!(#call(#expr)))
}
