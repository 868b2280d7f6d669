//! `#[topic]`: declares and registers a `static NAME: Topic<K, V>;`.
//!
//! The declaration and the options are shared with `#[table]` (see
//! [`crate::decl`]); a topic has no options of its own. The macro writes
//! the initializer: a registered `TopicDef` and `Topic::from_def`. Without
//! a valid declaration there is nothing to emit but the errors.

use proc_macro2::TokenStream;

use crate::attr::Args;
use crate::ctxt::Ctxt;
use crate::decl::{self, COMMON_OPTIONS, Common, Decl, Kind, StaticDecl};

/// Expands `#[topic(args)] item`. On any error, emits only the errors: a
/// static without its initializer cannot be emitted.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let topic = StaticDecl::parse(Kind::Topic, item).and_then(|item| Topic::from_ast(args, item));
    match topic {
        Ok(topic) => generate(&topic),
        Err(error) => error.into_compile_error(),
    }
}

/// A checked `#[topic]`.
#[derive(Debug)]
pub(crate) struct Topic {
    /// The static, emitted as written.
    pub(crate) decl: Decl,
    /// Name, partitions and codecs.
    pub(crate) common: Common,
}

impl Topic {
    /// Parses and checks the options and the declaration, reporting every
    /// mistake at once.
    pub(crate) fn from_ast(args: TokenStream, item: StaticDecl) -> syn::Result<Topic> {
        let cx = Ctxt::new();
        let decl = item.check(&cx, Kind::Topic);
        let args = Args::parse_or_report(&cx, args);
        let common = decl::read_options(&cx, &decl, &args, &COMMON_OPTIONS, |_| false);
        cx.check()?;
        Ok(Topic { decl, common })
    }
}

/// The static, initialized from a registered `TopicDef`.
pub(crate) fn generate(topic: &Topic) -> TokenStream {
    decl::generate(
        &topic.decl,
        &topic.common,
        TokenStream::new(),
        TokenStream::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn topic(args: TokenStream, item: TokenStream) -> Result<Topic, Vec<String>> {
        StaticDecl::parse(Kind::Topic, item)
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
        assert_eq!(
            topic(quote!("orders"), decl()).unwrap().common.name,
            "orders"
        );
        assert_eq!(
            topic(quote!(name = "orders"), decl()).unwrap().common.name,
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
        assert_eq!(t.common.partitions, Some(8));
        assert_eq!(t.common.key_serializer.as_deref(), Some("str"));
        assert_eq!(t.common.value_serializer.as_deref(), Some("msgpack"));
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
