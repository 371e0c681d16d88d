//! What a check costs beyond waiting: a passing check looks up no symbols
//! (debug info takes ~0.5 s and tens of MB to load the first time in a
//! large debug binary), even with file and path rules in force.
//!
//! Symbol lookups are counted per process, so each fixture runs alone in a
//! child process (this same test binary) and prints its count.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::{current_thread, forever, multi_thread, run_fixture};

/// Rules that match nothing these fixtures spawn, of every kind: a path
/// rule makes spawn hooks capture frames, which a file rule could match
/// too.
const RULES: &[&str] = &["cost::nowhere", "src/nowhere.rs", "tests/elsewhere.rs:3"];

fn options() -> taskleak::Options {
    RULES
        .iter()
        .fold(taskleak::Options::new(), |o, r| o.ignore(*r))
        // Long enough that the tasks below always end within it.
        .grace(Duration::from_secs(30))
}

/// Prints the count past libtest's capture, for the parent to read.
fn say_lookups() {
    let n = taskleak::__private::symbol_lookups();
    let _ = writeln!(std::io::stderr(), "symbol lookups: {n}");
}

fn lookups(text: &str) -> usize {
    text.lines()
        .find_map(|l| l.strip_prefix("symbol lookups: "))
        .unwrap_or_else(|| panic!("no count in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

mod helper {
    /// A task that never ends, with this function in its spawn backtrace.
    #[inline(never)]
    pub fn spawn_metrics() {
        drop(tokio::spawn(super::forever()));
    }
}

// ---------------------------------------------------------------- fixtures

#[test]
#[ignore = "fixture"]
fn fixture_tasks_end_while_the_check_waits() {
    let rt = multi_thread();
    // Blocking check: the wait loop runs on this thread.
    let guard = options().verify_none();
    rt.spawn(async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        tokio::spawn(tokio::time::sleep(Duration::from_millis(20)));
    });
    guard.check().unwrap();
    // Async check: the wait loop runs on a helper thread.
    let rt = current_thread();
    rt.block_on(async {
        let guard = options().verify_none();
        tokio::spawn(tokio::time::sleep(Duration::from_millis(20)));
        guard.check_async().await.unwrap();
    });
    say_lookups();
}

#[test]
#[ignore = "fixture"]
fn fixture_ignored_by_its_spawn_site() {
    let rt = multi_thread();
    let site = format!("tests/cost.rs:{}", line!() + 2);
    let guard = options().ignore(&site).verify_none();
    rt.spawn(async {
        tokio::spawn(forever()); // ignored as a descendant of the next line's
        forever().await
    });
    guard.check().unwrap();
    say_lookups();
}

#[test]
#[ignore = "fixture"]
fn fixture_ignored_by_a_function_path() {
    let rt = multi_thread();
    let guard = options().ignore("cost::helper").verify_none();
    rt.spawn(async { helper::spawn_metrics() });
    guard.check().unwrap();
    say_lookups();
}

/// Not a test: prints what the first symbol lookups of this process cost
/// (wall time of a check that must judge a path rule, and resident
/// memory), for docs/benchmarks.md. Run by hand:
/// `cargo test --test cost -- --ignored --exact measure_first_lookup --nocapture`.
#[test]
#[ignore = "measurement"]
fn measure_first_lookup() {
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
    let rt = multi_thread();
    for round in ["first", "second"] {
        let rss = rss_kib();
        let start = std::time::Instant::now();
        let guard = options().ignore("cost::helper").verify_none();
        rt.block_on(async {
            tokio::spawn(async { helper::spawn_metrics() })
                .await
                .unwrap()
        });
        guard.check().unwrap();
        let _ = writeln!(
            std::io::stderr(),
            "{round} check judged by a path rule: {:?}, RSS {} -> {} MiB, {} addresses looked up so far",
            start.elapsed(),
            rss / 1024,
            rss_kib() / 1024,
            taskleak::__private::symbol_lookups()
        );
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn a_passing_check_with_file_and_path_rules_looks_up_no_symbols() {
    let (out, text) = run_fixture("fixture_tasks_end_while_the_check_waits", &[]);
    assert!(out.status.success(), "{text}");
    assert_eq!(lookups(&text), 0, "{text}");
}

#[test]
fn a_task_ignored_by_its_spawn_site_looks_up_no_symbols() {
    let (out, text) = run_fixture("fixture_ignored_by_its_spawn_site", &[]);
    assert!(out.status.success(), "{text}");
    assert_eq!(lookups(&text), 0, "{text}");
}

#[test]
fn a_task_ignored_by_a_function_path_is_judged_from_its_frames() {
    // The counter counts: a path rule needs names, so this one resolves.
    let (out, text) = run_fixture("fixture_ignored_by_a_function_path", &[]);
    assert!(out.status.success(), "{text}");
    assert!(lookups(&text) > 0, "{text}");
}

// ---------------------------------------------------------------- registry

/// Tens of thousands of live tasks (more than any table of slots keyed
/// by id would hold): every one is reported, and all are forgotten when
/// they end.
#[test]
fn twenty_thousand_live_tasks_are_all_reported_then_forgotten() {
    const N: usize = 20_000;
    let rt = multi_thread();
    let guard = taskleak::Options::new()
        .grace(Duration::from_millis(50))
        .verify_none();
    for _ in 0..N {
        rt.spawn(forever());
    }
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), N);
    drop(rt); // ends them all

    let rt = multi_thread();
    let guard = taskleak::verify_none();
    rt.block_on(async {
        let hs: Vec<_> = (0..N).map(|_| tokio::spawn(async {})).collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    guard.check().unwrap();
}
