//! Every way a task can leak besides `tokio::spawn`: blocking closures,
//! local tasks, shared runtimes, threads, and runtimes taskleak does not
//! track. Each leaks that way and is caught; its clean twin passes.

mod common;

use std::sync::LazyLock;
use std::time::Duration;

use common::{current_thread, forever, multi_thread, quick};
use taskleak::BuilderExt;

fn sleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

// ---------------------------------------------------------- spawn_blocking

#[test]
fn a_plain_spawn_blocking_still_running_is_counted() {
    let rt = multi_thread();
    rt.block_on(async {
        let guard = quick().verify_none(); // sees this runtime's blocking pool
        tokio::task::spawn_blocking(|| sleep(1500));
        let leaks = guard.check_async().await.unwrap_err();
        assert_eq!(leaks.len(), 1, "{leaks}");
        assert!(leaks.tasks().is_empty());
        let report = leaks.to_string();
        assert!(
            report.contains("1 spawn_blocking closure still running"),
            "{report}"
        );
        assert!(report.contains("taskleak::spawn_blocking"), "{report}");
    });
}

#[test]
fn a_plain_spawn_blocking_that_ends_within_grace_passes() {
    let rt = current_thread();
    rt.block_on(async {
        let guard = taskleak::verify_none();
        tokio::task::spawn_blocking(|| sleep(30));
        guard.check_async().await.unwrap();
    });
}

#[test]
fn worker_threads_are_not_blocking_leaks() {
    let rt = multi_thread(); // 2 workers: blocking-pool threads to tokio
    rt.block_on(async {
        let guard = quick().verify_none();
        tokio::spawn(async {}).await.unwrap();
        guard.check_async().await.unwrap();
    });
}

#[test]
fn taskleak_spawn_blocking_is_reported_at_its_spawn_site() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    let line = rt.block_on(async {
        let line = line!() + 1;
        taskleak::spawn_blocking(|| sleep(1500));
        let done = taskleak::spawn_blocking(|| 7); // the clean twin
        assert_eq!(done.await.unwrap(), 7);
        line
    });
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    let task = &leaks.tasks()[0];
    assert!(task.is_blocking());
    assert_eq!(task.spawned_at().line(), line);
    assert!(
        leaks
            .to_string()
            .contains("1. blocking task (spawn_blocking) "),
        "{leaks}"
    );
}

// ------------------------------------------------------------ local tasks

#[test]
fn spawn_local_on_a_local_runtime_is_tracked() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .track_tasks()
        .build_local(Default::default())
        .unwrap();
    let guard = quick().verify_none();
    let line = rt.block_on(async {
        let rc = std::rc::Rc::new(()); // !Send: only spawn_local takes it
        tokio::task::spawn_local(async move { rc }).await.unwrap(); // clean twin
        let line = line!() + 1;
        tokio::task::spawn_local(forever());
        line
    });
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    assert_eq!(leaks.tasks()[0].spawned_at().line(), line);
}

#[test]
fn a_local_set_task_spawned_with_taskleak_spawn_local_is_caught() {
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    let guard = quick().verify_none();
    let (line, leaks) = local.block_on(&rt, async {
        assert_eq!(taskleak::spawn_local(async { 1 }).await.unwrap(), 1); // clean twin
        let line = line!() + 1;
        taskleak::spawn_local(forever());
        (line, guard.check_async().await.unwrap_err())
    });
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    assert_eq!(leaks.tasks()[0].spawned_at().line(), line);
    assert!(
        leaks.to_string().contains("1. local task (LocalSet) "),
        "{leaks}"
    );
    drop(local); // drops the task: its record goes with it
    quick().verify_none().check().unwrap();
}

/// The documented limit: tokio runs no hooks for a `LocalSet`, so a plain
/// `tokio::task::spawn_local` there is invisible (use taskleak::spawn_local).
#[test]
fn plain_spawn_local_on_a_local_set_is_not_seen() {
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    let guard = quick().verify_none();
    local.block_on(&rt, async {
        tokio::task::spawn_local(forever());
        guard.check_async().await.unwrap();
    });
}

// --------------------------------------------------------- shared runtimes

static SHARED: LazyLock<tokio::runtime::Runtime> = LazyLock::new(multi_thread);

#[test]
fn a_task_on_a_static_runtime_belongs_to_the_test_that_spawned_it() {
    let clean = std::thread::spawn(|| {
        let guard = quick().verify_none();
        SHARED.block_on(async { tokio::spawn(async {}).await.unwrap() });
        guard.check()
    });
    let guard = quick().verify_none();
    let line = line!() + 1;
    SHARED.spawn(forever());
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    assert_eq!(leaks.tasks()[0].spawned_at().line(), line);
    clean.join().unwrap().unwrap();
}

#[test]
fn a_runtime_built_outside_the_scope_but_driven_inside_it() {
    let rt = current_thread(); // built before the guard
    let guard = quick().verify_none();
    rt.block_on(async {
        tokio::spawn(forever());
    });
    assert_eq!(guard.check().unwrap_err().tasks().len(), 1);
}

// ----------------------------------------------------------------- threads

#[test]
fn tasks_spawned_from_a_thread_started_with_taskleak_thread_spawn_are_the_tests() {
    let rt = multi_thread();
    let handle = rt.handle().clone();
    let guard = quick().verify_none();
    let line = taskleak::thread::spawn(move || {
        let line = line!() + 1;
        handle.spawn(forever());
        line
    })
    .join()
    .unwrap();
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    assert_eq!(leaks.tasks()[0].spawned_at().line(), line);

    // Its clean twin: the thread's task ends.
    let handle = rt.handle().clone();
    let guard = quick().verify_none();
    taskleak::thread::spawn(move || handle.block_on(async { tokio::spawn(async {}).await }))
        .join()
        .unwrap()
        .unwrap();
    guard.check().unwrap();
}

/// The documented limit: a plain `std::thread` has no scope (the suite gate
/// still sees what it leaves behind).
#[test]
fn tasks_from_a_plain_std_thread_are_not_the_tests() {
    let rt = multi_thread();
    let handle = rt.handle().clone();
    let guard = quick().verify_none();
    std::thread::spawn(move || drop(handle.spawn(forever())))
        .join()
        .unwrap();
    guard.check().unwrap();
}

// ------------------------------------------------------ untracked runtimes

#[test]
#[ignore = "fixture"]
fn fixture_guard_on_an_untracked_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build() // no track_tasks(): like #[tokio::test]
        .unwrap();
    rt.block_on(async {
        let guard = taskleak::verify_none();
        tokio::spawn(forever());
        guard.check_async().await.unwrap();
        let again = taskleak::verify_none(); // said once per runtime
        again.check_async().await.unwrap();
    });
}

#[test]
fn a_check_on_an_untracked_runtime_says_so_once() {
    let (out, text) = common::run_fixture("fixture_guard_on_an_untracked_runtime", &[]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let notice = "is not tracked, so checks cannot see its tasks. Build it with `.track_tasks()`";
    assert_eq!(text.matches(notice).count(), 1, "{text}");
    assert!(
        text.contains("#[taskleak::leak_check] instead of #[tokio::test]"),
        "{text}"
    );
}

#[test]
fn a_tracked_runtime_gets_no_notice() {
    let rt = current_thread();
    rt.block_on(async {
        let guard = taskleak::verify_none();
        guard.check_async().await.unwrap();
    });
    // (The notice goes to stderr; the fixture test above pins its text.
    // Here: the probe must not leave a task in the scope.)
    let guard = quick().verify_none();
    rt.block_on(async {});
    guard.check().unwrap();
}
