//! The error collector every macro parses with.
//!
//! A user who writes three mistakes in one attribute should see three errors
//! in one build, each under the token it is about. So parsing never stops at
//! the first problem: it records a spanned [`syn::Error`] here and goes on
//! with a default, and the model is only built when [`Ctxt::check`] finds no
//! error (the idea of serde_derive's `internals/ctxt.rs`).

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// Collects errors while a macro input is parsed into its model.
///
/// It must be consumed with [`Ctxt::check`]; dropping it unchecked is a bug
/// in this crate (errors would be lost) and panics in debug builds.
#[derive(Debug)]
pub(crate) struct Ctxt {
    // `None` once checked, so a forgotten check can be detected on drop.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    /// A collector with no errors yet.
    pub(crate) fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error spanning the tokens of `at`.
    pub(crate) fn error(&self, at: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(at.into_token_stream(), message));
    }

    /// Records an error at `span`.
    pub(crate) fn error_at(&self, span: proc_macro2::Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error from syn (usually a parse error).
    pub(crate) fn syn_error(&self, error: syn::Error) {
        self.push(error);
    }

    /// Consumes the collector: `Ok` when nothing was recorded, otherwise all
    /// errors combined into one, in the order they were found.
    pub(crate) fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }

    fn push(&self, error: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(error);
        }
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        debug_assert!(
            std::thread::panicking() || self.errors.borrow().is_none(),
            "faust-rs-macros: a Ctxt was dropped without `check` (errors would be lost)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    #[test]
    fn check_is_ok_without_errors() {
        let cx = Ctxt::new();
        assert!(cx.check().is_ok());
    }

    #[test]
    fn check_combines_every_error_in_order() {
        let cx = Ctxt::new();
        cx.error_at(Span::call_site(), "first");
        cx.error_at(Span::call_site(), "second");
        let messages: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
    }
}
