//! `#[task]`, `#[timer]` and `#[crontab]`: an `async fn` without arguments
//! that the worker runs once at start (task), every interval (timer), or
//! at the times a cron expression names (crontab).
//!
//! Both read into a [`Job`] whose [`Schedule`] says which; [`generate`]
//! emits the function plus a hidden module holding its `TaskDef` or
//! `TimerDef`.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, ItemFn, Lit};

use crate::attr::{self, Args, Once};
use crate::ctxt::Ctxt;
use crate::emit;
use crate::func::{self, Params};

/// What a task or timer fn must return, for the missing-return-type error.
const RETURNS: &str = "write `-> faust::Result<()>` (any `Result<(), E>` where `E` converts into \
                       a boxed error works)";

/// Which macro: `#[task]`, `#[timer]` or `#[crontab]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[task]`.
    Task,
    /// `#[timer]`.
    Timer,
    /// `#[crontab]`.
    Crontab,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Timer => "timer",
            Kind::Crontab => "crontab",
        }
    }

    fn options(self) -> &'static [&'static str] {
        match self {
            Kind::Task => &["name"],
            Kind::Timer => &["interval", "on_leader", "name"],
            Kind::Crontab => &["cron", "timezone", "on_leader", "name"],
        }
    }
}

/// Expands `#[task(args)]` or `#[timer(args)]` on `item`. On any error,
/// emits the function unchanged beside the errors.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match func::parse_fn(kind.attr(), item.clone()) {
        Ok(func) => func,
        Err(error) => return with_errors(item, error),
    };
    match Job::from_ast(kind, args, func) {
        Ok(job) => generate(&job),
        Err(error) => with_errors(item, error),
    }
}

/// A checked `#[task]` or `#[timer]`.
#[derive(Debug)]
pub(crate) struct Job {
    /// The function, emitted unchanged.
    pub(crate) func: ItemFn,
    /// Its name.
    pub(crate) name: String,
    /// When it runs.
    pub(crate) schedule: Schedule,
    /// The last token of the return type, where type errors end.
    pub(crate) ret_span: proc_macro2::Span,
}

/// When a job runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// Once, at start.
    Once,
    /// Every `interval` (> 0), on the leader only when `on_leader`.
    Every {
        /// Time between runs.
        interval: Duration,
        /// Run only on the leader worker.
        on_leader: bool,
    },
    /// At the times `cron` names in `timezone`.
    Cron {
        /// The cron expression (checked).
        cron: String,
        /// IANA time zone; `None`: UTC.
        timezone: Option<String>,
        /// Run only on the leader worker.
        on_leader: bool,
    },
}

impl Job {
    /// Parses and checks the options and the function, reporting every
    /// mistake at once.
    pub(crate) fn from_ast(kind: Kind, args: TokenStream, func: ItemFn) -> syn::Result<Job> {
        let cx = Ctxt::new();
        let attr_name = kind.attr();
        func::check_signature(&cx, attr_name, &func.sig, Params::None, RETURNS);
        let what = format!("a #[{attr_name}] fn");
        func::check_unit_result(
            &cx,
            &func.sig.output,
            &what,
            "its result only says whether it failed; send values to a topic with `TOPIC.send(..)`",
        );

        let args = Args::parse_or_report(&cx, args);
        let hint = match kind {
            Kind::Task => "name",
            Kind::Timer => "interval",
            Kind::Crontab => "cron",
        };
        let mut cron = Once::new("cron");
        let mut misspelt = Vec::new();
        if kind == Kind::Crontab {
            // `#[crontab("*/5 * * * *")]`: the expression comes first.
            let mut positional = args.positional.iter();
            if let Some(first) = positional.next() {
                let key = Ident::new("cron", first.span());
                cron.set(&cx, &key, read_cron(&cx, first));
            }
            for extra in positional {
                cx.error(
                    extra,
                    "#[crontab] takes one expression; write the other options `key = value`",
                );
            }
        } else {
            args.reject_positional(&cx, attr_name, hint);
            // Options written wrongly (a bare literal, a typo): a "missing
            // option" error would only repeat what is reported already.
            if !args.positional.is_empty() {
                misspelt.push(hint);
            }
        }

        let mut name = Once::new("name");
        let mut interval = Once::new("interval");
        let mut on_leader = Once::new("on_leader");
        let mut timezone = Once::new("timezone");
        for opt in &args.options {
            let key = &opt.key;
            match (kind, opt.name().as_str()) {
                (_, "name") => name.set(&cx, key, opt.non_empty_string(&cx, "name = \"cleanup\"")),
                (Kind::Timer, "interval") => interval.set(&cx, key, opt.duration(&cx, false)),
                (Kind::Timer | Kind::Crontab, "on_leader") => {
                    on_leader.set(&cx, key, opt.flag(&cx))
                }
                (Kind::Crontab, "cron") => {
                    let example = "cron = \"*/5 * * * *\"";
                    let value = opt
                        .string(&cx, example)
                        .and_then(|s| read_cron(&cx, &Lit::Str(s)));
                    cron.set(&cx, key, value);
                }
                (Kind::Crontab, "timezone") => timezone.set(
                    &cx,
                    key,
                    opt.non_empty_string(&cx, "timezone = \"Europe/Paris\""),
                ),
                _ => misspelt.extend(attr::unknown_option(
                    &cx,
                    &format!("#[{attr_name}] option"),
                    key,
                    kind.options(),
                )),
            }
        }
        if kind == Kind::Timer && interval.key().is_none() && !misspelt.contains(&"interval") {
            cx.error_at(
                func::attribute_span(),
                "#[timer] needs an interval: add `interval = \"10s\"` (or a number of seconds, \
                 `interval = 10`)",
            );
        }
        if kind == Kind::Crontab && cron.key().is_none() && !misspelt.contains(&"cron") {
            cx.error_at(
                func::attribute_span(),
                "#[crontab] needs a cron expression: write `#[crontab(\"*/5 * * * *\")]` \
                 (minute hour day-of-month month day-of-week)",
            );
        }

        cx.check()?;

        let on_leader = on_leader.get().unwrap_or(false);
        let schedule = match kind {
            Kind::Task => Schedule::Once,
            Kind::Timer => Schedule::Every {
                interval: interval.get().unwrap_or(Duration::from_secs(1)),
                on_leader,
            },
            Kind::Crontab => Schedule::Cron {
                cron: cron.get().unwrap_or_default(),
                timezone: timezone.get().map(|z| z.value()),
                on_leader,
            },
        };
        let ret_span = match &func.sig.output {
            syn::ReturnType::Type(_, ty) => func::last_span(ty),
            syn::ReturnType::Default => func.sig.ident.span(),
        };
        Ok(Job {
            ret_span,
            name: name
                .get()
                .map_or_else(|| func::name_of(&func.sig.ident), |n| n.value()),
            schedule,
            func,
        })
    }
}

/// The function and the hidden module with its `TaskDef` or `TimerDef`.
pub(crate) fn generate(job: &Job) -> TokenStream {
    let Job { func, name, .. } = job;
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let cfgs = func::cfg_attrs(func);
    let location = emit::location();
    // rustc reports a wrong return type at the call of the user's fn:
    // spanned from the fn's name to the end of its return type, the error
    // underlines the signature.
    let mut no_args =
        proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, TokenStream::new());
    no_args.set_span(job.ret_span);
    let run =
        quote_spanned!(ident.span()=> ::faust::__private::task_future(super::#ident #no_args));

    let (def_name, def) = match &job.schedule {
        Schedule::Once => {
            let def_name = format_ident!("TASK");
            let def = quote! {
                pub static #def_name: ::faust::__private::TaskDef = ::faust::__private::TaskDef {
                    name: #name,
                    location: #location,
                    run: __run,
                };
            };
            (quote!(task #def_name), def)
        }
        Schedule::Every {
            interval,
            on_leader,
        } => {
            let def_name = format_ident!("TIMER");
            let interval = emit::duration(*interval);
            let def = quote! {
                pub static #def_name: ::faust::__private::TimerDef = ::faust::__private::TimerDef {
                    name: #name,
                    interval: #interval,
                    cron: ::core::option::Option::None,
                    timezone: ::core::option::Option::None,
                    on_leader: #on_leader,
                    location: #location,
                    run: __run,
                };
            };
            (quote!(timer #def_name), def)
        }
        Schedule::Cron {
            cron,
            timezone,
            on_leader,
        } => {
            let def_name = format_ident!("TIMER");
            let timezone = emit::option(timezone.as_ref());
            let def = quote! {
                pub static #def_name: ::faust::__private::TimerDef = ::faust::__private::TimerDef {
                    name: #name,
                    interval: ::faust::__private::Duration::ZERO,
                    cron: ::core::option::Option::Some(#cron),
                    timezone: #timezone,
                    on_leader: #on_leader,
                    location: #location,
                    run: __run,
                };
            };
            (quote!(timer #def_name), def)
        }
    };

    quote! {
        #func

        #(#cfgs)*
        #[doc(hidden)]
        #vis mod #ident {
            #def

            fn __run() -> ::faust::__private::TaskFuture {
                #run
            }

            ::faust::__private::register! { #def_name }
        }
    }
}

/// A cron expression as the runtime reads it (5 fields, or 6 with
/// seconds first), checked now so a mistake is a compile error.
fn read_cron(cx: &Ctxt, lit: &Lit) -> Option<String> {
    let Lit::Str(s) = lit else {
        cx.error(
            lit,
            "the cron expression is a string: `#[crontab(\"*/5 * * * *\")]`",
        );
        return None;
    };
    let expr = s.value();
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(&expr);
    match parsed {
        Ok(_) => Some(expr),
        Err(e) => {
            cx.error(
                s,
                format!(
                    "{:?} is not a cron expression: {e} (five fields: minute hour day-of-month \
                     month day-of-week, e.g. \"*/5 * * * *\"; a sixth in front for seconds)",
                    expr
                ),
            );
            None
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
    use syn::parse_quote;

    fn job(kind: Kind, args: TokenStream) -> Result<Job, Vec<String>> {
        let func: ItemFn = parse_quote!(
            async fn tick() -> faust::Result<()> {
                Ok(())
            }
        );
        Job::from_ast(kind, args, func).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn a_task_is_named_after_its_fn_unless_told() {
        assert_eq!(job(Kind::Task, quote!()).unwrap().name, "tick");
        assert_eq!(job(Kind::Task, quote!(name = "t")).unwrap().name, "t");
        assert_eq!(job(Kind::Task, quote!()).unwrap().schedule, Schedule::Once);
    }

    #[test]
    fn a_task_has_no_interval() {
        let e = job(Kind::Task, quote!(interval = "1s")).unwrap_err();
        assert_eq!(
            e,
            ["unknown #[task] option `interval`; expected one of: name"]
        );
    }

    #[test]
    fn a_timer_reads_interval_and_on_leader() {
        let t = job(Kind::Timer, quote!(interval = "500ms", on_leader)).unwrap();
        assert_eq!(
            t.schedule,
            Schedule::Every {
                interval: Duration::from_millis(500),
                on_leader: true
            }
        );
        let t = job(Kind::Timer, quote!(interval = 2.5)).unwrap();
        assert_eq!(
            t.schedule,
            Schedule::Every {
                interval: Duration::from_millis(2500),
                on_leader: false
            }
        );
    }

    #[test]
    fn a_crontab_reads_its_expression_zone_and_leader_flag() {
        let t = job(
            Kind::Crontab,
            quote!("0 9 * * mon-fri", timezone = "Europe/Paris", on_leader),
        )
        .unwrap();
        assert_eq!(
            t.schedule,
            Schedule::Cron {
                cron: "0 9 * * mon-fri".into(),
                timezone: Some("Europe/Paris".into()),
                on_leader: true
            }
        );
        let e = job(Kind::Crontab, quote!("0 25 * * *")).unwrap_err();
        assert!(
            e[0].starts_with("\"0 25 * * *\" is not a cron expression"),
            "{e:?}"
        );
        let e = job(Kind::Crontab, quote!(on_leader)).unwrap_err();
        assert!(
            e[0].starts_with("#[crontab] needs a cron expression"),
            "{e:?}"
        );
    }

    #[test]
    fn a_timer_needs_a_positive_interval() {
        let e = job(Kind::Timer, quote!()).unwrap_err();
        assert!(e[0].starts_with("#[timer] needs an interval"), "{e:?}");
        let e = job(Kind::Timer, quote!(interval = 0)).unwrap_err();
        assert_eq!(e, ["`interval` must be longer than zero, found `0`"]);
    }

    #[test]
    fn a_positional_interval_gets_a_hint() {
        let e = job(Kind::Timer, quote!("10s")).unwrap_err();
        assert_eq!(
            e,
            ["#[timer] options are written `key = value`; write `interval = \"10s\"`"]
        );
    }

    #[test]
    fn a_task_returns_unit() {
        let func: ItemFn = parse_quote!(
            async fn t() -> faust::Result<u32> {
                Ok(1)
            }
        );
        let e = Job::from_ast(Kind::Task, quote!(), func).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a #[task] fn returns `Result<()>`, not `Result<u32>`")
        );
    }

    #[test]
    fn a_task_with_an_argument_is_rejected() {
        let func: ItemFn = parse_quote!(
            async fn t(n: u32) -> faust::Result<()> {
                Ok(())
            }
        );
        let e = Job::from_ast(Kind::Task, quote!(), func).unwrap_err();
        assert_eq!(
            e.to_string(),
            "#[task] fn takes no arguments, found `n: u32`"
        );
    }
}
