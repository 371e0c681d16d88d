//! What tracking costs, tracked against untracked, measured side by side.
//!
//! One command prints a markdown table of ratios (issue 7):
//!
//! ```text
//! cargo bench --bench overhead                       # release, every section (~1-2 min)
//! cargo bench --profile dev --bench overhead -- spawn contention check cargo-suite
//!                                                    # the same ratios in a debug build
//! cargo bench --bench overhead -- --quick            # shorter budgets
//! cargo bench --bench overhead -- check overshoot    # only some sections
//! ```
//!
//! For `perf`: `overhead profile-{untracked,empty-hooks,short,full}[-task] [secs]`
//! or `overhead profile-batch-{untracked,short,full} [secs]`
//! loops one spawn benchmark, `overhead profile-suite-{untracked,short,full}`
//! one suite test (run the executable that `cargo bench --no-run` names).
//!
//! Sections: `spawn contention batch check clean overshoot memory scale suite cargo-suite`
//! (`memory` and `scale` share one registry of 10^6 tasks and run together).
//!
//! Every ratio comes from one process in which the untracked and tracked
//! variants run in alternating batches (rotating order each round), so a
//! noisy neighbour slows both sides alike. Per-op times are medians of
//! batches; "ratio" is median(tracked) / median(untracked).
//!
//! Modes: **short** = `set_capture_frames(false)` (spawn sites and chains
//! only, `TASKLEAK_BACKTRACE=short`); **full** = spawn-site frames walked at
//! every spawn (the default).
//!
//! Files: `harness.rs` (counting allocator, statistics, the table, the
//! runtimes and modes, `interleave`), one file per section (`spawn.rs`,
//! `contention.rs`, `batch.rs`, `check.rs`, `clean.rs`, `overshoot.rs`,
//! `memory_scale.rs`, `suite.rs`, `cargo_suite.rs`) and `profile.rs` (the
//! `profile-*` loops).

mod batch;
mod cargo_suite;
mod check;
mod clean;
mod contention;
mod harness;
mod memory_scale;
mod overshoot;
mod profile;
mod spawn;
mod suite;

use std::time::Instant;

use batch::batch_section;
use cargo_suite::cargo_suite_section;
use check::check_section;
use clean::clean_section;
use contention::contention_section;
use harness::{Cfg, Report};
use memory_scale::memory_and_scale_section;
use overshoot::overshoot_section;
use profile::profile_loop;
use spawn::spawn_section;
use suite::suite_section;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench" && !a.starts_with("--test-threads"))
        .collect();
    let quick = args.iter().any(|a| a == "--quick");
    let debug = cfg!(debug_assertions);
    let cfg = Cfg { quick, debug };
    let sections: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(p) = sections.iter().find(|s| s.starts_with("profile-")) {
        let secs = sections
            .iter()
            .find_map(|s| s.parse::<f64>().ok())
            .unwrap_or(10.0);
        profile_loop(p, secs);
        return;
    }
    let all = sections.is_empty();
    let want = |s: &str| all || sections.contains(&s);

    let mut rep = Report::default();
    let started = Instant::now();
    if want("spawn") {
        spawn_section(&cfg, &mut rep);
    }
    if want("contention") {
        contention_section(&cfg, &mut rep);
    }
    if want("batch") {
        batch_section(&cfg, &mut rep);
    }
    if want("check") {
        check_section(&cfg, &mut rep);
    }
    if want("clean") {
        clean_section(&cfg, &mut rep);
    }
    if want("overshoot") {
        overshoot_section(&cfg, &mut rep);
    }
    if want("memory") || want("scale") {
        memory_and_scale_section(&cfg, &mut rep);
    }
    if want("suite") {
        suite_section(&cfg, &mut rep);
    }
    if want("cargo-suite") {
        cargo_suite_section(&cfg, &mut rep);
    }
    let header = format!(
        "taskleak overhead — {} build, {} CPUs, {}; took {:.0} s",
        if debug {
            "debug (dev profile)"
        } else {
            "release (bench profile)"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if quick { "--quick" } else { "full budgets" },
        started.elapsed().as_secs_f64(),
    );
    rep.print(&header);
}
