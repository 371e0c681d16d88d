//! A test that fails an assertion *and* leaks: libtest's captured output
//! shows the assertion first, then the leak report, and the process does
//! not abort on a double panic.

mod common;

use common::{forever, multi_thread, quick};

/// The fixture: run only by `the_assertion_comes_first_then_the_leaks`.
#[test]
#[ignore = "fixture, run by another test"]
fn fixture_fails_and_leaks() {
    let rt = multi_thread();
    let _guard = quick().verify_none();
    rt.spawn(forever());
    assert_eq!(1 + 1, 3, "the fixture's own assertion");
}

#[test]
fn the_assertion_comes_first_then_the_leaks() {
    let (out, text) = common::run_fixture("fixture_fails_and_leaks", &[]);
    // Failed (exit 101), not aborted (a signal: no exit code).
    assert_eq!(out.status.code(), Some(101), "{text}");
    let assertion = text.find("the fixture's own assertion").expect(&text);
    let report = text
        .find("taskleak: test `fixture_fails_and_leaks` leaked 1 task")
        .expect(&text);
    assert!(assertion < report, "{text}");
    assert!(text.contains("spawned at tests/panic_order.rs:"), "{text}");
    assert!(
        text.contains("test result: FAILED. 0 passed; 1 failed"),
        "{text}"
    );
}
