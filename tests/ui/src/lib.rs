//! Compile-time tests of faust-rs's attribute macros; the cases are under
//! `fail/` and `pass/`, the runner is `tests/ui.rs`. Nothing to use here.
