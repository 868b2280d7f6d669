//! `#[topic]`: declares and registers a `static NAME: Topic<K, V>;`.
//!
//! The item has no initializer, which is not valid Rust on its own, so it is
//! parsed by hand ([`TopicStatic`]) rather than as a `syn::Item`. The
//! macro writes the initializer: a registered `TopicDef` and
//! `Topic::from_def`. Without a valid declaration there is nothing to emit
//! but the errors.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, Lit, LitStr, Token, Type, Visibility};

use crate::attr::{self, Args, Once};
use crate::ctxt::Ctxt;

/// Every option `#[topic]` accepts.
const OPTIONS: &[&str] = &["name", "partitions", "key_serializer", "value_serializer"];

/// Expands `#[topic(args)] item`. On any error, emits only the errors: a
/// static without its initializer cannot be emitted.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let decl = syn::parse2::<TopicStatic>(item).and_then(|item| Topic::from_ast(args, item));
    match decl {
        Ok(topic) => generate(&topic),
        Err(error) => error.into_compile_error(),
    }
}

/// `<attrs> <vis> static NAME: TYPE;` as written (plus what must not be
/// there, so it can be reported).
#[derive(Debug)]
pub(crate) struct TopicStatic {
    attrs: Vec<Attribute>,
    vis: Visibility,
    mutability: Option<Token![mut]>,
    ident: Ident,
    ty: Type,
    init: Option<(Token![=], Expr)>,
}

impl Parse for TopicStatic {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![static]) {
            return Err(input.error(
                "#[topic] goes on a declaration without initializer: \
                 `static NAME: Topic<K, V>;`",
            ));
        }
        input.parse::<Token![static]>()?;
        let mutability = input.parse()?;
        let ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let ty = input.parse()?;
        let init = if input.peek(Token![=]) {
            Some((input.parse()?, input.parse()?))
        } else {
            None
        };
        input.parse::<Token![;]>()?;
        Ok(TopicStatic {
            attrs,
            vis,
            mutability,
            ident,
            ty,
            init,
        })
    }
}

/// A checked `#[topic]`.
#[derive(Debug)]
pub(crate) struct Topic {
    /// The static's attributes, visibility, name and type, emitted as is.
    pub(crate) attrs: Vec<Attribute>,
    /// The static's visibility.
    pub(crate) vis: Visibility,
    /// The static's name.
    pub(crate) ident: Ident,
    /// The static's type (a `Topic<K, V>`; the type checker says if not).
    pub(crate) ty: Type,
    /// The topic's name on the broker (valid for Kafka).
    pub(crate) name: String,
    /// Partition count, >= 1.
    pub(crate) partitions: Option<u32>,
    /// Key codec name.
    pub(crate) key_serializer: Option<String>,
    /// Value codec name.
    pub(crate) value_serializer: Option<String>,
}

impl Topic {
    /// Parses and checks the options and the declaration, reporting every
    /// mistake at once.
    pub(crate) fn from_ast(args: TokenStream, item: TopicStatic) -> syn::Result<Topic> {
        let cx = Ctxt::new();
        if let Some(token) = &item.mutability {
            cx.error(token, "a #[topic] static cannot be `mut`");
        }
        if let Some((eq, expr)) = &item.init {
            cx.error(
                quote!(#eq #expr),
                "#[topic] writes the initializer itself: remove `= ...` and end the \
                 declaration with `;`",
            );
        }

        let args = Args::parse_or_report(&cx, args);
        let mut name: Once<LitStr> = Once::new("name");
        // The short form `#[topic("orders")]`.
        for lit in &args.positional {
            match lit {
                Lit::Str(s) => {
                    let valid = attr::check_topic_name(&cx, s);
                    let key = Ident::new("name", s.span());
                    name.set(&cx, &key, valid.then(|| s.clone()));
                }
                other => cx.error(
                    other,
                    format!(
                        "the topic name must be a string, e.g. `#[topic(\"orders\")]`, found `{}`",
                        other.to_token_stream()
                    ),
                ),
            }
        }
        let mut partitions = Once::new("partitions");
        let mut key_serializer = Once::new("key_serializer");
        let mut value_serializer = Once::new("value_serializer");
        let mut misspelt = Vec::new();
        for opt in &args.options {
            let key = &opt.key;
            match opt.name().as_str() {
                "name" => name.set(&cx, key, opt.topic_name(&cx)),
                "partitions" => partitions.set(&cx, key, opt.int::<u32>(&cx, 1)),
                "key_serializer" => key_serializer.set(
                    &cx,
                    key,
                    opt.non_empty_string(&cx, "key_serializer = \"str\""),
                ),
                "value_serializer" => value_serializer.set(
                    &cx,
                    key,
                    opt.non_empty_string(&cx, "value_serializer = \"json\""),
                ),
                _ => misspelt.extend(attr::unknown_option(&cx, "#[topic] option", key, OPTIONS)),
            }
        }
        if name.key().is_none() && !misspelt.contains(&"name") {
            cx.error_at(
                crate::func::attribute_span(),
                format!(
                    "#[topic] needs the topic's name: write `#[topic(\"{}\")]` or \
                     `#[topic(name = \"...\")]`",
                    item.ident.to_string().to_lowercase().replace('_', "-")
                ),
            );
        }

        cx.check()?;

        Ok(Topic {
            attrs: item.attrs,
            vis: item.vis,
            ident: item.ident,
            ty: item.ty,
            name: name.get().map(|n| n.value()).unwrap_or_default(),
            partitions: partitions.get(),
            key_serializer: key_serializer.get().map(|s| s.value()),
            value_serializer: value_serializer.get().map(|s| s.value()),
        })
    }
}

/// The static, initialized from a registered `TopicDef`.
pub(crate) fn generate(topic: &Topic) -> TokenStream {
    let Topic {
        attrs,
        vis,
        ident,
        ty,
        name,
        ..
    } = topic;
    let partitions = option(topic.partitions.map(|n| {
        let n = proc_macro2::Literal::u32_suffixed(n);
        quote!(#n)
    }));
    let key_serializer = option(topic.key_serializer.as_ref().map(|s| quote!(#s)));
    let value_serializer = option(topic.value_serializer.as_ref().map(|s| quote!(#s)));
    let location = crate::func::location();
    // Spanned at the declared type, so a type that is not a `Topic<K, V>`
    // is reported there.
    let handle = quote_spanned!(ty.span()=> ::faust::__private::Topic::from_def(&DEF));

    quote! {
        #(#attrs)*
        #vis static #ident: #ty = {
            static DEF: ::faust::__private::TopicDef = ::faust::__private::TopicDef {
                name: #name,
                partitions: #partitions,
                key_serializer: #key_serializer,
                value_serializer: #value_serializer,
                location: ::core::option::Option::Some(#location),
            };
            ::faust::__private::register! { topic DEF }
            #handle
        };
    }
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(args: TokenStream, item: TokenStream) -> Result<Topic, Vec<String>> {
        syn::parse2::<TopicStatic>(item)
            .and_then(|item| Topic::from_ast(args, item))
            .map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn decl() -> TokenStream {
        quote!(
            pub static ORDERS: Topic<String, Order>;
        )
    }

    #[test]
    fn the_short_and_long_name_forms_are_equal() {
        assert_eq!(topic(quote!("orders"), decl()).unwrap().name, "orders");
        assert_eq!(
            topic(quote!(name = "orders"), decl()).unwrap().name,
            "orders"
        );
    }

    #[test]
    fn options_are_read() {
        let t = topic(
            quote!(
                "orders",
                partitions = 8,
                key_serializer = "str",
                value_serializer = "msgpack"
            ),
            decl(),
        )
        .unwrap();
        assert_eq!(t.partitions, Some(8));
        assert_eq!(t.key_serializer.as_deref(), Some("str"));
        assert_eq!(t.value_serializer.as_deref(), Some("msgpack"));
    }

    #[test]
    fn a_name_is_required_and_suggested_from_the_static() {
        let e = topic(quote!(partitions = 2), decl()).unwrap_err();
        assert_eq!(
            e,
            [
                "#[topic] needs the topic's name: write `#[topic(\"orders\")]` or `#[topic(name = \"...\")]`"
            ]
        );
    }

    #[test]
    fn the_name_cannot_be_given_twice() {
        let e = topic(quote!("a", name = "b"), decl()).unwrap_err();
        assert_eq!(e, ["`name` set more than once"]);
    }

    #[test]
    fn partitions_start_at_one() {
        let e = topic(quote!("a", partitions = 0), decl()).unwrap_err();
        assert_eq!(e, ["`partitions` must be an integer >= 1, found `0`"]);
    }

    #[test]
    fn an_initializer_and_mut_are_reported() {
        let e = topic(
            quote!("a"),
            quote!(
                static mut T: Topic<u8, u8> = x();
            ),
        )
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[1].starts_with("#[topic] writes the initializer itself"));
    }

    #[test]
    fn only_a_static_is_accepted() {
        let e = topic(
            quote!("a"),
            quote!(
                fn f() {}
            ),
        )
        .unwrap_err();
        assert!(e[0].starts_with("#[topic] goes on a declaration without initializer"));
    }

    #[test]
    fn generated_code_registers_the_def() {
        let t = topic(quote!("orders", partitions = 8), decl()).unwrap();
        let code = generate(&t).to_string();
        assert!(
            code.contains("partitions : :: core :: option :: Option :: Some (8u32)"),
            "{code}"
        );
        assert!(code.contains("register ! { topic DEF }"), "{code}");
        assert!(code.contains("Topic :: from_def (& DEF)"), "{code}");
    }
}
