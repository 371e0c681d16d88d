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

/// One growth sample: live tracked tasks per spawn site, every runtime
/// (what `Growth::round` and the watch take). Returns the number of sites;
/// for the growth benchmark.
pub fn growth_sample() -> usize {
    crate::capture::registry::per_site().len()
}

/// How many code addresses this process looked up in debug info itself,
/// and how many it found in the cache its binary's processes share
/// (`target/taskleak/symbols/`). Tests count these to prove that a second
/// process reuses the first one's lookups, and that another build does not.
pub fn symbol_sources() -> (usize, usize) {
    (
        crate::capture::frames::debug_info_lookups(),
        crate::judge::symcache::hits(),
    )
}
