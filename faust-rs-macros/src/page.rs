//! `#[page("/path/{param}")]`: an `async fn` that answers `GET` on a route
//! of the worker's web endpoint.
//!
//! [`Page::from_ast`] checks the path and the function, reading each
//! argument with the `#[command]` rules (its kind, the type its value
//! parses as) and matching the required ones to the path's parameters;
//! [`generate`] emits the function, beside it the argument table and a
//! function that calls it with a request's parameters, and the hidden
//! module holding its `PageDef`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{FnArg, ItemFn, Lit, LitStr};

use crate::attr::{self, Args};
use crate::command::{self, Arg, Kind};
use crate::ctxt::Ctxt;
use crate::emit;
use crate::func::{self, Params};

/// What a page fn must return, for the missing-return-type error.
const RETURNS: &str = "write `-> faust::Result<T>` with `T: Serialize` (answered as JSON), or \
                       `-> faust::Result<faust::web::Reply>`";

/// Expands `#[page(args)]` on `item`. On any error, emits the function
/// unchanged beside the errors.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match func::parse_fn("page", item.clone()) {
        Ok(func) => func,
        Err(error) => return command::with_errors(item, error),
    };
    match Page::from_ast(args, func) {
        Ok(page) => generate(&page),
        Err(error) => command::with_errors(item, error),
    }
}

/// A checked `#[page]`.
#[derive(Debug)]
pub(crate) struct Page {
    /// The function, emitted unchanged.
    pub(crate) func: ItemFn,
    /// The route.
    pub(crate) path: String,
    /// The function's doc comment.
    pub(crate) doc: String,
    /// Its arguments, in order: required ones are path parameters.
    pub(crate) args: Vec<Arg>,
    /// The last token of the return type, where type errors end.
    pub(crate) ret_span: Span,
}

impl Page {
    /// Parses and checks the path and the function, reporting every
    /// mistake at once.
    pub(crate) fn from_ast(args: TokenStream, func: ItemFn) -> syn::Result<Page> {
        let cx = Ctxt::new();
        func::check_signature(&cx, "page", &func.sig, Params::Any, RETURNS);

        let options = Args::parse_or_report(&cx, args);
        for opt in &options.options {
            cx.error(
                &opt.key,
                "#[page] takes only its path: write `#[page(\"/counts/{word}\")]`",
            );
        }
        let path = match options.positional.as_slice() {
            [Lit::Str(path)] => read_path(&cx, path),
            [] => {
                cx.error_at(
                    func::attribute_span(),
                    "#[page] needs its path: write `#[page(\"/counts/{word}\")]`",
                );
                None
            }
            [_, extra, ..] => {
                cx.error(extra, "#[page] takes one path");
                None
            }
            [other] => {
                cx.error(
                    other,
                    "a page's path is a string: `#[page(\"/counts/{word}\")]`",
                );
                None
            }
        };

        let args: Vec<Arg> = func
            .sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                FnArg::Typed(arg) => command::read_arg(&cx, &arg.pat, &arg.ty),
                // Reported by check_signature.
                FnArg::Receiver(_) => None,
            })
            .map(|mut arg| {
                // A parameter is named as the argument is, `_` and all.
                arg.long = arg.name.clone();
                arg
            })
            .collect();
        if let Some((path, lit, params)) = &path {
            for arg in &args {
                let in_path = params.contains(&arg.name);
                match arg.kind {
                    Kind::Required if !in_path => cx.error(
                        &arg.ty,
                        format!(
                            "argument `{}` is not a parameter of the path {path:?}: add `{{{}}}` \
                             to the path, or make it `Option<{}>` to read it from the query \
                             string",
                            arg.name,
                            arg.name,
                            attr::show_type(&arg.ty)
                        ),
                    ),
                    Kind::Optional | Kind::Flag if in_path => cx.error(
                        &arg.ty,
                        format!(
                            "argument `{}` is the path parameter `{{{}}}`, which is always \
                             given: write its type without `Option` (or `bool`: any \
                             `FromStr` type)",
                            arg.name, arg.name
                        ),
                    ),
                    _ => {}
                }
            }
            for param in params {
                if !args.iter().any(|a| &a.name == param) {
                    cx.error(
                        lit,
                        format!(
                            "the path's parameter `{{{param}}}` has no argument: add \
                             `{param}: String` (or another `FromStr` type) to the function"
                        ),
                    );
                }
            }
        }

        cx.check()?;

        let ret_span = match &func.sig.output {
            syn::ReturnType::Type(_, ty) => func::last_span(ty),
            syn::ReturnType::Default => func.sig.ident.span(),
        };
        Ok(Page {
            path: path.map(|(p, _, _)| p).unwrap_or_default(),
            doc: attr::doc_text(&func.attrs),
            args,
            ret_span,
            func,
        })
    }
}

/// The path, the literal and its parameters' names, or errors: it starts
/// with `/`, and each parameter is a whole segment `{name}`.
fn read_path(cx: &Ctxt, lit: &LitStr) -> Option<(String, LitStr, Vec<String>)> {
    let path = lit.value();
    if !path.starts_with('/') {
        cx.error(
            lit,
            format!("a page's path starts with `/`: write \"/{path}\""),
        );
        return None;
    }
    let mut params = Vec::new();
    for segment in path[1..].split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let ident = name.strip_prefix('*').unwrap_or(name);
            if name.starts_with('*') || syn::parse_str::<syn::Ident>(ident).is_err() {
                cx.error(
                    lit,
                    format!(
                        "`{segment}` is not a parameter: a parameter is `{{name}}`, `name` an \
                         argument of the function"
                    ),
                );
                return None;
            }
            if params.iter().any(|p| p == name) {
                cx.error(lit, format!("the path names `{{{name}}}` twice"));
                return None;
            }
            params.push(name.to_owned());
        } else if segment.contains(['{', '}']) {
            cx.error(
                lit,
                format!(
                    "segment `{segment}`: a parameter is a whole segment, `/{{name}}`, not part \
                     of one"
                ),
            );
            return None;
        }
    }
    Some((path, lit.clone(), params))
}

/// The function; beside it the argument table and the function that
/// calls it; and the hidden module with its `PageDef`.
pub(crate) fn generate(page: &Page) -> TokenStream {
    let Page {
        func, path, doc, ..
    } = page;
    let p = quote!(::faust::__private);
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let cfgs = func::cfg_attrs(func);
    let location = emit::location();
    let args_static = format_ident!("__faust_page_args_{}", ident);
    let run_fn = format_ident!("__faust_page_run_{}", ident);

    let (table, values) = command::arg_table(&page.args);
    let count = page.args.len();
    let mut call_args =
        proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, quote!(#(#values),*));
    call_args.set_span(page.ret_span);
    let call = quote_spanned!(ident.span()=> #p::page_future(#ident #call_args));

    quote! {
        #func

        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        static #args_static: [#p::CommandArg; #count] = [#(#table),*];

        #(#cfgs)*
        #[doc(hidden)]
        fn #run_fn(args: &#p::CommandArgs) -> #p::Result<#p::PageFuture> {
            ::core::result::Result::Ok(#call)
        }

        #(#cfgs)*
        #[doc(hidden)]
        #vis mod #ident {
            pub static PAGE: #p::PageDef = #p::PageDef {
                path: #path,
                doc: #doc,
                args: &super::#args_static,
                location: #location,
                run: super::#run_fn,
            };

            #p::register! { page PAGE }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn page(args: TokenStream, func: ItemFn) -> Result<Page, Vec<String>> {
        Page::from_ast(args, func).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn path_parameters_and_query_parameters() {
        let p = page(
            quote!("/counts/{word}"),
            parse_quote! {
                /// A word's count.
                async fn count(word: String, at: Option<u64>, raw: bool) -> faust::Result<u64> {
                    Ok(0)
                }
            },
        )
        .unwrap();
        assert_eq!(p.path, "/counts/{word}");
        assert_eq!(p.doc, "A word's count.");
        let kinds: Vec<(&str, Kind)> = p.args.iter().map(|a| (a.long.as_str(), a.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("word", Kind::Required),
                ("at", Kind::Optional),
                ("raw", Kind::Flag)
            ]
        );
    }

    #[test]
    fn parameters_and_arguments_must_match() {
        let errors = page(
            quote!("/counts/{word}/{day}"),
            parse_quote! {
                async fn count(word: Option<String>, other: u32) -> faust::Result<u64> { Ok(0) }
            },
        )
        .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("always given"), "{errors:?}");
        assert!(
            errors[1].contains("`other` is not a parameter"),
            "{errors:?}"
        );
        assert!(errors[2].contains("`{day}` has no argument"), "{errors:?}");
    }

    #[test]
    fn paths_are_checked() {
        let func: ItemFn = parse_quote!(
            async fn p() -> faust::Result<u64> {
                Ok(0)
            }
        );
        for (path, expected) in [
            (quote!("counts"), "starts with `/`"),
            (quote!("/a/x{y}"), "whole segment"),
            (quote!("/a/{*rest}"), "is not a parameter"),
            (quote!(), "needs its path"),
            (quote!(path = "/a"), "takes only its path"),
        ] {
            let errors = page(path.clone(), func.clone()).unwrap_err();
            assert!(errors[0].contains(expected), "{path}: {errors:?}");
        }
    }
}
