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
pub(crate) const WINDOW_OPTIONS: [&str; 10] = [
    "tumbling",
    "hopping",
    "sliding",
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
        }
    }
}

impl WindowReader {
    /// Reads `opt` if it is a window option; false otherwise.
    pub(crate) fn read(&mut self, cx: &Ctxt, opt: &Opt) -> bool {
        let key = &opt.key;
        let name = opt.name();
        match name.as_str() {
            "tumbling" | "hopping" | "sliding" => {
                let kind = match name.as_str() {
                    "tumbling" => opt.duration(cx, false).map(WindowKind::Tumbling),
                    "hopping" => read_hopping(cx, opt),
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

    /// The checked windows; `None` for a table without any. `ty_is_windowed`
    /// says whether the declared type `ty` is `WindowedTable<..>`; a
    /// mismatch is reported at it.
    pub(crate) fn finish(
        self,
        cx: &Ctxt,
        ty_is_windowed: bool,
        ty: &syn::Type,
    ) -> Option<WindowOpts> {
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
        if !ty_is_windowed {
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
        Some(WindowOpts {
            kind,
            expires,
            grace,
            processing_time: self.time.get().is_some_and(|t| t.value() == "processing"),
            dead_letter_late: self.late.get().is_some_and(|l| l.value() == "dead_letter"),
            on_close,
            on_late: self.on_late.get(),
            emit_closed,
        })
    }
}

fn read_hopping(cx: &Ctxt, opt: &Opt) -> Option<WindowKind> {
    let example = "hopping(size = \"10m\", step = \"1m\")";
    let args = opt.nested(cx, example)?;
    args.reject_positional(cx, "table", "size");
    let mut size = Once::new("size");
    let mut step = Once::new("step");
    for inner in &args.options {
        match inner.name().as_str() {
            "size" => size.set(cx, &inner.key, inner.duration(cx, false)),
            "step" => step.set(cx, &inner.key, inner.duration(cx, false)),
            _ => {
                crate::attr::unknown_option(cx, "hopping option", &inner.key, &["size", "step"]);
            }
        }
    }
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
    let args = opt.nested(cx, example)?;
    args.reject_positional(cx, "table", "before");
    let mut before = Once::new("before");
    let mut after = Once::new("after");
    for inner in &args.options {
        match inner.name().as_str() {
            "before" => before.set(cx, &inner.key, inner.duration(cx, true)),
            "after" => after.set(cx, &inner.key, inner.duration(cx, true)),
            _ => {
                crate::attr::unknown_option(cx, "sliding option", &inner.key, &["before", "after"]);
            }
        }
    }
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
    let on_close = match &window.on_close {
        Some(path) => {
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
        None => quote!(::core::option::Option::None),
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
