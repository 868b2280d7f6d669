//! What `#[topic]` and `#[table]` share: a `static` declared without an
//! initializer, the options that name what it stands for on the broker, and
//! the initializer the macro writes (a registered definition, and a handle
//! made from it).
//!
//! A declaration without initializer is not valid Rust on its own, so it is
//! parsed by hand ([`StaticDecl`]) rather than as a `syn::Item`, then
//! checked into a [`Decl`]. [`read_options`] reads the options both macros
//! accept into [`Common`] and hands every other option to the macro;
//! [`generate`] writes the static from the checked parts.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, Lit, LitStr, Token, Type, Visibility};

use crate::attr::{self, Args, KafkaName, Once, Opt};
use crate::ctxt::Ctxt;
use crate::emit;

/// The options [`read_options`] reads; each macro's own come after them.
pub(crate) const COMMON_OPTIONS: [&str; 4] =
    ["name", "partitions", "key_serializer", "value_serializer"];

/// Which macro a declaration belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[topic]`: `static NAME: Topic<K, V>;`.
    Topic,
    /// `#[table]`: `static NAME: Table<K, V>;`.
    Table,
}

impl Kind {
    /// The attribute's name: `topic`.
    fn attr(self) -> &'static str {
        match self {
            Kind::Topic => "topic",
            Kind::Table => "table",
        }
    }

    /// The handle type in `__private`: `Topic`.
    fn handle(self) -> &'static str {
        match self {
            Kind::Topic => "Topic",
            Kind::Table => "Table",
        }
    }

    /// The name's example in messages.
    fn example(self) -> &'static str {
        match self {
            Kind::Topic => "orders",
            Kind::Table => "totals",
        }
    }

    fn kafka_name(self) -> KafkaName {
        match self {
            Kind::Topic => KafkaName::Topic,
            Kind::Table => KafkaName::Table,
        }
    }
}

/// `<attrs> <vis> static NAME: TYPE;` as written, plus what must not be
/// there (`mut`, an initializer), so it can be reported.
#[derive(Debug)]
pub(crate) struct StaticDecl {
    attrs: Vec<Attribute>,
    vis: Visibility,
    mutability: Option<Token![mut]>,
    ident: Ident,
    ty: Type,
    init: Option<(Token![=], Expr)>,
}

impl StaticDecl {
    /// Parses `item` as the declaration `#[kind]` goes on. Anything else is
    /// an error showing the expected shape.
    pub(crate) fn parse(kind: Kind, item: TokenStream) -> syn::Result<StaticDecl> {
        (|input: ParseStream<'_>| StaticDecl::parse_in(kind, input)).parse2(item)
    }

    fn parse_in(kind: Kind, input: ParseStream<'_>) -> syn::Result<StaticDecl> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![static]) {
            return Err(input.error(format!(
                "#[{}] goes on a declaration without initializer: \
                 `static NAME: {}<K, V>;`",
                kind.attr(),
                kind.handle()
            )));
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
        Ok(StaticDecl {
            attrs,
            vis,
            mutability,
            ident,
            ty,
            init,
        })
    }

    /// Reports `mut` and an initializer, and keeps what is emitted.
    pub(crate) fn check(self, cx: &Ctxt, kind: Kind) -> Decl {
        let attr = kind.attr();
        if let Some(token) = &self.mutability {
            cx.error(token, format!("a #[{attr}] static cannot be `mut`"));
        }
        if let Some((eq, expr)) = &self.init {
            cx.error(
                quote!(#eq #expr),
                format!(
                    "#[{attr}] writes the initializer itself: remove `= ...` and end the \
                     declaration with `;`"
                ),
            );
        }
        Decl {
            kind,
            attrs: self.attrs,
            vis: self.vis,
            ident: self.ident,
            ty: self.ty,
        }
    }
}

/// A checked declaration: what is emitted as written.
#[derive(Debug)]
pub(crate) struct Decl {
    /// Which macro it belongs to.
    pub(crate) kind: Kind,
    /// The static's attributes.
    pub(crate) attrs: Vec<Attribute>,
    /// The static's visibility.
    pub(crate) vis: Visibility,
    /// The static's name.
    pub(crate) ident: Ident,
    /// The static's type (a `Topic<K, V>` or `Table<K, V>`; the type
    /// checker says if not).
    pub(crate) ty: Type,
}

/// The options every declaration has, checked.
#[derive(Debug, Default)]
pub(crate) struct Common {
    /// The name on the broker (valid for Kafka).
    pub(crate) name: String,
    /// Partition count, >= 1.
    pub(crate) partitions: Option<u32>,
    /// Key codec name.
    pub(crate) key_serializer: Option<String>,
    /// Value codec name.
    pub(crate) value_serializer: Option<String>,
}

/// Reads the short form (`#[topic("orders")]`) and the options in
/// [`COMMON_OPTIONS`], reporting a missing name. Every other option goes to
/// `other`, which returns whether it knows it; an option nobody knows is
/// reported against `options` (all the macro accepts).
///
/// The result is meaningful only when `cx` ends up without errors.
pub(crate) fn read_options(
    cx: &Ctxt,
    decl: &Decl,
    args: &Args,
    options: &[&str],
    mut other: impl FnMut(&Opt) -> bool,
) -> Common {
    let kind = decl.kind;
    let attr = kind.attr();
    let mut name: Once<LitStr> = Once::new("name");
    for lit in &args.positional {
        match lit {
            Lit::Str(s) => {
                let valid = attr::check_kafka_name(cx, kind.kafka_name(), s);
                let key = Ident::new("name", s.span());
                name.set(cx, &key, valid.then(|| s.clone()));
            }
            other => cx.error(
                other,
                format!(
                    "the {attr} name must be a string, e.g. `#[{attr}(\"{}\")]`, found `{}`",
                    kind.example(),
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
            "name" => name.set(cx, key, opt.kafka_name(cx, kind.kafka_name())),
            "partitions" => partitions.set(cx, key, opt.int::<u32>(cx, 1)),
            "key_serializer" => key_serializer.set(
                cx,
                key,
                opt.non_empty_string(cx, "key_serializer = \"str\""),
            ),
            "value_serializer" => value_serializer.set(
                cx,
                key,
                opt.non_empty_string(cx, "value_serializer = \"json\""),
            ),
            _ if other(opt) => {}
            _ => misspelt.extend(attr::unknown_option(
                cx,
                &format!("#[{attr}] option"),
                key,
                options,
            )),
        }
    }
    if name.key().is_none() && !misspelt.contains(&"name") {
        cx.error_at(
            crate::func::attribute_span(),
            format!(
                "#[{attr}] needs the {attr}'s name: write `#[{attr}(\"{}\")]` or \
                 `#[{attr}(name = \"...\")]`",
                decl.ident.to_string().to_lowercase().replace('_', "-")
            ),
        );
    }
    Common {
        name: name.get().map(|n| n.value()).unwrap_or_default(),
        partitions: partitions.get(),
        key_serializer: key_serializer.get().map(|s| s.value()),
        value_serializer: value_serializer.get().map(|s| s.value()),
    }
}

/// The static, initialized from a registered definition:
///
/// ```text
/// <attrs> <vis> static NAME: TYPE = {
///     static DEF: KindDef = KindDef { <common fields>, <fields>, location };
///     register! { kind DEF }
///     Kind::from_def(&DEF)
/// };
/// ```
///
/// `fields` are the definition's fields beyond the common ones, each
/// followed by a comma.
/// The static with its definition and registration. `fields` go into the
/// definition's initializer; `items` (statics, functions the fields name)
/// into the block beside it.
pub(crate) fn generate(
    decl: &Decl,
    common: &Common,
    fields: TokenStream,
    items: TokenStream,
) -> TokenStream {
    let Decl {
        kind,
        attrs,
        vis,
        ident,
        ty,
    } = decl;
    let Common {
        name,
        partitions,
        key_serializer,
        value_serializer,
    } = common;
    let register = format_ident!("{}", kind.attr());
    let handle = format_ident!("{}", kind.handle());
    let def = format_ident!("{}Def", kind.handle());
    let partitions = emit::option(partitions.map(proc_macro2::Literal::u32_suffixed));
    let key_serializer = emit::option(key_serializer.as_ref());
    let value_serializer = emit::option(value_serializer.as_ref());
    let location = emit::location();
    // Spanned at the declared type, so a type that is not the handle (or
    // whose key or value is not a payload) is reported there.
    let handle = match kind {
        // Tables come in several kinds: the declared type builds itself.
        Kind::Table => quote_spanned!(ty.span()=> <#ty>::from_def(&DEF)),
        _ => quote_spanned!(ty.span()=> ::faust::__private::#handle::from_def(&DEF)),
    };

    quote! {
        #(#attrs)*
        #vis static #ident: #ty = {
            #items
            static DEF: ::faust::__private::#def = ::faust::__private::#def {
                name: #name,
                partitions: #partitions,
                key_serializer: #key_serializer,
                value_serializer: #value_serializer,
                #fields
                location: ::core::option::Option::Some(#location),
            };
            ::faust::__private::register! { #register DEF }
            #handle
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(kind: Kind, item: TokenStream) -> Result<Decl, Vec<String>> {
        let cx = Ctxt::new();
        let decl = StaticDecl::parse(kind, item).map(|d| d.check(&cx, kind));
        let checked = cx.check().map_err(|e| e.into_iter().map(|e| e.to_string()));
        match (decl, checked) {
            (Ok(decl), Ok(())) => Ok(decl),
            (Err(e), _) => Err(e.into_iter().map(|e| e.to_string()).collect()),
            (_, Err(e)) => Err(e.collect()),
        }
    }

    #[test]
    fn a_declaration_keeps_its_attributes_visibility_name_and_type() {
        let d = decl(
            Kind::Table,
            quote!(
                #[allow(dead_code)]
                pub(crate) static TOTALS: Table<String, u64>;
            ),
        )
        .unwrap();
        assert_eq!(d.attrs.len(), 1);
        assert_eq!(d.vis.to_token_stream().to_string(), "pub (crate)");
        assert_eq!(d.ident, "TOTALS");
        assert_eq!(d.ty.to_token_stream().to_string(), "Table < String , u64 >");
    }

    #[test]
    fn mut_and_an_initializer_are_both_reported_for_the_right_macro() {
        let e = decl(
            Kind::Table,
            quote!(
                static mut T: Table<u8, u8> = x();
            ),
        )
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0], "a #[table] static cannot be `mut`");
        assert!(e[1].starts_with("#[table] writes the initializer itself"));
    }

    #[test]
    fn another_item_shows_the_expected_declaration() {
        let e = decl(
            Kind::Table,
            quote!(
                fn f() {}
            ),
        )
        .unwrap_err();
        assert_eq!(
            e,
            ["#[table] goes on a declaration without initializer: `static NAME: Table<K, V>;`"]
        );
    }
}
