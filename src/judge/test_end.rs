//! How a `#[leak_check]` test ends, from what its body did and what its
//! check found: one decision, which the harness carries out.
//!
//! The body's own panic or `Err` comes first, then the leaks. A leak
//! always fails the test, `#[should_panic]` included: libtest passes a
//! `#[should_panic]` test when it panics, so a leaking one is failed by
//! returning normally ("did not panic as expected"). The one way to expect
//! a leak is `#[should_panic(expected = "...")]` whose text is in the
//! report, with a body that did not panic.

/// What the body did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// It returned; `failure`: an `Err`, which fails the test by itself.
    Returned {
        failure: bool,
    },
    Panicked,
}

/// What the harness does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// Return the body's value.
    Return,
    /// Return `()` in place of a panic, so that libtest fails a leaking
    /// `#[should_panic]` test.
    ReturnUnit,
    /// Panic with the leak report as the message.
    Panic,
    /// Resume the body's panic.
    Resume,
}

/// The end of a test: print the report first (to stderr), say why a
/// `#[should_panic]` test fails, then `then`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TestEnd {
    pub(crate) print: bool,
    pub(crate) should_panic_note: bool,
    pub(crate) then: Then,
}

/// `should_panic`: the test's `#[should_panic]`, with its `expected` text;
/// `in_report`: whether a text is in the leak report (`None` when nothing
/// leaked); `unit`: the test returns `()`.
pub(crate) fn test_end(
    body: Body,
    leaked: Option<&dyn Fn(&str) -> bool>,
    should_panic: Option<Option<&str>>,
    unit: bool,
) -> TestEnd {
    let end = |print, then| TestEnd {
        print,
        should_panic_note: false,
        then,
    };
    let Some(in_report) = leaked else {
        return end(
            false,
            if body == Body::Panicked {
                Then::Resume
            } else {
                Then::Return
            },
        );
    };
    if let Some(expected) = should_panic {
        if body == (Body::Returned { failure: false }) && expected.is_some_and(in_report) {
            // The test expects this leak: its report is the expected panic.
            return end(false, Then::Panic);
        }
        let then = match (body, unit) {
            (Body::Returned { .. }, _) => Then::Return,
            (Body::Panicked, true) => Then::ReturnUnit,
            // Only `()` tests can be #[should_panic]; keep the panic otherwise.
            (Body::Panicked, false) => Then::Resume,
        };
        return TestEnd {
            print: true,
            should_panic_note: true,
            then,
        };
    }
    match body {
        // Both are reported: the leaks here, the `Err` by libtest.
        Body::Returned { failure: true } => end(true, Then::Return),
        Body::Returned { failure: false } => end(false, Then::Panic),
        // The assertion message was printed when it panicked; the leaks
        // follow it, and the original panic resumes (no double panic).
        Body::Panicked => end(true, Then::Resume),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leak_fails_every_test_and_a_should_panic_one_by_returning() {
        let report = |t: &str| "leaked 1 task".contains(t);
        let leaked: Option<&dyn Fn(&str) -> bool> = Some(&report);
        let ok = Body::Returned { failure: false };
        assert_eq!(test_end(ok, None, None, true).then, Then::Return);
        assert_eq!(
            test_end(Body::Panicked, None, None, true).then,
            Then::Resume
        );
        assert_eq!(test_end(ok, leaked, None, true).then, Then::Panic);
        let err = test_end(Body::Returned { failure: true }, leaked, None, false);
        assert!(err.print && err.then == Then::Return);
        let expected = test_end(ok, leaked, Some(Some("leaked 1")), true);
        assert_eq!((expected.print, expected.then), (false, Then::Panic));
        let other = test_end(ok, leaked, Some(Some("boom")), true);
        assert!(other.print && other.should_panic_note && other.then == Then::Return);
        let panicked = test_end(Body::Panicked, leaked, Some(None), true);
        assert_eq!(panicked.then, Then::ReturnUnit);
    }
}
