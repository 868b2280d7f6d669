//! `#[record]`: a struct that can be a key or value on a topic, like a
//! Python Faust `Record`.
//!
//! [`Record::from_ast`] checks the struct and reads the container options
//! and each field's `#[validate(...)]` rules into a [`Record`];
//! [`generate`] derives serde's traits (through the facade's serde) and
//! implements `Payload`, with a `validate` method when asked for and,
//! always, a `SCHEMA` constant describing the fields (names, Rust types,
//! doc comments, rules) for the command line's `model`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Field, Fields, Ident, Item, ItemStruct, Lit, Path, Token, Type};

use crate::attr::{self, Args, Once};
use crate::ctxt::Ctxt;
use crate::emit;

/// Every option `#[record]` accepts.
const OPTIONS: &[&str] = &["serializer", "validate", "namespace", "timestamp"];

/// The codecs a record may default to.
const SERIALIZERS: &[&str] = &["json", "msgpack", "raw", "str"];

/// Every rule `#[validate]` accepts.
const RULES: &[&str] = &["range", "length", "pattern", "custom", "nested"];

/// Expands `#[record(args)] item`. On any error, emits the struct (without
/// its `#[validate]` attributes) beside the errors.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = match parse_struct(item.clone()) {
        Ok(item) => item,
        Err(error) => return with_errors(item, error),
    };
    let stripped = strip_validate_attrs(item.clone());
    match Record::from_ast(args, item) {
        Ok(record) => generate(&record),
        Err(error) => with_errors(stripped.into_token_stream(), error),
    }
}

/// A checked `#[record]`.
#[derive(Debug)]
pub(crate) struct Record {
    /// The struct, without its `#[validate]` attributes.
    pub(crate) item: ItemStruct,
    /// The default codec: one of [`SERIALIZERS`].
    pub(crate) serializer: String,
    /// Python Faust's `__faust.ns`.
    pub(crate) namespace: Option<String>,
    /// `Some` with `#[record(validate)]`: the rules, in field order.
    pub(crate) validation: Option<Vec<FieldRule>>,
    /// The field holding the event's time (`timestamp = "created_at"`).
    pub(crate) timestamp: Option<Ident>,
}

/// One rule on one field.
#[derive(Debug)]
pub(crate) struct FieldRule {
    /// The field.
    pub(crate) member: Ident,
    /// The field's name in failure paths.
    pub(crate) name: String,
    /// Where errors about the rule point (its key in `#[validate]`).
    pub(crate) span: Span,
    /// The rule.
    pub(crate) rule: Rule,
}

/// A `#[validate]` rule.
#[derive(Debug)]
pub(crate) enum Rule {
    /// `range(min = LIT, max = LIT)`, at least one bound.
    Range {
        /// Lower bound, as a literal expression.
        min: Option<TokenStream>,
        /// Upper bound, as a literal expression.
        max: Option<TokenStream>,
    },
    /// `length(min = N, max = N)`, at least one bound.
    Length {
        /// Minimum length.
        min: Option<usize>,
        /// Maximum length.
        max: Option<usize>,
    },
    /// `pattern = "regex"`, a valid regex.
    Pattern(String),
    /// `custom = path::to::fn`.
    Custom(Path),
    /// `nested`: the field is a record (or `Option`/`Vec` of one).
    Nested,
}

impl Record {
    /// Parses and checks the options, the struct and its field rules,
    /// reporting every mistake at once.
    pub(crate) fn from_ast(args: TokenStream, item: ItemStruct) -> syn::Result<Record> {
        let cx = Ctxt::new();
        check_shape(&cx, &item);
        check_derives(&cx, &item.attrs);

        let args = Args::parse_or_report(&cx, args);
        args.reject_positional(&cx, "record", "serializer");
        let mut serializer = Once::new("serializer");
        let mut validate = Once::new("validate");
        let mut namespace = Once::new("namespace");
        let mut timestamp = Once::new("timestamp");
        for opt in &args.options {
            let key = &opt.key;
            match opt.name().as_str() {
                "serializer" => serializer.set(&cx, key, read_serializer(&cx, opt)),
                "validate" => validate.set(&cx, key, opt.flag(&cx)),
                "namespace" => namespace.set(
                    &cx,
                    key,
                    opt.non_empty_string(&cx, "namespace = \"myapp.models.Order\""),
                ),
                "timestamp" => timestamp.set(&cx, key, read_timestamp(&cx, opt, &item)),
                _ => {
                    attr::unknown_option(&cx, "#[record] option", key, OPTIONS);
                }
            }
        }
        // A `validate` flag written but invalid still counts as on: the
        // rules are then checked rather than rejected.
        let validating = validate.key().is_some() && validate.value() != Some(&false);

        let mut rules = Vec::new();
        if let Fields::Named(fields) = &item.fields {
            for field in &fields.named {
                rules.extend(read_field_rules(&cx, field, validating));
            }
        }

        cx.check()?;

        Ok(Record {
            item: strip_validate_attrs(item),
            serializer: serializer.get().unwrap_or_else(|| "json".to_owned()),
            namespace: namespace.get().map(|n| n.value()),
            validation: validating.then_some(rules),
            timestamp: timestamp.get(),
        })
    }
}

/// `timestamp = "field"`: a named field of the struct.
fn read_timestamp(cx: &Ctxt, opt: &attr::Opt, item: &ItemStruct) -> Option<Ident> {
    let name = opt.non_empty_string(cx, "timestamp = \"created_at\"")?;
    let Fields::Named(fields) = &item.fields else {
        return None;
    };
    let found = fields
        .named
        .iter()
        .filter_map(|f| f.ident.as_ref())
        .find(|ident| ident.unraw() == name.value());
    match found {
        Some(ident) => Some(ident.clone()),
        None => {
            let names: Vec<String> = fields
                .named
                .iter()
                .filter_map(|f| f.ident.as_ref().map(|i| i.unraw().to_string()))
                .collect();
            cx.error(
                &name,
                format!(
                    "`{}` has no field `{}`; the timestamp is one of its fields: {}",
                    item.ident,
                    name.value(),
                    names.join(", ")
                ),
            );
            None
        }
    }
}

/// Reads `item` as a struct; an enum, union or other item is an error.
fn parse_struct(item: TokenStream) -> syn::Result<ItemStruct> {
    let (at, what): (TokenStream, String) = match syn::parse2::<Item>(item)? {
        Item::Struct(s) => return Ok(s),
        Item::Enum(e) => {
            let (token, ident) = (&e.enum_token, &e.ident);
            (quote!(#token #ident), format!("`{ident}` is an enum"))
        }
        Item::Union(u) => {
            let (token, ident) = (&u.union_token, &u.ident);
            (quote!(#token #ident), format!("`{ident}` is a union"))
        }
        other => (other.to_token_stream(), "this is not a struct".to_owned()),
    };
    Err(syn::Error::new_spanned(
        at,
        format!("#[record] supports structs with named fields; {what}"),
    ))
}

/// Named fields only, no generics.
fn check_shape(cx: &Ctxt, item: &ItemStruct) {
    let ident = &item.ident;
    match &item.fields {
        Fields::Named(_) => {}
        Fields::Unnamed(fields) => cx.error(
            fields,
            format!(
                "#[record] supports structs with named fields; `{ident}` is a tuple struct \
                 (write `struct {ident} {{ name: Type, .. }}`, or use `faust::Json<T>` for a \
                 plain serde type)"
            ),
        ),
        Fields::Unit => cx.error(
            ident,
            format!("#[record] supports structs with named fields; `{ident}` is a unit struct"),
        ),
    }
    if !item.generics.params.is_empty() {
        cx.error(
            &item.generics,
            format!(
                "#[record] does not support generic structs yet; make `{ident}` concrete, or \
                 use `faust::Json<T>` for a generic serde type"
            ),
        );
    } else if let Some(clause) = &item.generics.where_clause {
        cx.error(clause, "#[record] does not support `where` clauses");
    }
}

/// `#[record]` derives `Serialize` and `Deserialize` itself; deriving them
/// again would conflict.
fn check_derives(cx: &Ctxt, attrs: &[Attribute]) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        else {
            continue;
        };
        for path in paths {
            if let Some(last) = path.segments.last()
                && (last.ident == "Serialize" || last.ident == "Deserialize")
            {
                cx.error(
                    &path,
                    format!(
                        "#[record] derives `{}` itself; remove it from this #[derive]",
                        last.ident
                    ),
                );
            }
        }
    }
}

fn read_serializer(cx: &Ctxt, opt: &attr::Opt) -> Option<String> {
    let value = opt.one_of(
        cx,
        "serializer",
        SERIALIZERS,
        " (custom codecs are chosen per topic with `value_serializer`)",
    )?;
    Some(value.value())
}

/// The rules of one field's `#[validate(...)]` attributes.
fn read_field_rules(cx: &Ctxt, field: &Field, validating: bool) -> Vec<FieldRule> {
    let Some(member) = &field.ident else {
        return Vec::new();
    };
    let name = member.unraw().to_string();
    let float = is_float(&field.ty);
    let mut range = Once::new("range");
    let mut length = Once::new("length");
    let mut pattern = Once::new("pattern");
    let mut custom = Once::new("custom");
    let mut nested = Once::new("nested");
    let mut rules = Vec::new();
    for attr in field.attrs.iter().filter(|a| is_validate(a)) {
        if !validating {
            cx.error(
                attr,
                "#[validate] on a field needs #[record(validate)] on the struct",
            );
        }
        let tokens = match &attr.meta {
            syn::Meta::List(list) if !list.tokens.is_empty() => list.tokens.clone(),
            _ => {
                cx.error(
                    attr,
                    "#[validate] needs at least one rule, e.g. `#[validate(length(min = 1))]`",
                );
                continue;
            }
        };
        let args = Args::parse_or_report(cx, tokens);
        for lit in &args.positional {
            cx.error(
                lit,
                "#[validate] rules are written `rule(...)` or `rule = value`, e.g. \
                 `#[validate(pattern = \"^[A-Z]+$\")]`",
            );
        }
        for opt in &args.options {
            let key = &opt.key;
            let rule = match opt.name().as_str() {
                "range" => {
                    let rule = read_range(cx, opt, float);
                    range.set(cx, key, rule.as_ref().map(|_| ()));
                    rule
                }
                "length" => {
                    let rule = read_length(cx, opt);
                    length.set(cx, key, rule.as_ref().map(|_| ()));
                    rule
                }
                "pattern" => {
                    let rule = read_pattern(cx, opt);
                    pattern.set(cx, key, rule.as_ref().map(|_| ()));
                    rule
                }
                "custom" => {
                    let rule = opt.path(cx, "custom = path::to::check").map(Rule::Custom);
                    custom.set(cx, key, rule.as_ref().map(|_| ()));
                    rule
                }
                "nested" => {
                    let rule = opt.bare_flag(cx).then_some(Rule::Nested);
                    nested.set(cx, key, rule.as_ref().map(|_| ()));
                    rule
                }
                _ => {
                    attr::unknown_option(cx, "#[validate] rule", key, RULES);
                    None
                }
            };
            rules.extend(rule.map(|rule| FieldRule {
                member: member.clone(),
                name: name.clone(),
                span: key.span(),
                rule,
            }));
        }
    }
    rules
}

/// `range(min = LIT, max = LIT)`.
fn read_range(cx: &Ctxt, opt: &attr::Opt, float: bool) -> Option<Rule> {
    let args = opt.nested(cx, "range(min = 0, max = 100)")?;
    let mut min = Once::new("min");
    let mut max = Once::new("max");
    let mut misspelt = Vec::new();
    for inner in &args.options {
        let key = &inner.key;
        let bound = || read_bound(cx, inner, float);
        match inner.name().as_str() {
            "min" => min.set(cx, key, bound()),
            "max" => max.set(cx, key, bound()),
            _ => misspelt.extend(attr::unknown_option(
                cx,
                "`range` option",
                key,
                &["min", "max"],
            )),
        }
    }
    if min.key().is_none() && max.key().is_none() && misspelt.is_empty() {
        cx.error(
            &opt.key,
            "`range` needs `min`, `max` or both, e.g. `range(min = 0, max = 100)`",
        );
        return None;
    }
    if let (Some((_, Some(lo))), Some((_, Some(hi))), Some(at)) =
        (min.value(), max.value(), max.key())
        && lo > hi
    {
        cx.error(
            at,
            format!("`range` min {lo} is greater than max {hi}: no value can pass"),
        );
        return None;
    }
    let (min, max) = (min.get(), max.get());
    Some(Rule::Range {
        min: min.map(|(tokens, _)| tokens),
        max: max.map(|(tokens, _)| tokens),
    })
}

/// A numeric literal bound, optionally negative: its tokens (an integer
/// written as a float when the field is a float) and its value for the
/// min <= max check.
fn read_bound(cx: &Ctxt, opt: &attr::Opt, float: bool) -> Option<(TokenStream, Option<f64>)> {
    let Some(expr) = value_of(opt) else {
        cx.error(
            &opt.key,
            format!("`{}` needs a value: write `{} = 0`", opt.key, opt.key),
        );
        return None;
    };
    let (negative, lit) = match expr {
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => (true, attr::lit(&u.expr)),
        other => (false, attr::lit(other)),
    };
    let sign = if negative { quote!(-) } else { quote!() };
    let (tokens, value) = match lit {
        Some(Lit::Int(int)) if float && int.suffix().is_empty() => {
            let as_float = syn::LitFloat::new(&format!("{}.0", int.base10_digits()), int.span());
            (quote!(#sign #as_float), int.base10_parse::<f64>().ok())
        }
        Some(Lit::Int(int)) => (quote!(#sign #int), int.base10_parse::<f64>().ok()),
        Some(Lit::Float(f)) => (quote!(#sign #f), f.base10_parse::<f64>().ok()),
        _ => {
            cx.error(
                expr,
                format!(
                    "`{}` must be a number, found `{}`",
                    opt.key,
                    attr::show(expr)
                ),
            );
            return None;
        }
    };
    let value = value.map(|v| if negative { -v } else { v });
    Some((tokens, value))
}

/// `length(min = N, max = N)`.
fn read_length(cx: &Ctxt, opt: &attr::Opt) -> Option<Rule> {
    let args = opt.nested(cx, "length(min = 1, max = 64)")?;
    let mut min = Once::new("min");
    let mut max = Once::new("max");
    let mut misspelt = Vec::new();
    for inner in &args.options {
        let key = &inner.key;
        match inner.name().as_str() {
            "min" => min.set(cx, key, inner.int::<usize>(cx, 0)),
            "max" => max.set(cx, key, inner.int::<usize>(cx, 0)),
            _ => misspelt.extend(attr::unknown_option(
                cx,
                "`length` option",
                key,
                &["min", "max"],
            )),
        }
    }
    if min.key().is_none() && max.key().is_none() && misspelt.is_empty() {
        cx.error(
            &opt.key,
            "`length` needs `min`, `max` or both, e.g. `length(min = 1, max = 64)`",
        );
        return None;
    }
    if let (Some(lo), Some(hi), Some(at)) = (min.value(), max.value(), max.key())
        && lo > hi
    {
        cx.error(
            at,
            format!("`length` min {lo} is greater than max {hi}: no value can pass"),
        );
        return None;
    }
    Some(Rule::Length {
        min: min.get(),
        max: max.get(),
    })
}

/// `pattern = "regex"`, checked with regex-syntax now rather than at the
/// first message.
fn read_pattern(cx: &Ctxt, opt: &attr::Opt) -> Option<Rule> {
    let pattern = opt.string(cx, "pattern = \"^[A-Z]+$\"")?;
    match regex_syntax::Parser::new().parse(&pattern.value()) {
        Ok(_) => Some(Rule::Pattern(pattern.value())),
        Err(error) => {
            cx.error(&pattern, format!("invalid regex in `pattern`: {error}"));
            None
        }
    }
}

fn value_of(opt: &attr::Opt) -> Option<&Expr> {
    match &opt.value {
        attr::Value::Assign(expr) => Some(expr),
        _ => None,
    }
}

fn is_validate(attr: &Attribute) -> bool {
    attr.path().is_ident("validate")
}

/// `f32`, `f64`, or an `Option` of one.
fn is_float(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    if last.ident == "f32" || last.ident == "f64" {
        return true;
    }
    if last.ident == "Option"
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
    {
        return is_float(inner);
    }
    false
}

fn strip_validate_attrs(mut item: ItemStruct) -> ItemStruct {
    for field in item.fields.iter_mut() {
        field.attrs.retain(|a| !is_validate(a));
    }
    item
}

/// The serde derives, the struct and its `Payload` impl.
pub(crate) fn generate(record: &Record) -> TokenStream {
    let item = &record.item;
    let ident = &item.ident;
    let codec = &record.serializer;
    let namespace = match &record.namespace {
        Some(ns) => quote!(::core::option::Option::Some(#ns)),
        None => quote!(::core::option::Option::None),
    };
    let validate = record
        .validation
        .as_ref()
        .map(|rules| validate_fn(&ident.unraw().to_string(), rules));
    // Spanned at the field: a field of a type that is no event time is
    // reported there.
    let schema = schema_const(record);
    let event_time = record.timestamp.as_ref().map(|field| {
        let call = quote_spanned!(field.span()=>
            ::faust::__private::EventTime::event_time_ms(&self.#field));
        quote! {
            fn event_time(&self) -> ::core::option::Option<i64> {
                #call
            }
        }
    });

    quote! {
        #[derive(::faust::__private::serde::Serialize, ::faust::__private::serde::Deserialize)]
        #[serde(crate = "::faust::__private::serde")]
        #item

        impl ::faust::__private::Payload for #ident {
            const DEFAULT_CODEC: &'static str = #codec;
            const FAUST_NAMESPACE: ::core::option::Option<&'static str> = #namespace;
            #schema
            #validate
            #event_time
        }
    }
}

/// `const SCHEMA`: the record's `RecordSchema`, in a static so every use
/// shares one.
fn schema_const(record: &Record) -> TokenStream {
    let p = quote!(::faust::__private);
    let item = &record.item;
    let ident = &item.ident;
    let name = ident.unraw().to_string();
    let doc = attr::doc_text(&item.attrs);
    let serializer = &record.serializer;
    let namespace = emit::option(record.namespace.as_ref());
    let timestamp = emit::option(record.timestamp.as_ref().map(|t| t.unraw().to_string()));
    let validate = record.validation.is_some();
    let no_rules = Vec::new();
    let rules = record.validation.as_ref().unwrap_or(&no_rules);
    let fields = item.fields.iter().filter_map(|field| {
        let member = field.ident.as_ref()?;
        let field_name = member.unraw().to_string();
        let ty = attr::show_type(&field.ty);
        let field_doc = attr::doc_text(&field.attrs);
        let mine: Vec<&FieldRule> = rules.iter().filter(|r| &r.member == member).collect();
        let shown = mine.iter().map(|r| schema_rule(&r.rule));
        let nested = if mine.iter().any(|r| matches!(r.rule, Rule::Nested)) {
            quote! {
                ::core::option::Option::Some(
                    (|| #p::validate::nested_record(|r: &#ident| &r.#member))
                        as fn() -> ::core::option::Option<&'static #p::RecordSchema>
                )
            }
        } else {
            quote!(::core::option::Option::None)
        };
        Some(quote! {
            #p::FieldSchema {
                name: #field_name,
                ty: #ty,
                doc: #field_doc,
                rules: &[#(#shown),*],
                nested: #nested,
            }
        })
    });
    quote! {
        const SCHEMA: ::core::option::Option<&'static #p::RecordSchema> = {
            static RECORD_SCHEMA: #p::RecordSchema = #p::RecordSchema {
                name: #name,
                module: ::core::module_path!(),
                doc: #doc,
                serializer: #serializer,
                namespace: #namespace,
                timestamp: #timestamp,
                validate: #validate,
                fields: &[#(#fields),*],
            };
            ::core::option::Option::Some(&RECORD_SCHEMA)
        };
    }
}

/// A rule as the schema shows it: `FieldRule::Range { min: Some("0.0"), .. }`.
fn schema_rule(rule: &Rule) -> TokenStream {
    let p = quote!(::faust::__private::FieldRule);
    match rule {
        Rule::Range { min, max } => {
            let min = emit::option(min.as_ref().map(attr::show));
            let max = emit::option(max.as_ref().map(attr::show));
            quote!(#p::Range { min: #min, max: #max })
        }
        Rule::Length { min, max } => {
            let min = emit::option(min.map(proc_macro2::Literal::usize_suffixed));
            let max = emit::option(max.map(proc_macro2::Literal::usize_suffixed));
            quote!(#p::Length { min: #min, max: #max })
        }
        Rule::Pattern(pattern) => quote!(#p::Pattern(#pattern)),
        Rule::Custom(path) => {
            let shown = attr::show(path);
            quote!(#p::Custom(#shown))
        }
        Rule::Nested => quote!(#p::Nested),
    }
}

fn validate_fn(record: &str, rules: &[FieldRule]) -> TokenStream {
    // `c` and `self` keep the call-site span; each rule's call is spanned at
    // its key in `#[validate]` so a type error points at the rule.
    let c = quote!(c);
    let this = quote!(self);
    let checks = rules.iter().map(
        |FieldRule {
             member,
             name,
             span,
             rule,
         }| {
            let v = quote_spanned!(*span=> ::faust::__private::validate);
            let field = quote!(&#this.#member);
            match rule {
                Rule::Range { min, max } => {
                    let min = emit::option(min.as_ref());
                    let max = emit::option(max.as_ref());
                    quote_spanned!(*span=> #v::range(&mut #c, #name, #field, #min, #max);)
                }
                Rule::Length { min, max } => {
                    let min = emit::option(min.map(proc_macro2::Literal::usize_suffixed).as_ref());
                    let max = emit::option(max.map(proc_macro2::Literal::usize_suffixed).as_ref());
                    quote_spanned!(*span=> #v::length(&mut #c, #name, #field, #min, #max);)
                }
                Rule::Pattern(pattern) => quote_spanned! {*span=>
                    #v::pattern(&mut #c, #name, #field, {
                        static P: #v::Pattern = #v::Pattern::new(#pattern);
                        &P
                    });
                },
                Rule::Custom(path) => {
                    let shown = attr::show(path);
                    quote_spanned!(path.span()=> #v::custom(&mut #c, #name, #field, #path, #shown);)
                }
                Rule::Nested => quote_spanned!(*span=> #v::nested(&mut #c, #name, #field);),
            }
        },
    );
    let binding = if rules.is_empty() {
        quote!(let #c)
    } else {
        quote!(let mut #c)
    };
    quote! {
        fn validate(&self) -> ::core::result::Result<(), ::faust::__private::ValidationError> {
            #binding = ::faust::__private::validate::Checker::new();
            #(#checks)*
            #c.finish(#record)
        }
    }
}

fn with_errors(mut item: TokenStream, error: syn::Error) -> TokenStream {
    item.extend(error.into_compile_error());
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(args: TokenStream, item: TokenStream) -> Result<Record, Vec<String>> {
        parse_struct(item)
            .and_then(|item| Record::from_ast(args, item))
            .map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn order() -> TokenStream {
        quote! {
            struct Order {
                #[validate(range(min = 0))]
                amount: f64,
                #[validate(length(min = 1, max = 8), pattern = "^[A-Z]+$")]
                sku: String,
                #[validate(custom = checks::account)]
                account: String,
                #[validate(nested)]
                address: Option<Address>,
            }
        }
    }

    #[test]
    fn defaults_are_json_no_namespace_no_validation() {
        let r = record(
            quote!(),
            quote!(
                struct A {
                    x: u8,
                }
            ),
        )
        .unwrap();
        assert_eq!(r.serializer, "json");
        assert_eq!(r.namespace, None);
        assert!(r.validation.is_none());
        assert!(r.timestamp.is_none());
    }

    #[test]
    fn the_timestamp_names_a_field() {
        let item = || {
            quote!(
                struct View {
                    page: String,
                    at: i64,
                }
            )
        };
        let r = record(quote!(timestamp = "at"), item()).unwrap();
        assert_eq!(r.timestamp.unwrap(), "at");
        let e = record(quote!(timestamp = "when"), item()).unwrap_err();
        assert_eq!(
            e,
            ["`View` has no field `when`; the timestamp is one of its fields: page, at"]
        );
    }

    #[test]
    fn options_are_read() {
        let r = record(
            quote!(serializer = "msgpack", namespace = "app.models.A", validate),
            quote!(
                struct A {
                    x: u8,
                }
            ),
        )
        .unwrap();
        assert_eq!(r.serializer, "msgpack");
        assert_eq!(r.namespace.as_deref(), Some("app.models.A"));
        assert_eq!(r.validation.map(|v| v.len()), Some(0));
    }

    #[test]
    fn every_rule_is_read_in_field_order_and_the_attrs_are_stripped() {
        let r = record(quote!(validate), order()).unwrap();
        let rules = r.validation.as_ref().unwrap();
        let kinds: Vec<(&str, &str)> = rules
            .iter()
            .map(|r| {
                let kind = match r.rule {
                    Rule::Range { .. } => "range",
                    Rule::Length { .. } => "length",
                    Rule::Pattern(_) => "pattern",
                    Rule::Custom(_) => "custom",
                    Rule::Nested => "nested",
                };
                (r.name.as_str(), kind)
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("amount", "range"),
                ("sku", "length"),
                ("sku", "pattern"),
                ("account", "custom"),
                ("address", "nested")
            ]
        );
        assert!(r.item.fields.iter().all(|f| f.attrs.is_empty()));
    }

    #[test]
    fn an_integer_bound_on_a_float_field_becomes_a_float() {
        let r = record(quote!(validate), order()).unwrap();
        let Rule::Range { min, .. } = &r.validation.as_ref().unwrap()[0].rule else {
            panic!("expected a range");
        };
        assert_eq!(min.as_ref().unwrap().to_string(), "0.0");
    }

    #[test]
    fn validate_on_a_field_needs_the_flag() {
        let e = record(quote!(), order()).unwrap_err();
        assert_eq!(e.len(), 4);
        assert!(
            e.iter()
                .all(|m| m == "#[validate] on a field needs #[record(validate)] on the struct")
        );
    }

    #[test]
    fn non_structs_and_tuple_structs_are_named() {
        let e = record(
            quote!(),
            quote!(
                enum Foo {
                    A,
                }
            ),
        )
        .unwrap_err();
        assert_eq!(
            e,
            ["#[record] supports structs with named fields; `Foo` is an enum"]
        );
        let e = record(
            quote!(),
            quote!(
                struct Foo(u8);
            ),
        )
        .unwrap_err();
        assert!(e[0].contains("`Foo` is a tuple struct"), "{e:?}");
        let e = record(
            quote!(),
            quote!(
                struct Foo;
            ),
        )
        .unwrap_err();
        assert!(e[0].contains("`Foo` is a unit struct"), "{e:?}");
        let e = record(
            quote!(),
            quote!(
                struct Foo<T> {
                    t: T,
                }
            ),
        )
        .unwrap_err();
        assert!(
            e[0].starts_with("#[record] does not support generic structs"),
            "{e:?}"
        );
    }

    #[test]
    fn a_bad_regex_reports_regex_syntax_message() {
        let e = record(
            quote!(validate),
            quote!(
                struct A {
                    #[validate(pattern = "[a-")]
                    s: String,
                }
            ),
        )
        .unwrap_err();
        assert!(
            e[0].starts_with("invalid regex in `pattern`: regex parse error"),
            "{e:?}"
        );
        assert!(e[0].contains("unclosed character class"), "{e:?}");
    }

    #[test]
    fn rule_mistakes_are_reported() {
        let e = |field: TokenStream| {
            record(quote!(validate), quote!(struct A { #field x: u32 })).unwrap_err()
        };
        assert!(
            e(quote!(#[validate(lenght(min = 1))]))[0]
                .starts_with("unknown #[validate] rule `lenght`")
        );
        assert!(
            e(quote!(#[validate(range())]))[0].starts_with("`range` needs `min`, `max` or both")
        );
        assert_eq!(
            e(quote!(#[validate(range(min = 10, max = 5))])),
            ["`range` min 10 is greater than max 5: no value can pass"]
        );
        assert_eq!(
            e(quote!(#[validate(range(min = "a"))])),
            ["`min` must be a number, found `\"a\"`"]
        );
        assert!(e(quote!(#[validate]))[0].starts_with("#[validate] needs at least one rule"));
        assert_eq!(
            e(quote!(#[validate(nested = true)])),
            ["`nested` takes no value: write `nested` alone"]
        );
        assert_eq!(
            e(quote!(#[validate(range(min = 1), range(max = 2))])),
            ["`range` set more than once"]
        );
    }

    #[test]
    fn negative_bounds_are_kept() {
        let r = record(
            quote!(validate),
            quote!(
                struct A {
                    #[validate(range(min = -5, max = -1))]
                    x: i32,
                }
            ),
        )
        .unwrap();
        let Rule::Range { min, .. } = &r.validation.as_ref().unwrap()[0].rule else {
            panic!("expected a range");
        };
        assert_eq!(min.as_ref().unwrap().to_string(), "- 5");
    }

    #[test]
    fn an_unknown_serializer_lists_the_known_ones() {
        let e = record(
            quote!(serializer = "yaml"),
            quote!(
                struct A {
                    x: u8,
                }
            ),
        )
        .unwrap_err();
        assert!(
            e[0].starts_with(
                "unknown serializer \"yaml\"; expected one of: json, msgpack, raw, str"
            )
        );
    }

    #[test]
    fn deriving_serde_again_is_an_error() {
        let e = record(
            quote!(),
            quote!(
                #[derive(Debug, serde::Serialize)]
                struct A {
                    x: u8,
                }
            ),
        )
        .unwrap_err();
        assert_eq!(
            e,
            ["#[record] derives `Serialize` itself; remove it from this #[derive]"]
        );
    }

    #[test]
    fn generated_code_carries_the_schema_of_every_field() {
        let r = record(quote!(validate, timestamp = "at"), {
            quote! {
                /// An order.
                struct Order {
                    /// What it costs.
                    #[validate(range(min = -5))]
                    amount: f64,
                    #[validate(length(min = 1, max = 8), pattern = "^[A-Z]+$")]
                    sku: Vec<(String, u8)>,
                    #[validate(custom = checks::account)]
                    account: String,
                    #[validate(nested)]
                    address: Option<Address>,
                    at: i64,
                }
            }
        })
        .unwrap();
        let code = generate(&r).to_string();
        for expect in [
            "const SCHEMA : :: core :: option :: Option < & 'static :: faust :: __private :: RecordSchema >",
            "name : \"Order\" , module : :: core :: module_path ! () , doc : \"An order.\"",
            "timestamp : :: core :: option :: Option :: Some (\"at\") , validate : true",
            "name : \"amount\" , ty : \"f64\" , doc : \"What it costs.\"",
            "FieldRule :: Range { min : :: core :: option :: Option :: Some (\"-5.0\")",
            "ty : \"Vec<(String, u8)>\"",
            "FieldRule :: Length { min : :: core :: option :: Option :: Some (1usize) , max : :: core :: option :: Option :: Some (8usize) }",
            "FieldRule :: Pattern (\"^[A-Z]+$\")",
            "FieldRule :: Custom (\"checks::account\")",
            "validate :: nested_record (| r : & Order | & r . address)",
            "name : \"at\" , ty : \"i64\" , doc : \"\" , rules : & [] , nested : :: core :: option :: Option :: None",
        ] {
            assert!(code.contains(expect), "no `{expect}` in {code}");
        }
    }

    #[test]
    fn a_record_without_validation_has_a_schema_without_rules() {
        let r = record(
            quote!(),
            quote!(
                struct A {
                    x: u8,
                }
            ),
        )
        .unwrap();
        let code = generate(&r).to_string();
        assert!(code.contains("validate : false"), "{code}");
        assert!(
            code.contains("name : \"x\" , ty : \"u8\" , doc : \"\" , rules : & []"),
            "{code}"
        );
    }

    #[test]
    fn generated_code_implements_payload_and_validate() {
        let r = record(quote!(validate, namespace = "a.B"), order()).unwrap();
        let code = generate(&r).to_string();
        assert!(
            code.contains("const DEFAULT_CODEC : & 'static str = \"json\""),
            "{code}"
        );
        assert!(code.contains("Option :: Some (\"a.B\")"), "{code}");
        assert!(
            code.contains("range (& mut c , \"amount\" , & self . amount"),
            "{code}"
        );
        assert!(code.contains("Pattern :: new (\"^[A-Z]+$\")"), "{code}");
        assert!(
            code.contains("checks :: account , \"checks::account\""),
            "{code}"
        );
        assert!(code.contains("c . finish (\"Order\")"), "{code}");
        assert!(!code.contains("# [validate"), "{code}");
    }
}
