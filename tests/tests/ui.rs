//! Compile-time checks of the attribute macros: each case under `ui/fail`
//! must fail with the error in its `.stderr`, each under `ui/pass` must
//! build. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p faust-rs-tests --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}
