//! `#[should_panic]` tests that leak. A leak always fails its test: the
//! check's own panic must not be what satisfies `#[should_panic]`.
//!
//! libtest passes a `#[should_panic]` test when it panics (with the
//! `expected` text, if given), so a leaking test is failed by returning
//! normally: libtest then reports "did not panic as expected". The one way
//! to expect a leak is `#[should_panic(expected = "...")]` whose text is in
//! the leak report, with a body that did not panic.

use std::any::Any;
use std::panic;

use crate::harness::TestOutput;
use crate::report::Leaks;

/// The verdict of a leaking `#[should_panic]` test.
#[track_caller]
pub(crate) fn settle<T: TestOutput>(
    outcome: Result<T, Box<dyn Any + Send>>,
    leaks: &Leaks,
    expected: Option<&'static str>,
) -> T {
    let report = leaks.for_stderr().to_string();
    if let Ok(out) = &outcome
        && !out.is_failure()
        && expected.is_some_and(|text| report.contains(text))
    {
        // The test expects this leak: its report is the expected panic.
        panic!("{report}");
    }
    eprintln!("{report}");
    eprintln!(
        "taskleak: the test leaked, which fails it whatever #[should_panic] says; it returns \
         without panicking so that libtest fails it. To expect a leak, write \
         #[should_panic(expected = \"...\")] with text from the report, and a body that does \
         not panic."
    );
    match (outcome, T::returned()) {
        (Ok(out), _) => out,
        (Err(_), Some(out)) => out,
        // Only `()` tests can be #[should_panic]; keep the panic otherwise.
        (Err(payload), None) => panic::resume_unwind(payload),
    }
}
