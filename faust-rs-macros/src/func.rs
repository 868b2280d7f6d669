//! What `#[agent]`, `#[task]`, `#[timer]` and `#[command]` share: reading
//! the annotated item as a function, checking its signature, and the hidden
//! module each of them emits next to the function.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::{FnArg, Ident, Item, ItemFn, PatType, Signature, Type};

use crate::ctxt::Ctxt;

/// How many arguments a macro's function takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Params {
    /// None: tasks and timers.
    None,
    /// Exactly one typed argument: the agent's event or stream.
    One,
    /// Any number of typed arguments, each checked by the caller:
    /// commands.
    Any,
}

/// Reads `item` as a function. Any other item is an error naming what was
/// found.
pub(crate) fn parse_fn(attr: &str, item: TokenStream) -> syn::Result<ItemFn> {
    let item: Item = syn::parse2(item)?;
    let (head, kind): (TokenStream, &str) = match &item {
        Item::Fn(f) => return Ok(f.clone()),
        Item::Struct(s) => (head(&s.struct_token, &s.ident), "a struct"),
        Item::Enum(e) => (head(&e.enum_token, &e.ident), "an enum"),
        Item::Static(s) => (head(&s.static_token, &s.ident), "a static"),
        Item::Const(c) => (head(&c.const_token, &c.ident), "a const"),
        Item::Mod(m) => (head(&m.mod_token, &m.ident), "a module"),
        Item::Trait(t) => (head(&t.trait_token, &t.ident), "a trait"),
        Item::Type(t) => (head(&t.type_token, &t.ident), "a type alias"),
        Item::Impl(i) => (i.impl_token.to_token_stream(), "an impl block"),
        other => (other.to_token_stream(), "this item"),
    };
    Err(syn::Error::new_spanned(
        head,
        format!("#[{attr}] goes on an `async fn`, not on {kind}"),
    ))
}

/// Checks the shape every faust function shares: `async`, not `const`,
/// `unsafe` or `extern`, not generic, a free function (no `self`), an
/// explicit return type, and the number of arguments in `params`.
///
/// Returns the argument when `params` is [`Params::One`] and there is
/// exactly one usable argument.
pub(crate) fn check_signature<'a>(
    cx: &Ctxt,
    attr: &str,
    sig: &'a Signature,
    params: Params,
    returns: &str,
) -> Option<&'a PatType> {
    if sig.asyncness.is_none() {
        cx.error(
            sig.fn_token,
            format!(
                "#[{attr}] needs an `async fn`: write `async fn {}`",
                sig.ident
            ),
        );
    }
    if let Some(token) = &sig.constness {
        cx.error(token, format!("#[{attr}] fn cannot be `const`"));
    }
    if let Some(token) = &sig.unsafety {
        cx.error(token, format!("#[{attr}] fn cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        cx.error(abi, format!("#[{attr}] fn cannot be `extern`"));
    }
    if let Some(variadic) = &sig.variadic {
        cx.error(variadic, format!("#[{attr}] fn cannot be variadic"));
    }
    if !sig.generics.params.is_empty() {
        cx.error(
            &sig.generics,
            format!(
                "#[{attr}] fn cannot be generic: the worker calls it with concrete types; \
                 remove the generic parameters"
            ),
        );
    } else if let Some(clause) = &sig.generics.where_clause {
        cx.error(clause, format!("#[{attr}] fn cannot have a `where` clause"));
    }

    let mut typed = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => cx.error(
                receiver,
                format!(
                    "#[{attr}] goes on a free function, not a method: move `{}` out of the \
                     impl block and remove `self`",
                    sig.ident
                ),
            ),
            FnArg::Typed(arg) => typed.push(arg),
        }
    }

    let argument = match params {
        Params::None => {
            if !typed.is_empty() {
                let args = &sig.inputs;
                cx.error(
                    args,
                    format!(
                        "#[{attr}] fn takes no arguments, found `{}`",
                        crate::attr::show(args)
                    ),
                );
            }
            None
        }
        Params::One => check_one_argument(cx, attr, sig, &typed),
        Params::Any => None,
    };

    if matches!(sig.output, syn::ReturnType::Default) {
        cx.error_at(
            sig.paren_token.span.close(),
            format!("#[{attr}] fn needs an explicit return type: {returns}"),
        );
    }
    argument
}

fn check_one_argument<'a>(
    cx: &Ctxt,
    attr: &str,
    sig: &Signature,
    typed: &[&'a PatType],
) -> Option<&'a PatType> {
    const WHAT: &str = "the event (e.g. `order: Order`) or a stream of events \
                        (e.g. `orders: Stream<Order>`)";
    match typed {
        [] if sig.inputs.is_empty() => {
            cx.error_at(
                sig.paren_token.span.join(),
                format!("#[{attr}] fn takes exactly one argument, {WHAT}; found none"),
            );
            None
        }
        // Only a `self`, already reported.
        [] => None,
        [arg] => {
            if let Type::ImplTrait(impl_trait) = &*arg.ty {
                cx.error(
                    impl_trait,
                    format!("#[{attr}] argument cannot be `impl Trait`: name the event type"),
                );
                return None;
            }
            Some(arg)
        }
        [_, extra @ ..] => {
            let extra: Vec<&PatType> = extra.to_vec();
            cx.error(
                quote!(#(#extra),*),
                format!(
                    "#[{attr}] fn takes exactly one argument, {WHAT}; found {}",
                    typed.len()
                ),
            );
            None
        }
    }
}

/// Reports a return type `Result<T>` whose `T` is, as far as syntax tells,
/// not `()`, for functions whose result is only checked for errors: `what`
/// names them ("a stream agent"), `hint` says what to do instead.
pub(crate) fn check_unit_result(cx: &Ctxt, output: &syn::ReturnType, what: &str, hint: &str) {
    let syn::ReturnType::Type(_, ty) = output else {
        return;
    };
    let Type::Path(path) = &**ty else {
        return;
    };
    let Some(last) = path.path.segments.last() else {
        return;
    };
    if last.ident != "Result" {
        return;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(Type::Tuple(unit))) if unit.elems.is_empty() => {}
        Some(syn::GenericArgument::Type(value)) => cx.error(
            value,
            format!(
                "{what} returns `Result<()>`, not `Result<{}>`: {hint}",
                crate::attr::show(value)
            ),
        ),
        _ => {}
    }
}

/// The function's name as a string: `r#type` is `"type"`.
pub(crate) fn name_of(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// The `#[cfg]` attributes of a function, so the module emitted beside it
/// exists exactly when the function does.
pub(crate) fn cfg_attrs(func: &ItemFn) -> Vec<syn::Attribute> {
    func.attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect()
}

/// The span for an error about the whole attribute (a missing required
/// option).
pub(crate) fn attribute_span() -> Span {
    Span::call_site()
}

/// The span of the last token of `tokens` (stable proc-macro spans cannot
/// be joined, so a range is made of a first and a last token).
pub(crate) fn last_span(tokens: &impl quote::ToTokens) -> Span {
    fn last(stream: TokenStream) -> Option<Span> {
        match stream.into_iter().last()? {
            proc_macro2::TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::None => {
                last(g.stream())
            }
            tree => Some(tree.span()),
        }
    }
    last(tokens.to_token_stream()).unwrap_or_else(Span::call_site)
}

fn head(keyword: &impl ToTokens, ident: &Ident) -> TokenStream {
    quote!(#keyword #ident)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn errors(func: ItemFn, params: Params) -> Vec<String> {
        let cx = Ctxt::new();
        check_signature(
            &cx,
            "agent",
            &func.sig,
            params,
            "e.g. `-> faust::Result<()>`",
        );
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_well_formed_agent_fn_passes() {
        let f: ItemFn = parse_quote!(
            async fn f(order: Order) -> Result<(), Error> {
                Ok(())
            }
        );
        assert!(errors(f, Params::One).is_empty());
    }

    #[test]
    fn a_sync_fn_is_asked_to_be_async() {
        let f: ItemFn = parse_quote!(
            fn process(order: Order) -> R {}
        );
        assert_eq!(
            errors(f, Params::One),
            ["#[agent] needs an `async fn`: write `async fn process`"]
        );
    }

    #[test]
    fn every_signature_mistake_is_reported_at_once() {
        let f: ItemFn = parse_quote!(
            const unsafe extern "C" fn f<T>(a: T, b: T) {}
        );
        let errors = errors(f, Params::One);
        assert_eq!(errors.len(), 7, "{errors:?}");
        assert!(errors[6].contains("explicit return type"));
    }

    #[test]
    fn the_argument_count_is_checked() {
        let none: ItemFn = parse_quote!(
            async fn f() -> R {}
        );
        assert!(errors(none, Params::One)[0].ends_with("found none"));
        let two: ItemFn = parse_quote!(
            async fn f(a: A, b: B) -> R {}
        );
        assert!(errors(two, Params::One)[0].ends_with("found 2"));
        let task: ItemFn = parse_quote!(
            async fn f(a: A) -> R {}
        );
        assert_eq!(
            errors(task, Params::None),
            ["#[agent] fn takes no arguments, found `a: A`"]
        );
    }

    #[test]
    fn a_method_is_rejected_at_self() {
        let f: ItemFn = parse_quote!(
            async fn f(&self, a: A) -> R {}
        );
        assert!(errors(f, Params::One)[0].contains("not a method"));
    }

    #[test]
    fn non_fn_items_name_what_they_are() {
        let e = parse_fn(
            "agent",
            quote!(
                struct Foo;
            ),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "#[agent] goes on an `async fn`, not on a struct"
        );
    }
}
