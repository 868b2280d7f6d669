//! Compile-time checks of the attribute macros: each case under `fail/`
//! must fail with the error in its `.stderr`, each under `pass/` must
//! build. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p faust-rs-ui --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("fail/*.rs");
    t.pass("pass/*.rs");
}
