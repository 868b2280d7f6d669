//! The window options of `#[table]`: `tumbling`, `hopping(..)`,
//! `sliding(..)`, `expires`, `grace`, `time`, `late`, `on_window_close`,
//! `on_late`, `emit_closed`. Read into a [`WindowOpts`], checked, and
//! turned into a `WindowDef` static beside the table's `TableDef`.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, LitStr};

use crate::attr::{KafkaName, Once, Opt};
use crate::ctxt::Ctxt;
use crate::emit;

/// The options that make or shape a windowed table.
pub(crate) const WINDOW_OPTIONS: [&str; 11] = [
    "tumbling",
    "hopping",
    "sliding",
    "join",
    "expires",
    "grace",
    "time",
    "late",
    "on_window_close",
    "on_late",
    "emit_closed",
];

/// A table's windows, as its attribute declares them.
#[derive(Debug)]
pub(crate) struct WindowOpts {
    pub(crate) kind: WindowKind,
    pub(crate) expires: Option<Duration>,
    pub(crate) grace: Option<Duration>,
    pub(crate) processing_time: bool,
    pub(crate) dead_letter_late: bool,
    pub(crate) on_close: Option<syn::Path>,
    pub(crate) on_late: Option<syn::Path>,
    pub(crate) emit_closed: Option<LitStr>,
    /// A `JoinWindow`: its `on_unmatched` function, if any (the window is
    /// a tumbling one of `within`, with `grace` and `expires` of `within`
    /// plus the join's grace).
    pub(crate) join: Option<Option<syn::Path>>,
}

/// The shape of the windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WindowKind {
    Tumbling(Duration),
    Hopping { size: Duration, step: Duration },
    Sliding { before: Duration, after: Duration },
}

/// Collects the window options of one `#[table]` while its options are
/// read, then checks them together.
pub(crate) struct WindowReader {
    kind: Option<(Ident, Option<WindowKind>)>,
    expires: Once<Duration>,
    grace: Once<Duration>,
    time: Once<LitStr>,
    late: Once<LitStr>,
    on_close: Once<syn::Path>,
    on_late: Once<syn::Path>,
    emit_closed: Once<LitStr>,
    /// The first window-only option given, for "needs a window".
    first_extra: Option<Ident>,
    /// `join(...)`: its key, and the `on_unmatched` function.
    join: Option<(Ident, Option<syn::Path>)>,
}

impl Default for WindowReader {
    fn default() -> Self {
        WindowReader {
            kind: None,
            expires: Once::new("expires"),
            grace: Once::new("grace"),
            time: Once::new("time"),
            late: Once::new("late"),
            on_close: Once::new("on_window_close"),
            on_late: Once::new("on_late"),
            emit_closed: Once::new("emit_closed"),
            first_extra: None,
            join: None,
        }
    }
}

impl WindowReader {
    /// Reads `opt` if it is a window option; false otherwise.
    pub(crate) fn read(&mut self, cx: &Ctxt, opt: &Opt) -> bool {
        let key = &opt.key;
        let name = opt.name();
        match name.as_str() {
            "tumbling" | "hopping" | "sliding" | "join" => {
                let kind = match name.as_str() {
                    "tumbling" => opt.duration(cx, false).map(WindowKind::Tumbling),
                    "hopping" => read_hopping(cx, opt),
                    "join" => {
                        let join = read_join(cx, opt);
                        // Known to be a join even when its options are wrong.
                        self.join = Some((key.clone(), join.as_ref().and_then(|j| j.2.clone())));
                        join.map(|(within, grace, _)| {
                            if let Some(grace) = grace {
                                self.grace.set(cx, key, Some(grace));
                            }
                            WindowKind::Tumbling(within)
                        })
                    }
                    _ => read_sliding(cx, opt),
                };
                match &self.kind {
                    Some((first, _)) => cx.error(
                        key,
                        format!(
                            "a table has one kind of window: `{first}` is set already, remove \
                             `{key}`"
                        ),
                    ),
                    None => self.kind = Some((key.clone(), kind)),
                }
                return true;
            }
            _ => {}
        }
        if !WINDOW_OPTIONS.contains(&name.as_str()) {
            return false;
        }
        self.first_extra.get_or_insert_with(|| key.clone());
        match name.as_str() {
            "expires" => self.expires.set(cx, key, opt.duration(cx, false)),
            "grace" => self.grace.set(cx, key, opt.duration(cx, true)),
            "time" => self.time.set(
                cx,
                key,
                opt.one_of(cx, "window time", &["event", "processing"], ""),
            ),
            "late" => self.late.set(
                cx,
                key,
                opt.one_of(cx, "late-event policy", &["drop", "dead_letter"], ""),
            ),
            "on_window_close" => {
                self.on_close
                    .set(cx, key, opt.path(cx, "on_window_close = report_window"))
            }
            "on_late" => self
                .on_late
                .set(cx, key, opt.path(cx, "on_late = count_late")),
            "emit_closed" => self
                .emit_closed
                .set(cx, key, opt.kafka_name(cx, KafkaName::Topic)),
            _ => return false,
        }
        true
    }

    /// The checked windows; `None` for a table without any. `ty_is` says
    /// which kind of table the declared type `ty` is; a mismatch is
    /// reported at it.
    pub(crate) fn finish(self, cx: &Ctxt, ty_is: TableType, ty: &syn::Type) -> Option<WindowOpts> {
        let ty_is_windowed = ty_is == TableType::Windowed;
        if let Some((join_key, _)) = &self.join {
            if ty_is != TableType::Join {
                cx.error(
                    ty,
                    format!(
                        "a table with `{join_key}` is declared `JoinWindow<K, L, R>` (from \
                         `faust::window`)"
                    ),
                );
            }
            for (set, what) in [
                (self.expires.key(), "expires"),
                (self.on_close.key(), "on_window_close"),
                (self.emit_closed.key(), "emit_closed"),
            ] {
                if let Some(key) = set {
                    cx.error(
                        key,
                        format!(
                            "`{what}` is not for a join: it keeps events for `within` plus its \
                             `grace`, and hands unmatched left events to `on_unmatched`"
                        ),
                    );
                }
            }
        } else if ty_is == TableType::Join {
            cx.error(
                ty,
                "a JoinWindow needs its window: add `join(within = \"5m\")`",
            );
            return None;
        }
        let Some((kind_key, kind)) = self.kind else {
            if let Some(extra) = &self.first_extra {
                cx.error(
                    extra,
                    format!(
                        "`{extra}` is a window option, but the table has no window: add \
                         `tumbling = \"1m\"`, `hopping(size = \"10m\", step = \"1m\")` or \
                         `sliding(before = \"30s\", after = \"30s\")`"
                    ),
                );
            } else if ty_is_windowed {
                cx.error(
                    ty,
                    "a WindowedTable needs its windows: add `tumbling = \"1m\"`, `hopping(size = \
                     \"10m\", step = \"1m\")` or `sliding(before = \"30s\", after = \"30s\")`",
                );
            }
            return None;
        };
        if !ty_is_windowed && self.join.is_none() {
            cx.error(
                ty,
                format!(
                    "a table with `{kind_key}` windows is declared `WindowedTable<K, V>` (from \
                     `faust::window`)"
                ),
            );
        }
        let expires = self.expires.get();
        let grace_key = self.grace.key().cloned();
        let grace = self.grace.get();
        if let (Some(g), Some(e), Some(key)) = (grace, expires, &grace_key)
            && g > e
        {
            cx.error(
                key,
                format!(
                    "grace ({g:?}) is longer than expires ({e:?}): a window is kept until it \
                     closes; make expires at least as long as grace"
                ),
            );
        }
        let kind = kind?;
        let on_close = self.on_close.get();
        let emit_closed = self.emit_closed.get();
        let join = self.join.map(|(_, unmatched)| unmatched);
        // A join keeps its events `within` plus its grace after their
        // bucket ends (a match may come up to `within` later).
        let (grace, expires) = match (&join, kind) {
            (Some(_), WindowKind::Tumbling(within)) => {
                let kept = within + grace.unwrap_or_default();
                (Some(kept), Some(kept))
            }
            _ => (grace, expires),
        };
        Some(WindowOpts {
            kind,
            expires,
            grace,
            processing_time: self.time.get().is_some_and(|t| t.value() == "processing"),
            dead_letter_late: self.late.get().is_some_and(|l| l.value() == "dead_letter"),
            on_close,
            on_late: self.on_late.get(),
            emit_closed,
            join,
        })
    }
}

/// What kind of table the declared type is (by its last path segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TableType {
    /// `WindowedTable<..>`.
    Windowed,
    /// `JoinWindow<..>`.
    Join,
    /// Anything else.
    Other,
}

/// `join(within = "5m", grace = "30s", on_unmatched = f)`.
fn read_join(cx: &Ctxt, opt: &Opt) -> Option<(Duration, Option<Duration>, Option<syn::Path>)> {
    let example = "join(within = \"5m\", on_unmatched = report_unpaid)";
    let args = opt.nested(cx, example)?;
    args.reject_positional(cx, "table", "within");
    let mut within = Once::new("within");
    let mut grace = Once::new("grace");
    let mut unmatched = Once::new("on_unmatched");
    for inner in &args.options {
        match inner.name().as_str() {
            "within" => within.set(cx, &inner.key, inner.duration(cx, false)),
            "grace" => grace.set(cx, &inner.key, inner.duration(cx, true)),
            "on_unmatched" => unmatched.set(cx, &inner.key, inner.path(cx, "on_unmatched = f")),
            _ => {
                crate::attr::unknown_option(
                    cx,
                    "join option",
                    &inner.key,
                    &["within", "grace", "on_unmatched"],
                );
            }
        }
    }
    let within_set = within.key().is_some();
    match within.get() {
        Some(within) => Some((within, grace.get(), unmatched.get())),
        None => {
            if !within_set {
                cx.error(
                    &opt.key,
                    format!("`join` needs `within`: write `{example}`"),
                );
            }
            None
        }
    }
}

fn read_hopping(cx: &Ctxt, opt: &Opt) -> Option<WindowKind> {
    let example = "hopping(size = \"10m\", step = \"1m\")";
    let [size, step] = duration_pair(cx, opt, "hopping", example, ["size", "step"], false)?;
    let (size_key, step_key) = (size.key().cloned(), step.key().cloned());
    match (size.get(), step.get()) {
        (Some(size), Some(step)) if step > size => {
            if let Some(key) = step_key {
                cx.error(
                    &key,
                    format!(
                        "hopping windows start every `step` and last `size`: a step of {step:?} \
                         is longer than the size {size:?}, which would leave gaps"
                    ),
                );
            }
            None
        }
        (Some(size), Some(step)) => Some(WindowKind::Hopping { size, step }),
        _ => {
            if size_key.is_none() || step_key.is_none() {
                cx.error(
                    &opt.key,
                    format!("`hopping` needs a size and a step: write `{example}`"),
                );
            }
            None
        }
    }
}

fn read_sliding(cx: &Ctxt, opt: &Opt) -> Option<WindowKind> {
    let example = "sliding(before = \"30s\", after = \"30s\")";
    let [before, after] = duration_pair(cx, opt, "sliding", example, ["before", "after"], true)?;
    let before = before.get().unwrap_or_default();
    let after = after.get().unwrap_or_default();
    if before.is_zero() && after.is_zero() {
        cx.error(
            &opt.key,
            format!("a sliding window needs `before` or `after` above zero: write `{example}`"),
        );
        return None;
    }
    Some(WindowKind::Sliding { before, after })
}

/// The two durations of `what(a = "..", b = "..")`, named `names`, each
/// set at most once (`zero_ok`: whether zero is allowed).
fn duration_pair(
    cx: &Ctxt,
    opt: &Opt,
    what: &str,
    example: &str,
    names: [&'static str; 2],
    zero_ok: bool,
) -> Option<[Once<Duration>; 2]> {
    let args = opt.nested(cx, example)?;
    args.reject_positional(cx, "table", names[0]);
    let mut pair = names.map(Once::new);
    for inner in &args.options {
        match names.iter().position(|n| inner.name() == *n) {
            Some(i) => pair[i].set(cx, &inner.key, inner.duration(cx, zero_ok)),
            None => {
                let kind = format!("{what} option");
                crate::attr::unknown_option(cx, &kind, &inner.key, &names);
            }
        }
    }
    Some(pair)
}

/// The `WindowDef` static (named `WINDOW`) and the hook functions, for the
/// block that initializes the table `ty`.
pub(crate) fn generate(window: &WindowOpts, ty: &syn::Type) -> TokenStream {
    let p = quote!(::faust::__private);
    let kind = match window.kind {
        WindowKind::Tumbling(size) => {
            let size = emit::duration(size);
            quote!(#p::WindowKind::Tumbling { size: #size })
        }
        WindowKind::Hopping { size, step } => {
            let (size, step) = (emit::duration(size), emit::duration(step));
            quote!(#p::WindowKind::Hopping { size: #size, step: #step })
        }
        WindowKind::Sliding { before, after } => {
            let (before, after) = (emit::duration(before), emit::duration(after));
            quote!(#p::WindowKind::Sliding { before: #before, after: #after })
        }
    };
    let expires = emit::option(window.expires.map(emit::duration));
    let grace = emit::option(window.grace.map(emit::duration));
    let time = if window.processing_time {
        quote!(#p::TimeSource::Processing)
    } else {
        quote!(#p::TimeSource::Event)
    };
    let late = if window.dead_letter_late {
        quote!(#p::LatePolicy::DeadLetter)
    } else {
        quote!(#p::LatePolicy::Drop)
    };
    let emit_closed = emit::option(window.emit_closed.as_ref());
    let mut hooks = TokenStream::new();
    let on_close = match (&window.on_close, &window.join) {
        (_, Some(Some(path))) => {
            let call =
                quote_spanned!(path.span()=> <#ty>::call_on_unmatched(__faust_window, #path));
            hooks.extend(quote! {
                fn __on_window_close(__faust_window: #p::ClosedWindow) -> #p::TaskFuture {
                    #call
                }
            });
            quote!(::core::option::Option::Some(__on_window_close as fn(#p::ClosedWindow) -> #p::TaskFuture))
        }
        (Some(path), None) => {
            // Spanned at the path: a function of the wrong shape is
            // reported where it is named.
            // The argument's name must not hide a user function.
            let call = quote_spanned!(path.span()=> <#ty>::call_on_close(__faust_window, #path));
            hooks.extend(quote! {
                fn __on_window_close(__faust_window: #p::ClosedWindow) -> #p::TaskFuture {
                    #call
                }
            });
            quote!(::core::option::Option::Some(__on_window_close as fn(#p::ClosedWindow) -> #p::TaskFuture))
        }
        _ => quote!(::core::option::Option::None),
    };
    let on_late = match &window.on_late {
        Some(path) => {
            let call = quote_spanned!(path.span()=> <#ty>::call_on_late(__faust_late, #path));
            hooks.extend(quote! {
                fn __on_late(__faust_late: #p::LateEvent) -> #p::TaskFuture {
                    #call
                }
            });
            quote!(::core::option::Option::Some(__on_late as fn(#p::LateEvent) -> #p::TaskFuture))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #hooks
        static WINDOW: #p::WindowDef = #p::WindowDef {
            kind: #kind,
            expires: #expires,
            grace: #grace,
            time: #time,
            late: #late,
            on_close: #on_close,
            on_late: #on_late,
            emit_closed: #emit_closed,
        };
    }
}
