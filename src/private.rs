//! Runtime support for `#[leak_check]`. Not public API: the macro's
//! expansion calls these, and they may change in any release.

pub use tokio;

pub use crate::harness::{Flavor, TestOutput, run_async, run_sync};

/// Tells the check that the test is `#[should_panic]`, with its
/// `expected` text: a leak must fail it all the same.
pub fn should_panic(mut options: crate::Options, expected: Option<&'static str>) -> crate::Options {
    options.should_panic = Some(expected);
    options
}

/// Turns spawn-site frame capture on or off for the whole process (the
/// benchmarks compare both in one run). Spawn sites and chains are kept
/// either way.
pub fn set_capture_frames(on: bool) {
    crate::capture::walk::CAPTURE_FRAMES.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Spawn-site frames walked only where the spawn site is outside the
/// user's workspace (`on`), or at every spawn (the default): the
/// benchmarks compare both in one run.
pub fn set_walk_outside_workspace_only(on: bool) {
    crate::capture::walk::ONLY_OUTSIDE_WORKSPACE.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub use crate::config::configure::Config;
pub use ctor;

/// How many code addresses this process has looked up in debug info (each
/// at most once). Tests count these to prove that a passing check loads no
/// symbols, without timing anything.
pub fn symbol_lookups() -> usize {
    crate::capture::frames::lookups()
}
