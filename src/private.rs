//! Runtime support for `#[leak_check]`. Not public API: the macro's
//! expansion calls these, and they may change in any release.

pub use tokio;

/// The runtime flavors `#[leak_check]` accepts, as in `#[tokio::test]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `flavor = "current_thread"` (the default).
    CurrentThread,
    /// `flavor = "multi_thread"`.
    MultiThread,
    /// `flavor = "local"`: a `LocalRuntime` (needs `--cfg tokio_unstable`).
    Local,
}

/// What a test function may return: `()` or a `Result`.
pub trait TestOutput {
    /// True when the value alone already fails the test (an `Err`).
    fn is_failure(&self) -> bool;

    /// The value of a test that returned without failing, when there is
    /// one (`()`): a leaking `#[should_panic]` test returns it.
    fn returned() -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

impl TestOutput for () {
    fn is_failure(&self) -> bool {
        false
    }

    fn returned() -> Option<Self> {
        Some(())
    }
}

/// Tells the check that the test is `#[should_panic]`, with its
/// `expected` text: a leak must fail it all the same.
pub fn should_panic(mut options: crate::Options, expected: Option<&'static str>) -> crate::Options {
    options.should_panic = Some(expected);
    options
}

impl<T, E> TestOutput for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

pub use crate::harness::{run_async, run_sync};

/// Turns spawn-site frame capture on or off for the whole process (the
/// benchmarks compare both in one run). Spawn sites and chains are kept
/// either way.
pub fn set_capture_frames(on: bool) {
    crate::walk::CAPTURE_FRAMES.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub use crate::config::defaults::Config;
pub use ctor;
