//! A test crate named `test`, as many suites have (`tests/test.rs`): its
//! frames are the user's, though libtest's crate has the same name.

mod common;

use common::{forever, multi_thread, quick};

#[inline(never)]
fn helper(rt: &tokio::runtime::Runtime) {
    rt.spawn(forever());
}

#[test]
fn a_test_crate_named_test_keeps_its_frames() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    helper(&rt);
    let leaks = guard.check().unwrap_err();
    let frames = leaks.tasks()[0].backtrace();
    assert!(
        frames.iter().any(|f| f.function() == "test::helper"),
        "{leaks}"
    );
    assert!(leaks.to_string().contains("test::helper"), "{leaks}");

    // A rule naming it applies.
    let guard = quick().ignore("test::helper").verify_none();
    helper(&rt);
    guard.check().unwrap();
}
