//! Without `--cfg tokio_unstable`, checks count live tasks instead.
//!
//! The repo builds with the cfg, so this file only has tests in a build
//! without it; `.ci/run` runs it that way:
//! `RUSTFLAGS="" cargo test --test stable_fallback --target-dir target/stable`.
#![cfg(not(taskleak_hooks))]

mod common;

use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    use taskleak::BuilderExt;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .track_tasks() // a no-op without the cfg, but it must build
        .build()
        .unwrap()
}

#[test]
fn leaks_are_counted_and_the_report_says_how_to_get_spawn_sites() {
    let rt = runtime();
    rt.block_on(async {
        let guard = taskleak::Options::new()
            .grace(Duration::from_millis(50))
            .verify_none();
        tokio::spawn(std::future::pending::<()>());
        tokio::spawn(std::future::pending::<()>());
        let leaks = guard.check_async().await.unwrap_err();
        assert_eq!(leaks.len(), 2);
        assert!(leaks.tasks().is_empty());
        let report = leaks.to_string();
        assert!(report.contains("leaked 2 tasks"), "{report}");
        assert!(report.contains("--cfg tokio_unstable"), "{report}");
    });
}

#[test]
fn a_clean_scope_and_a_task_ending_within_grace_pass() {
    let rt = runtime();
    rt.block_on(async {
        let guard = taskleak::verify_none();
        tokio::spawn(async {}).await.unwrap();
        tokio::spawn(tokio::time::sleep(Duration::from_millis(30)));
        guard.check_async().await.unwrap();
    });
}

#[test]
fn tasks_running_before_the_guard_are_not_counted() {
    let rt = runtime();
    rt.block_on(async {
        tokio::spawn(std::future::pending::<()>());
        // The count is compared with the count at the start...
        let guard = taskleak::Options::new()
            .grace(Duration::from_millis(50))
            .verify_none();
        guard.check_async().await.unwrap();
        let guard = taskleak::Options::new()
            .grace(Duration::from_millis(50))
            .ignore_current()
            .verify_none();
        guard.check_async().await.unwrap();
        // ...so a new leak counts once, not with the ones before it.
        let guard = taskleak::Options::new()
            .grace(Duration::from_millis(50))
            .verify_none();
        tokio::spawn(std::future::pending::<()>());
        assert_eq!(guard.check_async().await.unwrap_err().len(), 1);
    });
}

/// The attribute's own runtime is counted: a leak fails the test, saying
/// how many and how to get spawn sites.
#[taskleak::leak_check(grace = "50ms")]
#[should_panic(expected = "leaked 2 tasks (still running 50ms after the test body)")]
async fn leak_check_counts_without_tokio_unstable() {
    tokio::spawn(std::future::pending::<()>());
    tokio::spawn(std::future::pending::<()>());
}

#[taskleak::leak_check(flavor = "multi_thread", grace = "50ms")]
// This repo's .cargo/config.toml asks for the cfg; RUSTFLAGS="" (how this
// file is run) replaced it: the advice says so.
#[should_panic(expected = "add `--cfg tokio_unstable` to RUSTFLAGS")]
async fn leak_check_says_how_to_get_spawn_sites() {
    tokio::spawn(std::future::pending::<()>());
}

#[taskleak::leak_check]
async fn leak_check_passes_a_clean_test_without_tokio_unstable() {
    tokio::spawn(async {}).await.unwrap();
}

#[test]
#[ignore = "fixture: run by a_check_that_sees_nothing_says_so_even_when_it_passes"]
fn fixture_blind_check() {
    // No runtime is current and none was built by #[leak_check]: without
    // the cfg there is nothing this check can count.
    taskleak::verify_none().check().unwrap();
}

/// The warning is written past libtest's capture: the check passes, and
/// libtest drops what a passing test printed with `eprintln!`.
#[test]
fn a_check_that_sees_nothing_says_so_even_when_it_passes() {
    let (status, text) =
        common::run_fixture_within("fixture_blind_check", &[], Duration::from_secs(60));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{text}");
    assert!(
        text.contains("taskleak: warning: this check cannot see any task"),
        "{text}"
    );
}

/// Without spawn sites, a growth check counts its runtime's tasks as one
/// site: a task leaked a round still fails it, and says why there is no
/// spawn site.
#[test]
fn a_growth_check_counts_its_runtime_as_a_whole() {
    let rt = runtime();
    rt.block_on(async {
        let growth = taskleak::Options::new()
            .grace(Duration::from_millis(50))
            .growth();
        for _ in 0..20 {
            tokio::spawn(std::future::pending::<()>());
            growth.round();
        }
        let growing = growth.check_async().await.unwrap_err();
        assert_eq!(growing.sites()[0].last() - growing.sites()[0].first(), 20);
        let report = growing.to_string();
        assert!(
            report.contains("all tasks of the runtime (no spawn sites in this build)"),
            "{report}"
        );
    });
}

/// Outside any runtime, a growth check without spawn sites would see
/// nothing, and says so instead of passing.
#[test]
#[should_panic(expected = "it ran in none")]
fn a_growth_check_outside_any_runtime_says_it_sees_nothing() {
    let growth = taskleak::growth();
    for _ in 0..5 {
        growth.round();
    }
    let _ = growth.check();
}
