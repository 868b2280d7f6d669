//! `#[command]`: an `async fn` that is a subcommand of the program's
//! command line, its arguments given as `--name VALUE`.
//!
//! [`Command::from_ast`] checks the function and reads each argument into
//! an [`Arg`] (its flag, its kind, the type its value parses as);
//! [`generate`] emits the function, beside it the argument table and a
//! function that calls it with the parsed arguments, and the hidden module
//! holding its `CommandDef`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, Type};

use crate::attr::{self, Args, Once};
use crate::ctxt::Ctxt;
use crate::emit;
use crate::func::{self, Params};

/// Every option `#[command]` accepts.
const OPTIONS: &[&str] = &["name"];

/// What a command fn must return, for the missing-return-type error.
const RETURNS: &str = "write `-> faust::Result<()>` (any `Result<(), E>` where `E` converts into \
                       a boxed error works)";

/// Expands `#[command(args)]` on `item`. On any error, emits the function
/// unchanged beside the errors.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match func::parse_fn("command", item.clone()) {
        Ok(func) => func,
        Err(error) => return with_errors(item, error),
    };
    match Command::from_ast(args, func) {
        Ok(command) => generate(&command),
        Err(error) => with_errors(item, error),
    }
}

/// A checked `#[command]`.
#[derive(Debug)]
pub(crate) struct Command {
    /// The function, emitted unchanged.
    pub(crate) func: ItemFn,
    /// The subcommand's name.
    pub(crate) name: String,
    /// The function's doc comment.
    pub(crate) doc: String,
    /// Its arguments, in order.
    pub(crate) args: Vec<Arg>,
    /// The last token of the return type, where type errors end.
    pub(crate) ret_span: Span,
}

/// One argument of a command.
#[derive(Debug)]
pub(crate) struct Arg {
    /// The function argument's name (`dry_run`).
    pub(crate) name: String,
    /// The flag (`dry-run`).
    pub(crate) long: String,
    /// The type as written.
    pub(crate) ty: Type,
    /// How it is given.
    pub(crate) kind: Kind,
    /// The type a value parses as: `T` of `Option<T>`, else the type.
    pub(crate) value: Type,
}

/// How an argument is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--name VALUE`, required.
    Required,
    /// `name: Option<T>`: `--name VALUE`, optional.
    Optional,
    /// `name: bool`: `--name` alone.
    Flag,
}

impl Command {
    /// Parses and checks the options and the function, reporting every
    /// mistake at once.
    pub(crate) fn from_ast(args: TokenStream, func: ItemFn) -> syn::Result<Command> {
        let cx = Ctxt::new();
        func::check_signature(&cx, "command", &func.sig, Params::Any, RETURNS);
        func::check_unit_result(
            &cx,
            &func.sig.output,
            "a #[command] fn",
            "its result only says whether it failed; print what it finds, or send it to a \
             topic with `TOPIC.send(..)`",
        );

        let options = Args::parse_or_report(&cx, args);
        options.reject_positional(&cx, "command", "name");
        let mut name = Once::new("name");
        for opt in &options.options {
            let key = &opt.key;
            match opt.name().as_str() {
                "name" => name.set(&cx, key, read_name(&cx, opt)),
                _ => {
                    attr::unknown_option(&cx, "#[command] option", key, OPTIONS);
                }
            }
        }

        let args: Vec<Arg> = func
            .sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                FnArg::Typed(arg) => read_arg(&cx, &arg.pat, &arg.ty),
                // Reported by check_signature.
                FnArg::Receiver(_) => None,
            })
            .collect();
        for (i, arg) in args.iter().enumerate() {
            if args[..i].iter().any(|a| a.long == arg.long) {
                cx.error(
                    &arg.ty,
                    format!(
                        "two arguments of this #[command] are written --{}",
                        arg.long
                    ),
                );
            }
        }

        cx.check()?;

        let ret_span = match &func.sig.output {
            syn::ReturnType::Type(_, ty) => func::last_span(ty),
            syn::ReturnType::Default => func.sig.ident.span(),
        };
        Ok(Command {
            name: name
                .get()
                .unwrap_or_else(|| func::name_of(&func.sig.ident).replace('_', "-")),
            doc: attr::doc_text(&func.attrs),
            args,
            ret_span,
            func,
        })
    }
}

/// `name = "reset-totals"`: a word the shell passes as one argument.
fn read_name(cx: &Ctxt, opt: &attr::Opt) -> Option<String> {
    let name = opt.non_empty_string(cx, "name = \"reset-totals\"")?;
    let value = name.value();
    if value.starts_with('-') || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        cx.error(
            &name,
            format!(
                "a command name is one word that does not start with `-`, e.g. \
                 \"reset-totals\"; found {value:?}"
            ),
        );
        return None;
    }
    Some(value)
}

/// One argument: `name: T`, `name: Option<T>` or `name: bool`, with `T`
/// owned.
pub(crate) fn read_arg(cx: &Ctxt, pat: &Pat, ty: &Type) -> Option<Arg> {
    let ident = match pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => &p.ident,
        other => {
            cx.error(
                other,
                "#[command] arguments are named, each read from `--name VALUE`: write \
                 `name: Type`",
            );
            return None;
        }
    };
    if !check_owned(cx, ty) {
        return None;
    }
    let name = ident.unraw().to_string();
    let long = name.trim_start_matches('_').replace('_', "-");
    if long.is_empty() {
        cx.error(
            ident,
            "a #[command] argument needs a name: it is the flag, `--name`",
        );
        return None;
    }
    let (kind, value) = match option_inner(ty) {
        Some(inner) => {
            if !check_owned(cx, inner) {
                return None;
            }
            (Kind::Optional, inner.clone())
        }
        None if is_bool(ty) => (Kind::Flag, ty.clone()),
        None => (Kind::Required, ty.clone()),
    };
    Some(Arg {
        name,
        long,
        ty: ty.clone(),
        kind,
        value,
    })
}

/// Types a value cannot be parsed into from the command line, whatever
/// traits they have: borrowed, `impl Trait`, `_`.
fn check_owned(cx: &Ctxt, ty: &Type) -> bool {
    let problem = match ty {
        Type::Reference(r) => format!(
            "a #[command] argument is parsed into an owned value: write `{}` rather than `{}`",
            owned_form(&r.elem),
            attr::show_type(ty)
        ),
        Type::ImplTrait(_) => {
            "a #[command] argument cannot be `impl Trait`: name the type its value parses as"
                .to_owned()
        }
        Type::Infer(_) => "a #[command] argument needs its type written".to_owned(),
        Type::Paren(p) => return check_owned(cx, &p.elem),
        Type::Group(g) => return check_owned(cx, &g.elem),
        _ => return true,
    };
    cx.error(ty, problem);
    false
}

/// The owned type for a borrowed one: `String` for `str`, `PathBuf` for
/// `Path`, `Vec<T>` for `[T]`, else the type itself.
fn owned_form(ty: &Type) -> String {
    match ty {
        Type::Path(p) if p.path.is_ident("str") => "String".to_owned(),
        Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Path") => {
            "PathBuf".to_owned()
        }
        Type::Slice(s) => format!("Vec<{}>", attr::show_type(&s.elem)),
        other => attr::show_type(other),
    }
}

/// `T` of a type written `Option<T>` (or `std::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// A type written `bool`.
fn is_bool(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.is_ident("bool"))
}

/// For `args`: the entries of the static `CommandArg` table, and the
/// expressions that read each argument from `args: &CommandArgs` (shared
/// by `#[command]` and `#[page]`).
pub(crate) fn arg_table(args: &[Arg]) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let p = quote!(::faust::__private);
    let table = args
        .iter()
        .map(|arg| {
            let Arg { name, long, ty, .. } = arg;
            let value_name = long.to_uppercase().replace('-', "_");
            let shown = attr::show_type(ty);
            let kind = match arg.kind {
                Kind::Required => quote!(#p::ArgKind::Required),
                Kind::Optional => quote!(#p::ArgKind::Optional),
                Kind::Flag => quote!(#p::ArgKind::Flag),
            };
            // Spanned at the type: one that does not parse from text is
            // reported there.
            let value = &arg.value;
            let parse = quote_spanned!(value.span()=> #p::parse_command_arg::<#value>);
            quote! {
                #p::CommandArg {
                    name: #name,
                    long: #long,
                    value_name: #value_name,
                    ty: #shown,
                    kind: #kind,
                    parse: #parse,
                }
            }
        })
        .collect();
    let values = args
        .iter()
        .map(|arg| {
            let name = &arg.name;
            let value = &arg.value;
            match arg.kind {
                Kind::Required => quote!(args.value::<#value>(#name)?),
                Kind::Optional => quote!(args.option::<#value>(#name)?),
                Kind::Flag => quote!(args.flag(#name)?),
            }
        })
        .collect();
    (table, values)
}

/// The function; beside it the argument table and the function that
/// calls it; and the hidden module with its `CommandDef`.
pub(crate) fn generate(command: &Command) -> TokenStream {
    let Command {
        func, name, doc, ..
    } = command;
    let p = quote!(::faust::__private);
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let cfgs = func::cfg_attrs(func);
    let location = emit::location();
    // Beside the function, where the types of its signature are named.
    let args_static = format_ident!("__faust_command_args_{}", ident);
    let run_fn = format_ident!("__faust_command_run_{}", ident);

    let (table, values) = arg_table(&command.args);
    let count = command.args.len();
    // rustc reports a wrong return type at the call of the user's fn:
    // spanned from the fn's name to the end of its return type, the error
    // underlines the signature.
    let mut call_args =
        proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, quote!(#(#values),*));
    call_args.set_span(command.ret_span);
    let call = quote_spanned!(ident.span()=> #p::task_future(#ident #call_args));

    quote! {
        #func

        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        static #args_static: [#p::CommandArg; #count] = [#(#table),*];

        #(#cfgs)*
        #[doc(hidden)]
        fn #run_fn(args: &#p::CommandArgs) -> #p::Result<#p::TaskFuture> {
            ::core::result::Result::Ok(#call)
        }

        #(#cfgs)*
        #[doc(hidden)]
        #vis mod #ident {
            pub static COMMAND: #p::CommandDef = #p::CommandDef {
                name: #name,
                doc: #doc,
                args: &super::#args_static,
                location: #location,
                run: super::#run_fn,
            };

            #p::register! { command COMMAND }
        }
    }
}

pub(crate) fn with_errors(mut item: TokenStream, error: syn::Error) -> TokenStream {
    item.extend(error.into_compile_error());
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn command(args: TokenStream, func: ItemFn) -> Result<Command, Vec<String>> {
        Command::from_ast(args, func).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn arguments_are_required_optional_or_flags() {
        let c = command(
            quote!(),
            parse_quote! {
                /// Resets an account.
                async fn reset_totals(
                    account: String,
                    to: Option<u64>,
                    dry_run: bool,
                    r#type: std::option::Option<String>,
                ) -> faust::Result<()> {
                    Ok(())
                }
            },
        )
        .unwrap();
        assert_eq!(c.name, "reset-totals");
        assert_eq!(c.doc, "Resets an account.");
        let shown: Vec<(&str, &str, Kind, String)> = c
            .args
            .iter()
            .map(|a| {
                (
                    a.name.as_str(),
                    a.long.as_str(),
                    a.kind,
                    attr::show_type(&a.value),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("account", "account", Kind::Required, "String".to_owned()),
                ("to", "to", Kind::Optional, "u64".to_owned()),
                ("dry_run", "dry-run", Kind::Flag, "bool".to_owned()),
                ("type", "type", Kind::Optional, "String".to_owned()),
            ]
        );
    }

    #[test]
    fn the_name_option_renames_the_command() {
        let func: ItemFn = parse_quote!(
            async fn reset() -> faust::Result<()> {
                Ok(())
            }
        );
        let c = command(quote!(name = "zero"), func.clone()).unwrap();
        assert_eq!(c.name, "zero");
        let e = command(quote!(name = "-x"), func.clone()).unwrap_err();
        assert!(e[0].starts_with("a command name is one word"), "{e:?}");
        let e = command(quote!(nmae = "x"), func).unwrap_err();
        assert!(
            e[0].starts_with("unknown #[command] option `nmae`"),
            "{e:?}"
        );
    }

    #[test]
    fn borrowed_and_unnamed_arguments_are_reported_together() {
        let e = command(
            quote!(),
            parse_quote! {
                async fn f(a: &str, (b, c): (u8, u8), d: Option<&std::path::Path>, e: impl ToString) -> faust::Result<()> {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(
            e,
            [
                "a #[command] argument is parsed into an owned value: write `String` rather \
                 than `&str`",
                "#[command] arguments are named, each read from `--name VALUE`: write \
                 `name: Type`",
                "a #[command] argument is parsed into an owned value: write `PathBuf` rather \
                 than `&std::path::Path`",
                "a #[command] argument cannot be `impl Trait`: name the type its value parses as",
            ]
        );
    }

    #[test]
    fn two_arguments_with_one_flag_are_an_error() {
        let e = command(
            quote!(),
            parse_quote! {
                async fn f(dry_run: bool, _dry_run: bool) -> faust::Result<()> {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(
            e,
            ["two arguments of this #[command] are written --dry-run"]
        );
    }

    #[test]
    fn a_command_returns_unit_and_is_async() {
        let e = command(
            quote!(),
            parse_quote! {
                fn f() -> faust::Result<u32> {
                    Ok(1)
                }
            },
        )
        .unwrap_err();
        assert_eq!(
            e,
            [
                "#[command] needs an `async fn`: write `async fn f`",
                "a #[command] fn returns `Result<()>`, not `Result<u32>`: its result only says \
                 whether it failed; print what it finds, or send it to a topic with \
                 `TOPIC.send(..)`",
            ]
        );
    }

    #[test]
    fn generated_code_registers_a_command_def() {
        let c = command(
            quote!(),
            parse_quote! {
                async fn reset(account: String, dry_run: bool) -> faust::Result<()> {
                    Ok(())
                }
            },
        )
        .unwrap();
        let code = generate(&c).to_string();
        for expect in [
            "static __faust_command_args_reset : [:: faust :: __private :: CommandArg ; 2usize]",
            "parse : :: faust :: __private :: parse_command_arg :: < String >",
            "value_name : \"DRY_RUN\"",
            "kind : :: faust :: __private :: ArgKind :: Flag",
            "task_future (reset (args . value :: < String > (\"account\") ? , args . flag (\"dry_run\") ?))",
            "register ! { command COMMAND }",
        ] {
            assert!(code.contains(expect), "no `{expect}` in {code}");
        }
    }
}
