//! `#[agent]`: an `async fn` that consumes one or more topics.
//!
//! [`expand`] reads the function and the options into an [`Agent`] (all
//! checks happen there, collected in a [`Ctxt`]) and [`generate`] turns the
//! model into the function plus a hidden module of the same name holding
//! its `AgentDef` and registering it.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, Lit, LitStr, Path, Type};

use crate::attr::{self, Args, KafkaName, Once};
use crate::ctxt::Ctxt;
use crate::emit;
use crate::func::{self, Params};

/// Every option `#[agent]` accepts, in the order the docs list them.
const OPTIONS: &[&str] = &[
    "topic",
    "topics",
    "sink",
    "concurrency",
    "dead_letter",
    "on_error",
    "retries",
    "retry_backoff",
    "group_by",
    "through",
    "name",
];

/// What an agent fn must return, for the missing-return-type error.
const RETURNS: &str = "write `-> faust::Result<()>`, or `-> faust::Result<T>` to send each `T` \
                       to the `sink`s";

/// The default of `retry_backoff`.
const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Expands `#[agent(args)] item`. On any error, emits the function
/// unchanged beside the errors.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match func::parse_fn("agent", item.clone()) {
        Ok(func) => func,
        Err(error) => return with_errors(item, error),
    };
    match Agent::from_ast(args, func) {
        Ok(agent) => generate(&agent),
        Err(error) => with_errors(item, error),
    }
}

/// A checked `#[agent]`.
#[derive(Debug)]
pub(crate) struct Agent {
    /// The function, emitted unchanged.
    pub(crate) func: ItemFn,
    /// The agent's name.
    pub(crate) name: String,
    /// The topics it consumes: at least one, no duplicates.
    pub(crate) topics: Vec<String>,
    /// Where its results go.
    pub(crate) sinks: Vec<Sink>,
    /// Handlers running at once, >= 1.
    pub(crate) concurrency: usize,
    /// Its dead-letter topic.
    pub(crate) dead_letter: Option<String>,
    /// Its error policy, when given.
    pub(crate) on_error: Option<OnError>,
    /// Retries before the policy applies.
    pub(crate) retries: u32,
    /// First retry delay.
    pub(crate) retry_backoff: Duration,
    /// Whether it takes events one by one or a stream.
    pub(crate) form: Form,
    /// The first token of the argument's type: where errors about the
    /// handler's types start.
    pub(crate) arg_span: Span,
    /// The last token of the return type: where they end.
    pub(crate) ret_span: Span,
    /// Repartitioning before the handler.
    pub(crate) repartition: Option<Repartition>,
    /// What the handler takes one by one: the argument's type, or `T` of a
    /// `Stream<T>` (a `group_by` key function takes `&` it).
    pub(crate) input: Option<Type>,
}

/// `group_by` or `through`.
#[derive(Debug)]
pub(crate) enum Repartition {
    /// `group_by = key_fn` or `group_by(key = key_fn, name = "by-page")`.
    GroupBy {
        /// The key function, as written.
        key: Path,
        /// The repartition's name (default: the key function's).
        name: String,
    },
    /// `through = "topic"`.
    Through(String),
}

/// One `sink`.
#[derive(Debug, PartialEq)]
pub(crate) enum Sink {
    /// A topic, by name.
    Topic(String),
    /// Another `#[agent]` fn, by path as written.
    Agent(Path),
}

/// `on_error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnError {
    /// `"stop"`.
    Stop,
    /// `"dead_letter"`.
    DeadLetter,
}

/// How the function takes its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `async fn f(event: T)`: called once per event.
    PerEvent,
    /// `async fn f(stream: Stream<T>)`: called once with the whole stream.
    Stream,
}

impl Agent {
    /// Parses and checks the options and the function, reporting every
    /// mistake at once.
    pub(crate) fn from_ast(args: TokenStream, func: ItemFn) -> syn::Result<Agent> {
        let cx = Ctxt::new();
        let argument = func::check_signature(&cx, "agent", &func.sig, Params::One, RETURNS);

        let args = Args::parse_or_report(&cx, args);
        args.reject_positional(&cx, "agent", "topic");

        let mut topic = Once::new("topic");
        let mut topics = Once::new("topics");
        let mut sinks = Once::new("sink");
        let mut concurrency = Once::new("concurrency");
        let mut dead_letter = Once::new("dead_letter");
        let mut on_error = Once::new("on_error");
        let mut retries = Once::new("retries");
        let mut retry_backoff = Once::new("retry_backoff");
        let mut name = Once::new("name");
        let mut group_by = Once::new("group_by");
        let mut through = Once::new("through");
        // Options written wrongly (a bare literal, a typo): a "missing
        // option" error would only repeat what is reported already.
        let mut misspelt = Vec::new();
        if !args.positional.is_empty() {
            misspelt.push("topic");
        }
        for opt in &args.options {
            let key = &opt.key;
            match opt.name().as_str() {
                "topic" => topic.set(&cx, key, opt.kafka_name(&cx, KafkaName::Topic)),
                "topics" => topics.set(&cx, key, read_topics(&cx, opt)),
                "sink" => sinks.set(&cx, key, read_sinks(&cx, opt)),
                "concurrency" => concurrency.set(&cx, key, opt.int::<usize>(&cx, 1)),
                "dead_letter" => dead_letter.set(&cx, key, opt.kafka_name(&cx, KafkaName::Topic)),
                "on_error" => on_error.set(&cx, key, read_on_error(&cx, opt)),
                "retries" => retries.set(&cx, key, opt.int::<u32>(&cx, 0)),
                "retry_backoff" => retry_backoff.set(&cx, key, opt.duration(&cx, true)),
                "name" => name.set(&cx, key, opt.non_empty_string(&cx, "name = \"enrich\"")),
                "group_by" => group_by.set(&cx, key, read_group_by(&cx, opt)),
                "through" => through.set(&cx, key, opt.kafka_name(&cx, KafkaName::Topic)),
                _ => misspelt.extend(attr::unknown_option(&cx, "#[agent] option", key, OPTIONS)),
            }
        }

        let topic_list = match (topic.key(), topics.key()) {
            (Some(_), Some(_)) => {
                // Point at whichever of the two comes last.
                let later = args
                    .options
                    .iter()
                    .rev()
                    .find(|o| matches!(o.name().as_str(), "topic" | "topics"))
                    .map(|o| &o.key);
                cx.error(
                    later,
                    "`topic` and `topics` are both set; use one: `topic = \"a\"` or \
                     `topics = [\"a\", \"b\"]`",
                );
                Vec::new()
            }
            // A misspelt `topic` was reported already.
            (None, None) if misspelt.iter().any(|o| o.starts_with("topic")) => Vec::new(),
            (None, None) => {
                cx.error_at(
                    func::attribute_span(),
                    "#[agent] needs the topic it consumes: add `topic = \"orders\"` \
                     (or `topics = [\"a\", \"b\"]`)",
                );
                Vec::new()
            }
            (Some(_), None) => topic.get().into_iter().map(|t| t.value()).collect(),
            (None, Some(_)) => topics.get().unwrap_or_default(),
        };

        if let Some((OnError::DeadLetter, value)) = on_error.value()
            && dead_letter.key().is_none()
        {
            cx.error(
                value,
                "`on_error = \"dead_letter\"` needs a dead-letter topic: add \
                 `dead_letter = \"orders-dlq\"` (or use `on_error = \"stop\"`)",
            );
        }

        if let Some(arg) = argument
            && form_of(&arg.ty) == Form::Stream
        {
            func::check_unit_result(
                &cx,
                &func.sig.output,
                "a stream agent",
                "send values to the sinks with `stream.emit(value).await?`",
            );
        }

        if let (Some(_), Some(later)) = (group_by.key(), through.key()) {
            cx.error(
                later,
                "`group_by` and `through` are both set; an agent repartitions one way: \
                 `group_by` re-keys, `through` keeps the keys",
            );
        }
        let repartition = match (group_by.get(), through.get()) {
            (Some(g), None) => Some(g),
            (None, Some(topic)) => Some(Repartition::Through(topic.value())),
            _ => None,
        };

        cx.check()?;

        let (form, arg_span) = argument.map_or((Form::PerEvent, Span::call_site()), |arg| {
            (form_of(&arg.ty), arg.ty.span())
        });
        let input = argument.and_then(|arg| match form {
            Form::PerEvent => Some((*arg.ty).clone()),
            Form::Stream => stream_item(&arg.ty),
        });
        let ret_span = match &func.sig.output {
            syn::ReturnType::Type(_, ty) => func::last_span(ty),
            syn::ReturnType::Default => arg_span,
        };
        Ok(Agent {
            ret_span,
            name: name
                .get()
                .map_or_else(|| func::name_of(&func.sig.ident), |n| n.value()),
            topics: topic_list,
            sinks: sinks.get().unwrap_or_default(),
            concurrency: concurrency.get().unwrap_or(1),
            dead_letter: dead_letter.get().map(|t| t.value()),
            on_error: on_error.get().map(|(policy, _)| policy),
            retries: retries.get().unwrap_or(0),
            retry_backoff: retry_backoff.get().unwrap_or(DEFAULT_RETRY_BACKOFF),
            form,
            arg_span,
            repartition,
            input,
            func,
        })
    }
}

/// `T` of `Stream<T>`.
fn stream_item(ty: &Type) -> Option<Type> {
    match ty {
        Type::Path(path) => match &path.path.segments.last()?.arguments {
            syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t.clone()),
                _ => None,
            }),
            _ => None,
        },
        Type::Group(group) => stream_item(&group.elem),
        Type::Paren(paren) => stream_item(&paren.elem),
        _ => None,
    }
}

/// `group_by = key_fn` or `group_by(key = key_fn, name = "by-page")`.
fn read_group_by(cx: &Ctxt, opt: &attr::Opt) -> Option<Repartition> {
    let example = "group_by(key = page_of, name = \"by-page\")";
    let (key, name) = match &opt.value {
        attr::Value::List(..) => {
            let args = opt.nested(cx, example)?;
            args.reject_positional(cx, "agent", "key");
            let mut key = Once::new("key");
            let mut name = Once::new("name");
            for inner in &args.options {
                match inner.name().as_str() {
                    "key" => key.set(cx, &inner.key, inner.path(cx, "key = page_of")),
                    "name" => name.set(cx, &inner.key, inner.kafka_name(cx, KafkaName::Topic)),
                    _ => {
                        attr::unknown_option(cx, "group_by option", &inner.key, &["key", "name"]);
                    }
                }
            }
            let Some(key) = key.get() else {
                cx.error(
                    &opt.key,
                    format!("`group_by` needs its key function: write `{example}`"),
                );
                return None;
            };
            (key, name.get().map(|n| n.value()))
        }
        _ => (opt.path(cx, "group_by = page_of")?, None),
    };
    let name = name.unwrap_or_else(|| {
        key.segments
            .last()
            .map(|s| s.ident.to_string().replace('_', "-"))
            .unwrap_or_default()
    });
    Some(Repartition::GroupBy { key, name })
}

/// `topics = ["a", "b"]`: non-empty, valid names, no duplicates.
fn read_topics(cx: &Ctxt, opt: &attr::Opt) -> Option<Vec<String>> {
    let elems = opt.array(cx, "topics = [\"a\", \"b\"]")?;
    if elems.is_empty() {
        cx.error(
            &opt.key,
            "`topics` needs at least one topic, e.g. `topics = [\"a\", \"b\"]`",
        );
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    let mut valid = true;
    for elem in elems {
        let Some(Lit::Str(s)) = attr::lit(elem) else {
            cx.error(
                elem,
                format!(
                    "`topics` lists topic names as strings, found `{}`",
                    attr::show(elem)
                ),
            );
            valid = false;
            continue;
        };
        if !attr::check_kafka_name(cx, KafkaName::Topic, s) {
            valid = false;
        } else if names.contains(&s.value()) {
            cx.error(
                s,
                format!("topic \"{}\" is listed twice in `topics`", s.value()),
            );
            valid = false;
        } else {
            names.push(s.value());
        }
    }
    valid.then_some(names)
}

/// `sink = "t"`, `sink = other_agent` or `sink = ["t", other_agent, ...]`.
fn read_sinks(cx: &Ctxt, opt: &attr::Opt) -> Option<Vec<Sink>> {
    let elems = opt.one_or_many(cx, "sink = \"topic\"")?;
    let mut sinks = Vec::new();
    let mut valid = true;
    for elem in elems {
        if let Some(Lit::Str(s)) = attr::lit(elem) {
            if attr::check_kafka_name(cx, KafkaName::Topic, s) {
                sinks.push(Sink::Topic(s.value()));
            } else {
                valid = false;
            }
        } else if let Some(path) = attr::as_path(elem) {
            sinks.push(Sink::Agent(path.clone()));
        } else {
            cx.error(
                elem,
                format!(
                    "a `sink` is a topic name (`\"out\"`) or an #[agent] fn (`other_agent`), \
                     found `{}`",
                    attr::show(elem)
                ),
            );
            valid = false;
        }
    }
    valid.then_some(sinks)
}

/// `on_error = "stop" | "dead_letter"`, with the value kept for later errors.
fn read_on_error(cx: &Ctxt, opt: &attr::Opt) -> Option<(OnError, LitStr)> {
    let value = opt.one_of(cx, "on_error policy", &["stop", "dead_letter"], "")?;
    let policy = match value.value().as_str() {
        "stop" => OnError::Stop,
        // `one_of` let only the two policies through.
        _ => OnError::DeadLetter,
    };
    Some((policy, value))
}

/// A `Stream<T>` argument (by last path segment) is the stream form.
fn form_of(ty: &Type) -> Form {
    match ty {
        Type::Path(path)
            if path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Stream") =>
        {
            Form::Stream
        }
        Type::Group(group) => form_of(&group.elem),
        Type::Paren(paren) => form_of(&paren.elem),
        _ => Form::PerEvent,
    }
}

/// The function and the hidden module with its `AgentDef`.
pub(crate) fn generate(agent: &Agent) -> TokenStream {
    let Agent {
        func,
        name,
        topics,
        concurrency,
        retries,
        ..
    } = agent;
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let cfgs = func::cfg_attrs(func);

    let sinks = agent.sinks.iter().map(sink_ref);
    let concurrency = proc_macro2::Literal::usize_suffixed(*concurrency);
    let retries = proc_macro2::Literal::u32_suffixed(*retries);
    let dead_letter = emit::option(agent.dead_letter.as_ref().map(|t| quote!(#t)));
    let on_error = emit::option(agent.on_error.map(|policy| match policy {
        OnError::Stop => quote!(::faust::__private::OnError::Stop),
        OnError::DeadLetter => quote!(::faust::__private::OnError::DeadLetter),
    }));
    let retry_backoff = emit::duration(agent.retry_backoff);
    let location = emit::location();
    let (repartition, group_key) = match &agent.repartition {
        None => (quote!(::core::option::Option::None), TokenStream::new()),
        Some(Repartition::Through(topic)) => (
            quote!(::core::option::Option::Some(::faust::__private::Repartition::Through { topic: #topic })),
            TokenStream::new(),
        ),
        Some(Repartition::GroupBy { key, name }) => {
            // Beside the function, not in its hidden module: the input type
            // is written for the function's scope.
            let path = key;
            // Spanned at the key function: one whose argument is not the
            // agent's input, or whose result is no payload, is reported
            // there.
            let input_ty = match &agent.input {
                Some(ty) => quote!(#ty),
                None => quote!(_),
            };
            let call = quote_spanned!(key.span()=>
                ::faust::__private::regroup::<#input_ty, _, _>(message, input, codecs, #path));
            let key_fn = format_ident!("__faust_group_key_{}", ident);
            (
                quote!(::core::option::Option::Some(::faust::__private::Repartition::GroupBy {
                    name: #name,
                    key: super::#key_fn,
                })),
                quote! {
                    #(#cfgs)*
                    #[doc(hidden)]
                    fn #key_fn(
                        message: &::std::sync::Arc<::faust::__private::Message>,
                        input: &::faust::__private::InputCodecs,
                        codecs: &::faust::__private::Codecs,
                    ) -> ::core::result::Result<::faust::__private::Bytes, ::faust::__private::CodecError> {
                        #call
                    }
                },
            )
        }
    };
    // rustc reports an unmet bound of the builder (an input or output that
    // is not a payload, a stream agent returning a value) at the call
    // expression. Its first tokens carry the argument type's span and its
    // parentheses the return type's end, so the error underlines the
    // user's signature from the argument type to the return type.
    let builder = match agent.form {
        Form::PerEvent => quote_spanned!(agent.arg_span=> ::faust::__private::per_event),
        Form::Stream => quote_spanned!(agent.arg_span=> ::faust::__private::stream),
    };
    let function = quote_spanned!(agent.arg_span=> super::#ident);
    let mut arguments = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, function);
    arguments.set_span(agent.ret_span);
    let build = quote!(#builder #arguments);
    // The typed handle to call the agent: the value it takes and what it
    // replies, named as the function's signature names them (hence the
    // glob import of the function's scope).
    let p = quote!(::faust::__private);
    let rpc = match (&agent.input, &func.sig.output, agent.form) {
        (Some(input), syn::ReturnType::Type(_, ret), Form::PerEvent) => Some(quote! {
            #p::AgentRef<<#input as #p::AgentInput>::Value, <#ret as #p::HandlerResult>::Output>
        }),
        (Some(item), _, Form::Stream) => Some(quote!(#p::AgentRef<#item, #p::NoReply>)),
        _ => None,
    };
    // Beside the function, where its types are written; re-exported as
    // `RPC` from the hidden module, as visible as the static can be.
    let rpc_static = format_ident!("__faust_rpc_{}", ident);
    let reexport = match vis {
        syn::Visibility::Public(_) => quote!(pub),
        syn::Visibility::Restricted(r) if r.path.is_ident("crate") => quote!(pub(crate)),
        _ => quote!(pub(super)),
    };
    let (rpc_item, rpc) = match rpc {
        Some(ty) => (
            quote! {
                #(#cfgs)*
                #[doc(hidden)]
                #[allow(non_upper_case_globals)]
                #vis static #rpc_static: #ty = #p::AgentRef::new(&#ident::AGENT);
            },
            quote! {
                /// Calls the agent: `send`, `cast`, `ask`, `map`, `kvmap`, `join`.
                #reexport use super::#rpc_static as RPC;
            },
        ),
        None => (TokenStream::new(), TokenStream::new()),
    };

    quote! {
        #func

        #group_key

        #rpc_item

        #(#cfgs)*
        #[doc(hidden)]
        #vis mod #ident {
            pub static AGENT: ::faust::__private::AgentDef = ::faust::__private::AgentDef {
                name: #name,
                topics: &[#(#topics),*],
                sinks: &[#(#sinks),*],
                concurrency: #concurrency,
                dead_letter: #dead_letter,
                on_error: #on_error,
                retries: #retries,
                retry_backoff: #retry_backoff,
                repartition: #repartition,
                location: #location,
                build: __build,
            };

            fn __build() -> ::faust::__private::AgentHandler {
                #build
            }

            #rpc

            ::faust::__private::register! { agent AGENT }
        }
    }
}

fn sink_ref(sink: &Sink) -> TokenStream {
    match sink {
        Sink::Topic(topic) => quote!(::faust::__private::SinkRef::Topic(#topic)),
        Sink::Agent(path) => {
            let def = agent_def_path(path);
            // Spanned at the path so "cannot find `AGENT`" points at the sink.
            quote_spanned!(path.span()=> ::faust::__private::SinkRef::Agent(&#def))
        }
    }
}

/// The path of another agent's `AGENT` static, seen from inside this
/// agent's hidden module (one level below the function).
fn agent_def_path(path: &Path) -> TokenStream {
    let agent = Ident::new("AGENT", path.span());
    let item = item_path(path);
    quote_spanned!(path.span()=> #item::#agent)
}

/// `path` as written next to the function, seen from inside its hidden
/// module (one level below).
fn item_path(path: &Path) -> TokenStream {
    let span = path.span();
    let first = path.segments.first().map(|s| s.ident.to_string());
    if path.leading_colon.is_some() || first.as_deref() == Some("crate") {
        return quote_spanned!(span=> #path);
    }
    if first.as_deref() == Some("self") {
        let rest = path.segments.iter().skip(1);
        return quote_spanned!(span=> super #(::#rest)*);
    }
    // Relative (`other`, `flows::other`) or `super::...`: one level up.
    quote_spanned!(span=> super::#path)
}

fn with_errors(mut item: TokenStream, error: syn::Error) -> TokenStream {
    item.extend(error.into_compile_error());
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn agent(args: TokenStream, func: ItemFn) -> Result<Agent, Vec<String>> {
        Agent::from_ast(args, func).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn ok_fn() -> ItemFn {
        parse_quote!(
            async fn process(order: Order) -> Result<(), Error> {
                Ok(())
            }
        )
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let a = agent(quote!(topic = "orders"), ok_fn()).unwrap();
        assert_eq!(a.name, "process");
        assert_eq!(a.topics, ["orders"]);
        assert!(a.sinks.is_empty());
        assert_eq!(a.concurrency, 1);
        assert_eq!(a.dead_letter, None);
        assert_eq!(a.on_error, None);
        assert_eq!(a.retries, 0);
        assert_eq!(a.retry_backoff, Duration::from_millis(100));
        assert_eq!(a.form, Form::PerEvent);
    }

    #[test]
    fn group_by_takes_a_key_function_and_names_the_repartition_after_it() {
        let a = agent(quote!(topic = "orders", group_by = by_account), ok_fn()).unwrap();
        let Some(Repartition::GroupBy { key, name }) = a.repartition else {
            panic!("{:?}", a.repartition);
        };
        assert!(key.is_ident("by_account"));
        assert_eq!(name, "by-account");
        let a = agent(
            quote!(
                topic = "orders",
                group_by(key = keys::account, name = "per-account")
            ),
            ok_fn(),
        )
        .unwrap();
        let Some(Repartition::GroupBy { name, .. }) = a.repartition else {
            panic!("{:?}", a.repartition);
        };
        assert_eq!(name, "per-account");
        let a = agent(quote!(topic = "orders", through = "orders-2"), ok_fn()).unwrap();
        assert!(matches!(a.repartition, Some(Repartition::Through(t)) if t == "orders-2"));
        assert_eq!(
            a.input.map(|t| quote!(#t).to_string()),
            Some("Order".to_owned())
        );
    }

    #[test]
    fn every_option_is_read() {
        let a = agent(
            quote!(
                topics = ["a", "b"],
                sink = ["out", other, self::x],
                concurrency = 4,
                dead_letter = "dlq",
                on_error = "dead_letter",
                retries = 3,
                retry_backoff = "1s",
                name = "custom",
            ),
            ok_fn(),
        )
        .unwrap();
        assert_eq!(a.name, "custom");
        assert_eq!(a.topics, ["a", "b"]);
        assert_eq!(a.sinks.len(), 3);
        assert_eq!(a.sinks[0], Sink::Topic("out".into()));
        assert_eq!(a.concurrency, 4);
        assert_eq!(a.dead_letter.as_deref(), Some("dlq"));
        assert_eq!(a.on_error, Some(OnError::DeadLetter));
        assert_eq!(a.retries, 3);
        assert_eq!(a.retry_backoff, Duration::from_secs(1));
    }

    #[test]
    fn a_stream_argument_selects_the_stream_form() {
        let f: ItemFn = parse_quote!(
            async fn f(s: faust::Stream<Order>) -> Result<(), E> {}
        );
        assert_eq!(agent(quote!(topic = "t"), f).unwrap().form, Form::Stream);
    }

    #[test]
    fn a_stream_agent_must_return_unit() {
        let f: ItemFn = parse_quote!(
            async fn f(s: Stream<Order>) -> Result<u64> {}
        );
        let e = agent(quote!(topic = "t"), f).unwrap_err();
        assert!(
            e[0].starts_with("a stream agent returns `Result<()>`, not `Result<u64>`"),
            "{e:?}"
        );
        let f: ItemFn = parse_quote!(
            async fn f(s: Stream<Order>) -> faust::Result<(), MyError> {}
        );
        assert!(agent(quote!(topic = "t"), f).is_ok());
    }

    #[test]
    fn an_unknown_option_is_named_with_the_expected_ones() {
        let e = agent(quote!(topc = "orders"), ok_fn()).unwrap_err();
        assert_eq!(
            e[0],
            "unknown #[agent] option `topc`; expected one of: topic, topics, sink, concurrency, \
             dead_letter, on_error, retries, retry_backoff, group_by, through, name; did you \
             mean `topic`?"
        );
    }

    #[test]
    fn a_misspelt_topic_is_not_also_reported_missing() {
        let e = agent(quote!(topc = "orders"), ok_fn()).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
    }

    #[test]
    fn topic_and_topics_are_exclusive_and_one_is_required() {
        let both = agent(quote!(topic = "a", topics = ["b"]), ok_fn()).unwrap_err();
        assert_eq!(both.len(), 1);
        assert!(both[0].starts_with("`topic` and `topics` are both set"));
        let neither = agent(quote!(concurrency = 2), ok_fn()).unwrap_err();
        assert!(neither[0].starts_with("#[agent] needs the topic it consumes"));
    }

    #[test]
    fn an_invalid_topic_does_not_also_report_a_missing_one() {
        let e = agent(quote!(topic = 3), ok_fn()).unwrap_err();
        assert_eq!(
            e,
            ["`topic` must be a string, e.g. `topic = \"orders\"`, found `3`"]
        );
    }

    #[test]
    fn topics_must_be_a_non_empty_list_without_duplicates() {
        assert!(agent(quote!(topics = []), ok_fn()).unwrap_err()[0].contains("at least one"));
        let dup = agent(quote!(topics = ["a", "a"]), ok_fn()).unwrap_err();
        assert_eq!(dup, ["topic \"a\" is listed twice in `topics`"]);
        let not_list = agent(quote!(topics = "a"), ok_fn()).unwrap_err();
        assert!(not_list[0].starts_with("`topics` must be a list"));
    }

    #[test]
    fn dead_letter_policy_needs_a_dead_letter_topic() {
        let e = agent(quote!(topic = "t", on_error = "dead_letter"), ok_fn()).unwrap_err();
        assert!(e[0].starts_with("`on_error = \"dead_letter\"` needs a dead-letter topic"));
        let e = agent(quote!(topic = "t", on_error = "drop"), ok_fn()).unwrap_err();
        assert_eq!(
            e,
            ["unknown on_error policy \"drop\"; expected \"stop\" or \"dead_letter\""]
        );
    }

    #[test]
    fn option_errors_and_signature_errors_come_together() {
        let f: ItemFn = parse_quote!(
            fn f(a: A, b: B) -> R {}
        );
        let e = agent(quote!(topic = "t", topic = "u", concurrency = 0), f).unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e.iter().any(|m| m == "`topic` set more than once"));
        assert!(
            e.iter()
                .any(|m| m == "`concurrency` must be an integer >= 1, found `0`")
        );
    }

    #[test]
    fn sink_paths_are_resolved_from_the_hidden_module() {
        let p = |p: Path| attr::show(&agent_def_path(&p));
        assert_eq!(p(parse_quote!(other)), "super::other::AGENT");
        assert_eq!(p(parse_quote!(flows::other)), "super::flows::other::AGENT");
        assert_eq!(p(parse_quote!(self::other)), "super::other::AGENT");
        assert_eq!(p(parse_quote!(super::other)), "super::super::other::AGENT");
        assert_eq!(p(parse_quote!(crate::a::other)), "crate::a::other::AGENT");
        assert_eq!(p(parse_quote!(::dep::other)), "::dep::other::AGENT");
    }

    #[test]
    fn generated_code_names_only_the_private_facade() {
        let a = agent(quote!(topic = "orders", sink = other), ok_fn()).unwrap();
        let code = generate(&a).to_string();
        assert!(code.contains("per_event (super :: process)"), "{code}");
        assert!(
            code.contains("SinkRef :: Agent (& super :: other :: AGENT)"),
            "{code}"
        );
        assert!(code.contains("from_nanos (100000000u64)"), "{code}");
        assert!(code.contains("register ! { agent AGENT }"), "{code}");
    }
}
