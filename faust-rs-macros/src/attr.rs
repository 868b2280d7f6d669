//! The option syntax shared by every faust attribute, and the typed readers
//! that turn one option into what a model needs.
//!
//! An attribute's arguments are a comma-separated list of `key = value`,
//! `key(...)` and bare `flag` items, plus leading literals for the short
//! forms (`#[topic("orders")]`). [`Args`] only knows that syntax; each macro
//! matches the keys it accepts and reads every value with one of the
//! [`Opt`] readers below, which report a spanned error into the [`Ctxt`]
//! (naming the option, what it expects and what was found) and return `None`
//! so parsing can go on and report the next mistake too.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, Lit, LitStr, Token};

use crate::ctxt::Ctxt;

/// The arguments of one attribute, as written.
#[derive(Default)]
pub(crate) struct Args {
    /// Literals written without a key, in order.
    pub(crate) positional: Vec<Lit>,
    /// `key = value`, `key(...)` and `flag` items, in order.
    pub(crate) options: Vec<Opt>,
}

/// One `key ...` item of an attribute.
pub(crate) struct Opt {
    /// The key, as written (its span is where most errors point).
    pub(crate) key: Ident,
    /// What follows the key.
    pub(crate) value: Value,
}

/// What follows an option's key.
pub(crate) enum Value {
    /// Nothing: `validate`, `on_leader`.
    Flag,
    /// `= expr`.
    Assign(Expr),
    /// `(tokens)`: nested options such as `range(min = 0)`.
    List(syn::token::Paren, TokenStream),
}

impl Args {
    /// Parses `tokens` (the inside of an attribute's parentheses), recording
    /// a syntax error in `cx` and returning no options when they don't parse.
    pub(crate) fn parse_or_report(cx: &Ctxt, tokens: TokenStream) -> Args {
        match syn::parse2::<Args>(tokens) {
            Ok(args) => args,
            Err(error) => {
                cx.syn_error(error);
                Args::default()
            }
        }
    }

    /// Reports every positional literal: `attr` takes only `key = value`
    /// items. `hint` is the option a lone literal most likely meant.
    pub(crate) fn reject_positional(&self, cx: &Ctxt, attr: &str, hint: &str) {
        for lit in &self.positional {
            let lit = lit.to_token_stream();
            cx.error(
                &lit,
                format!("#[{attr}] options are written `key = value`; write `{hint} = {lit}`"),
            );
        }
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            if input.peek(Lit) {
                args.positional.push(input.parse()?);
            } else {
                // `parse_any` so that keywords (`type`, `crate`) reach the
                // "unknown option" message instead of a bare syntax error.
                let key = Ident::parse_any(input)
                    .map_err(|e| syn::Error::new(e.span(), "expected an option name"))?;
                let value = if input.peek(Token![=]) {
                    input.parse::<Token![=]>()?;
                    Value::Assign(input.parse()?)
                } else if input.peek(syn::token::Paren) {
                    let content;
                    let paren = syn::parenthesized!(content in input);
                    Value::List(paren, content.parse()?)
                } else {
                    Value::Flag
                };
                args.options.push(Opt { key, value });
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

impl Opt {
    /// The key as a plain string (`r#type` is `type`).
    pub(crate) fn name(&self) -> String {
        self.key.unraw().to_string()
    }

    /// A string literal: `name = "orders"`.
    pub(crate) fn string(&self, cx: &Ctxt, example: &str) -> Option<LitStr> {
        let expr = self.assigned(cx, example)?;
        match lit(expr) {
            Some(Lit::Str(s)) => Some(s.clone()),
            _ => self.mismatch(cx, expr, &format!("a string, e.g. `{example}`")),
        }
    }

    /// A string literal that is not empty.
    pub(crate) fn non_empty_string(&self, cx: &Ctxt, example: &str) -> Option<LitStr> {
        let s = self.string(cx, example)?;
        if s.value().is_empty() {
            cx.error(
                &s,
                format!("`{}` cannot be empty, e.g. `{example}`", self.key),
            );
            return None;
        }
        Some(s)
    }

    /// A string literal that is a valid Kafka topic name (for a table, the
    /// name its changelog topic is made from).
    pub(crate) fn kafka_name(&self, cx: &Ctxt, what: KafkaName) -> Option<LitStr> {
        let example = format!("{} = \"orders\"", self.key);
        let s = self.string(cx, &example)?;
        check_kafka_name(cx, what, &s).then_some(s)
    }

    /// A string literal that is one of `choices`: `store = "rocksdb"`. An
    /// unknown one is reported as an unknown `what` (`"store"`), listing the
    /// choices, followed by `note` (empty, or `" (...)"`).
    pub(crate) fn one_of(
        &self,
        cx: &Ctxt,
        what: &str,
        choices: &[&str],
        note: &str,
    ) -> Option<LitStr> {
        let example = format!("{} = \"{}\"", self.key, choices.first().unwrap_or(&"..."));
        let s = self.string(cx, &example)?;
        if choices.contains(&s.value().as_str()) {
            return Some(s);
        }
        let expected = match choices {
            [a, b] => format!("\"{a}\" or \"{b}\""),
            _ => format!("one of: {}", choices.join(", ")),
        };
        cx.error(
            &s,
            format!(
                "unknown {what} {}; expected {expected}{note}",
                s.to_token_stream()
            ),
        );
        None
    }

    /// An integer literal `>= min`: `concurrency = 4`.
    pub(crate) fn int<T>(&self, cx: &Ctxt, min: T) -> Option<T>
    where
        T: FromStr + PartialOrd + Display,
        T::Err: Display,
    {
        let example = format!("{} = {min}", self.key);
        let expr = self.assigned(cx, &example)?;
        let what = format!("an integer >= {min}");
        let Some(Lit::Int(int)) = lit(expr) else {
            return self.mismatch(cx, expr, &what);
        };
        match int.base10_parse::<T>() {
            Ok(n) if n >= min => Some(n),
            Ok(_) => self.mismatch(cx, expr, &what),
            Err(error) => {
                cx.error(
                    int,
                    format!("`{}` must be {what}, found `{int}`: {error}", self.key),
                );
                None
            }
        }
    }

    /// A duration: a humantime string (`"10s"`, `"500ms"`, `"1m 30s"`) or a
    /// number of seconds (`10`, `2.5`). Zero is accepted only when
    /// `allow_zero`.
    pub(crate) fn duration(&self, cx: &Ctxt, allow_zero: bool) -> Option<Duration> {
        let key = &self.key;
        let example = format!("{key} = \"10s\"");
        let expr = self.assigned(cx, &example)?;
        let what = "a duration such as \"10s\", \"500ms\" or \"1m\", or a number of seconds";
        let duration = match lit(expr) {
            Some(Lit::Str(s)) => match humantime::parse_duration(s.value().trim()) {
                Ok(d) => d,
                Err(error) => {
                    cx.error(
                        s,
                        format!(
                            "invalid {key} {}: {error} (write e.g. \"10s\", \"500ms\", \"1m\")",
                            s.to_token_stream()
                        ),
                    );
                    return None;
                }
            },
            Some(Lit::Int(int)) if int.suffix().is_empty() => match int.base10_parse::<u64>() {
                Ok(secs) => Duration::from_secs(secs),
                Err(_) => return self.mismatch(cx, expr, what),
            },
            Some(Lit::Float(float)) if float.suffix().is_empty() => {
                match float
                    .base10_parse::<f64>()
                    .ok()
                    .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                {
                    Some(d) => d,
                    None => return self.mismatch(cx, expr, what),
                }
            }
            _ => return self.mismatch(cx, expr, what),
        };
        if duration.is_zero() && !allow_zero {
            cx.error(
                expr,
                format!("`{key}` must be longer than zero, found `{}`", show(expr)),
            );
            return None;
        }
        if u64::try_from(duration.as_nanos()).is_err() {
            cx.error(
                expr,
                format!(
                    "`{key}` is too long (at most about 584 years), found `{}`",
                    show(expr)
                ),
            );
            return None;
        }
        Some(duration)
    }

    /// A flag: `on_leader`, or `on_leader = true` / `false`.
    pub(crate) fn flag(&self, cx: &Ctxt) -> Option<bool> {
        match &self.value {
            Value::Flag => Some(true),
            Value::Assign(expr) => match lit(expr) {
                Some(Lit::Bool(b)) => Some(b.value),
                _ => self.mismatch(cx, expr, "a flag: write it alone, or `= true` / `= false`"),
            },
            Value::List(paren, _) => {
                cx.error_at(
                    paren.span.join(),
                    format!("`{}` is a flag and takes no arguments", self.key),
                );
                None
            }
        }
    }

    /// A flag that takes no value at all (`nested`).
    pub(crate) fn bare_flag(&self, cx: &Ctxt) -> bool {
        match &self.value {
            Value::Flag => true,
            Value::Assign(expr) => {
                cx.error(
                    expr,
                    format!("`{}` takes no value: write `{}` alone", self.key, self.key),
                );
                false
            }
            Value::List(paren, _) => {
                cx.error_at(
                    paren.span.join(),
                    format!(
                        "`{}` takes no arguments: write `{}` alone",
                        self.key, self.key
                    ),
                );
                false
            }
        }
    }

    /// A value or an array of values: `sink = "out"` and `sink = ["a", b]`
    /// both give the elements.
    pub(crate) fn one_or_many(&self, cx: &Ctxt, example: &str) -> Option<Vec<&Expr>> {
        match self.assigned(cx, example)? {
            Expr::Array(array) => Some(array.elems.iter().collect()),
            expr => Some(vec![expr]),
        }
    }

    /// An array of values: `topics = ["a", "b"]`.
    pub(crate) fn array(&self, cx: &Ctxt, example: &str) -> Option<Vec<&Expr>> {
        match self.assigned(cx, example)? {
            Expr::Array(array) => Some(array.elems.iter().collect()),
            expr => self.mismatch(cx, expr, &format!("a list, e.g. `{example}`")),
        }
    }

    /// A path to an item: `custom = checks::sku` (a string holding a path
    /// is accepted too, as in serde).
    pub(crate) fn path(&self, cx: &Ctxt, example: &str) -> Option<syn::Path> {
        let expr = self.assigned(cx, example)?;
        match as_path(expr) {
            Some(path) => Some(path.clone()),
            None => match lit(expr) {
                Some(Lit::Str(s)) => match s.parse::<syn::Path>() {
                    Ok(path) => Some(path),
                    Err(_) => self.mismatch(cx, expr, &format!("a path, e.g. `{example}`")),
                },
                _ => self.mismatch(cx, expr, &format!("a path, e.g. `{example}`")),
            },
        }
    }

    /// The nested options of `key(...)`.
    pub(crate) fn nested(&self, cx: &Ctxt, example: &str) -> Option<Args> {
        match &self.value {
            Value::List(_, tokens) => Some(Args::parse_or_report(cx, tokens.clone())),
            _ => {
                let at: &dyn ToTokens = match &self.value {
                    Value::Assign(expr) => expr,
                    _ => &self.key,
                };
                cx.error(
                    at,
                    format!("`{}` takes options: write `{example}`", self.key),
                );
                None
            }
        }
    }

    /// The value of `key = value`; an error at the key when there is none.
    fn assigned(&self, cx: &Ctxt, example: &str) -> Option<&Expr> {
        match &self.value {
            Value::Assign(expr) => Some(expr),
            Value::Flag | Value::List(..) => {
                cx.error(
                    &self.key,
                    format!("`{}` needs a value: write `{example}`", self.key),
                );
                None
            }
        }
    }

    fn mismatch<T>(&self, cx: &Ctxt, found: &Expr, what: &str) -> Option<T> {
        cx.error(
            found,
            format!("`{}` must be {what}, found `{}`", self.key, show(found)),
        );
        None
    }
}

/// Reports a `key` that is not one of `expected`, naming what it was meant
/// to be (`what`: `"#[agent] option"`, `"#[validate] rule"`) and the closest
/// match, which it returns (so a "missing option" error can be left out when
/// the option was only misspelt).
pub(crate) fn unknown_option<'a>(
    cx: &Ctxt,
    what: &str,
    key: &Ident,
    expected: &[&'a str],
) -> Option<&'a str> {
    let name = key.unraw().to_string();
    let mut message = format!(
        "unknown {what} `{name}`; expected one of: {}",
        expected.join(", ")
    );
    let close = closest(&name, expected);
    if let Some(close) = close {
        message.push_str(&format!("; did you mean `{close}`?"));
    }
    cx.error(key, message);
    close
}

/// A value that may be set once: a second `set` reports "`key` set more
/// than once" at the second key.
pub(crate) struct Once<T> {
    name: &'static str,
    key: Option<Ident>,
    value: Option<T>,
}

impl<T> Once<T> {
    /// Nothing set yet.
    pub(crate) fn new(name: &'static str) -> Self {
        Once {
            name,
            key: None,
            value: None,
        }
    }

    /// Records the option at `key`; `value` is `None` when it was invalid
    /// (already reported), which still counts as set.
    pub(crate) fn set(&mut self, cx: &Ctxt, key: &Ident, value: Option<T>) {
        if self.key.is_some() {
            cx.error(key, format!("`{}` set more than once", self.name));
            return;
        }
        self.key = Some(key.clone());
        self.value = value;
    }

    /// The key it was set at, valid or not.
    pub(crate) fn key(&self) -> Option<&Ident> {
        self.key.as_ref()
    }

    /// The value, if it was set and valid.
    pub(crate) fn get(self) -> Option<T> {
        self.value
    }

    /// The value by reference, if it was set and valid.
    pub(crate) fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }
}

/// What a name checked against Kafka's topic-name rules is the name of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KafkaName {
    /// A topic.
    Topic,
    /// A table, whose changelog topic is named after it.
    Table,
}

/// Checks Kafka's rules for a topic name (ASCII letters, digits, `.`, `_`,
/// `-`; at most 249 characters; not `.` or `..`), reporting at `name`.
pub(crate) fn check_kafka_name(cx: &Ctxt, what: KafkaName, name: &LitStr) -> bool {
    let (noun, note) = match what {
        KafkaName::Topic => ("topic", ""),
        KafkaName::Table => (
            "table",
            " (a table's name is part of its changelog topic's name)",
        ),
    };
    let value = name.value();
    let problem = if value.is_empty() {
        Some(format!("a {noun} name cannot be empty"))
    } else if value == "." || value == ".." {
        Some("Kafka does not allow `.` or `..` as a topic name".to_owned())
    } else if value.len() > 249 {
        Some("Kafka topic names are at most 249 characters long".to_owned())
    } else if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("Kafka topic names use only ASCII letters, digits, `.`, `_` and `-`".to_owned())
    } else {
        None
    };
    if let Some(problem) = &problem {
        cx.error(
            name,
            format!(
                "invalid {noun} name {}: {problem}{note}",
                name.to_token_stream()
            ),
        );
    }
    problem.is_none()
}

/// The literal an expression is, if it is one (looking through the
/// invisible groups `macro_rules!` wraps `$e:expr` in).
pub(crate) fn lit(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(e) if e.attrs.is_empty() => Some(&e.lit),
        Expr::Group(e) => lit(&e.expr),
        _ => None,
    }
}

/// The path an expression is, if it is a plain one (`other_agent`,
/// `crate::flows::enrich`).
pub(crate) fn as_path(expr: &Expr) -> Option<&syn::Path> {
    match expr {
        Expr::Path(e) if e.attrs.is_empty() && e.qself.is_none() => Some(&e.path),
        Expr::Group(e) => as_path(&e.expr),
        _ => None,
    }
}

/// How a value is shown in a message: its tokens as written.
pub(crate) fn show(tokens: &impl ToTokens) -> String {
    let text = tokens.to_token_stream().to_string();
    // `to_string` spaces punctuation out (`a :: b`, `- 1`); tighten the
    // common cases.
    let text = text
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" : ", ": ");
    match text.strip_prefix("- ") {
        Some(rest) => format!("-{rest}"),
        None => text,
    }
}

/// A type as a person writes it: `Option<Address>`, `Vec<(String, u32)>`,
/// `&'static str`, `[u8; 4]` (where `to_string` gives `Option < Address >`).
pub(crate) fn show_type(ty: &impl ToTokens) -> String {
    let mut out = String::new();
    write_type(ty.to_token_stream(), &mut out);
    out
}

fn write_type(tokens: TokenStream, out: &mut String) {
    use proc_macro2::{Delimiter, Spacing, TokenTree};
    // Whether the last token was a word (an identifier, a literal or a
    // group), which a following word is separated from by a space.
    let mut after_word = false;
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Ident(ident) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                after_word = true;
            }
            TokenTree::Literal(lit) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&lit.to_string());
                after_word = true;
            }
            TokenTree::Punct(punct) => {
                match punct.as_char() {
                    ',' | ';' => {
                        out.push(punct.as_char());
                        out.push(' ');
                    }
                    '=' | '+' => {
                        out.push(' ');
                        out.push(punct.as_char());
                        out.push(' ');
                    }
                    '-' if punct.spacing() == Spacing::Joint
                        && matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '>') =>
                    {
                        tokens.next();
                        out.push_str(" -> ");
                    }
                    '\'' if after_word => out.push_str(" '"),
                    c => out.push(c),
                }
                after_word = false;
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                if after_word && group.delimiter() == Delimiter::None {
                    out.push(' ');
                }
                out.push_str(open);
                write_type(group.stream(), out);
                let trimmed = out.trim_end().len();
                out.truncate(trimmed);
                out.push_str(close);
                after_word = true;
            }
        }
    }
}

/// The text of an item's doc comments (`///` lines and `#[doc = "..."]`),
/// one line each, without the space after `///`, trimmed; empty without
/// any.
pub(crate) fn doc_text(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
        {
            let value = s.value();
            // `split`, not `lines`: an empty `///` is an empty line.
            for line in value.split('\n') {
                lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
            }
        }
    }
    lines.join("\n").trim().to_owned()
}

/// The expected name closest to `name`, if it is close enough to be a typo.
fn closest<'a>(name: &str, expected: &[&'a str]) -> Option<&'a str> {
    expected
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance between two short ASCII-ish strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: TokenStream) -> Args {
        syn::parse2(tokens).expect("test input parses")
    }

    /// Runs `read` on the only option of `tokens`, returning its value or
    /// the error messages it reported.
    fn read<T>(
        tokens: TokenStream,
        read: impl FnOnce(&Ctxt, &Opt) -> Option<T>,
    ) -> Result<T, Vec<String>> {
        let args = parse(tokens);
        let cx = Ctxt::new();
        let value = read(&cx, &args.options[0]);
        match cx.check() {
            Ok(()) => Ok(value.expect("no error means a value")),
            Err(e) => Err(e.into_iter().map(|e| e.to_string()).collect()),
        }
    }

    #[test]
    fn types_are_shown_as_written() {
        let show = |ty: TokenStream| show_type(&syn::parse2::<syn::Type>(ty).unwrap());
        assert_eq!(show(quote!(Option<Address>)), "Option<Address>");
        assert_eq!(show(quote!(Vec<(String, u32)>)), "Vec<(String, u32)>");
        assert_eq!(
            show(quote!(std::collections::HashMap<String, Vec<u8> >)),
            "std::collections::HashMap<String, Vec<u8>>"
        );
        assert_eq!(show(quote!(&'static str)), "&'static str");
        assert_eq!(show(quote!([u8; 4])), "[u8; 4]");
        assert_eq!(show(quote!((u8,))), "(u8,)");
        assert_eq!(
            show(quote!(Box<dyn Fn(u8) -> u8 + Send>)),
            "Box<dyn Fn(u8) -> u8 + Send>"
        );
        assert_eq!(show(quote!(r#type)), "r#type");
    }

    #[test]
    fn doc_text_joins_the_doc_lines() {
        let item: syn::ItemStruct = syn::parse_quote! {
            /// An order.
            ///
            ///   Indented.
            #[doc = " As sent."]
            #[derive(Debug)]
            struct A;
        };
        assert_eq!(doc_text(&item.attrs), "An order.\n\n  Indented.\nAs sent.");
        let bare: syn::ItemStruct = syn::parse_quote!(
            struct B;
        );
        assert_eq!(doc_text(&bare.attrs), "");
    }

    #[test]
    fn parses_flags_assignments_lists_and_positional_literals() {
        let args = parse(quote!("orders", validate, name = "x", range(min = 0)));
        assert_eq!(args.positional.len(), 1);
        let names: Vec<String> = args.options.iter().map(Opt::name).collect();
        assert_eq!(names, ["validate", "name", "range"]);
        assert!(matches!(args.options[0].value, Value::Flag));
        assert!(matches!(args.options[1].value, Value::Assign(_)));
        assert!(matches!(args.options[2].value, Value::List(..)));
    }

    #[test]
    fn accepts_a_trailing_comma_and_keyword_keys() {
        let args = parse(quote!(type = 1, crate,));
        assert_eq!(args.options.len(), 2);
        assert_eq!(args.options[0].name(), "type");
    }

    #[test]
    fn rejects_a_missing_comma() {
        assert!(syn::parse2::<Args>(quote!(a = 1 b = 2)).is_err());
    }

    #[test]
    fn int_reports_the_bound_and_what_was_found() {
        assert_eq!(
            read(quote!(concurrency = 4), |cx, o| o.int::<usize>(cx, 1)),
            Ok(4)
        );
        assert_eq!(
            read(quote!(concurrency = 0), |cx, o| o.int::<usize>(cx, 1)),
            Err(vec![
                "`concurrency` must be an integer >= 1, found `0`".to_owned()
            ])
        );
        assert_eq!(
            read(quote!(concurrency = "4"), |cx, o| o.int::<usize>(cx, 1)),
            Err(vec![
                "`concurrency` must be an integer >= 1, found `\"4\"`".to_owned()
            ])
        );
        assert_eq!(
            read(quote!(retries = -1), |cx, o| o.int::<u32>(cx, 0)),
            Err(vec![
                "`retries` must be an integer >= 0, found `-1`".to_owned()
            ])
        );
        let too_big = read(quote!(retries = 99999999999), |cx, o| o.int::<u32>(cx, 0));
        assert!(too_big.unwrap_err()[0].contains("too large"));
    }

    #[test]
    fn a_valued_option_written_as_a_flag_asks_for_a_value() {
        assert_eq!(
            read(quote!(name), |cx, o| o.string(cx, "name = \"x\"")),
            Err(vec![
                "`name` needs a value: write `name = \"x\"`".to_owned()
            ])
        );
    }

    #[test]
    fn duration_accepts_humantime_and_seconds() {
        let d = |t| read(t, |cx, o| o.duration(cx, false));
        assert_eq!(d(quote!(interval = "10s")), Ok(Duration::from_secs(10)));
        assert_eq!(d(quote!(interval = "1m 30s")), Ok(Duration::from_secs(90)));
        assert_eq!(d(quote!(interval = 10)), Ok(Duration::from_secs(10)));
        assert_eq!(d(quote!(interval = 2.5)), Ok(Duration::from_millis(2500)));
    }

    #[test]
    fn duration_explains_a_bad_unit_and_zero() {
        let d = |t| read(t, |cx, o| o.duration(cx, false));
        let bad = d(quote!(interval = "10 parsecs")).unwrap_err();
        assert!(
            bad[0].starts_with("invalid interval \"10 parsecs\": unknown time unit"),
            "{bad:?}"
        );
        assert!(
            bad[0].ends_with("(write e.g. \"10s\", \"500ms\", \"1m\")"),
            "{bad:?}"
        );
        assert_eq!(
            d(quote!(interval = "0s")),
            Err(vec![
                "`interval` must be longer than zero, found `\"0s\"`".to_owned()
            ])
        );
        assert!(read(quote!(backoff = 0), |cx, o| o.duration(cx, true)).is_ok());
        assert!(d(quote!(interval = 10s)).is_err());
    }

    #[test]
    fn flag_accepts_bare_and_bool() {
        assert_eq!(read(quote!(on_leader), |cx, o| o.flag(cx)), Ok(true));
        assert_eq!(
            read(quote!(on_leader = false), |cx, o| o.flag(cx)),
            Ok(false)
        );
        assert!(read(quote!(on_leader = "yes"), |cx, o| o.flag(cx)).is_err());
    }

    #[test]
    fn path_accepts_a_path_or_a_string_holding_one() {
        let p = |t| read(t, |cx, o| o.path(cx, "custom = my::check")).map(|p| show(&p));
        assert_eq!(p(quote!(custom = my::check)), Ok("my::check".to_owned()));
        assert_eq!(p(quote!(custom = "my::check")), Ok("my::check".to_owned()));
        assert!(p(quote!(custom = 3)).is_err());
    }

    #[test]
    fn topic_names_follow_kafka_rules() {
        let t = |t| read(t, |cx, o| o.kafka_name(cx, KafkaName::Topic)).map(|s| s.value());
        assert_eq!(
            t(quote!(topic = "orders.v1_a-b")),
            Ok("orders.v1_a-b".to_owned())
        );
        assert_eq!(
            t(quote!(topic = "my topic")),
            Err(vec![
                "invalid topic name \"my topic\": Kafka topic names use only ASCII letters, digits, `.`, `_` and `-`"
                    .to_owned()
            ])
        );
        assert!(t(quote!(topic = "")).is_err());
        assert!(t(quote!(topic = "..")).is_err());
    }

    #[test]
    fn a_table_name_error_says_it_names_the_changelog() {
        let t = |t| read(t, |cx, o| o.kafka_name(cx, KafkaName::Table)).map(|s| s.value());
        assert_eq!(t(quote!(name = "totals")), Ok("totals".to_owned()));
        assert_eq!(
            t(quote!(name = "a/b")),
            Err(vec![
                "invalid table name \"a/b\": Kafka topic names use only ASCII letters, digits, \
                 `.`, `_` and `-` (a table's name is part of its changelog topic's name)"
                    .to_owned()
            ])
        );
        assert_eq!(
            t(quote!(name = "")),
            Err(vec![
                "invalid table name \"\": a table name cannot be empty (a table's name is part \
                 of its changelog topic's name)"
                    .to_owned()
            ])
        );
    }

    #[test]
    fn one_of_lists_two_choices_with_or_and_more_as_a_list() {
        let two = |t| {
            read(t, |cx, o| o.one_of(cx, "store", &["memory", "rocksdb"], "")).map(|s| s.value())
        };
        assert_eq!(two(quote!(store = "rocksdb")), Ok("rocksdb".to_owned()));
        assert_eq!(
            two(quote!(store = "redis")),
            Err(vec![
                "unknown store \"redis\"; expected \"memory\" or \"rocksdb\"".to_owned()
            ])
        );
        assert_eq!(
            two(quote!(store = 1)),
            Err(vec![
                "`store` must be a string, e.g. `store = \"memory\"`, found `1`".to_owned()
            ])
        );
        let three = |t| {
            read(t, |cx, o| {
                o.one_of(cx, "codec", &["a", "b", "c"], " (note)")
            })
        };
        assert_eq!(
            three(quote!(codec = "d")).unwrap_err(),
            ["unknown codec \"d\"; expected one of: a, b, c (note)"]
        );
    }

    #[test]
    fn once_reports_the_second_setting() {
        let cx = Ctxt::new();
        let mut once = Once::new("topic");
        let key: Ident = syn::parse_quote!(topic);
        once.set(&cx, &key, Some(1));
        once.set(&cx, &key, Some(2));
        let errors: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors, ["`topic` set more than once"]);
        assert_eq!(once.get(), Some(1));
    }

    #[test]
    fn unknown_option_lists_the_options_and_suggests_the_closest() {
        let cx = Ctxt::new();
        let key: Ident = syn::parse_quote!(topc);
        unknown_option(&cx, "#[agent] option", &key, &["topic", "topics", "sink"]);
        let errors: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "unknown #[agent] option `topc`; expected one of: topic, topics, sink; did you mean `topic`?"
            ]
        );
    }

    #[test]
    fn no_suggestion_for_a_far_name() {
        assert_eq!(closest("bananas", &["topic", "sink"]), None);
        assert_eq!(
            closest("concurency", &["concurrency", "name"]),
            Some("concurrency")
        );
    }
}
