//! Compile errors of `#[leak_check]`: each `tests/ui/*.rs` must fail to
//! compile with exactly the message in the `.stderr` beside it.
//!
//! After changing a message: `TRYBUILD=overwrite cargo test --test
//! leak_check_ui`, then read every changed `.stderr`.

#[test]
fn compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
