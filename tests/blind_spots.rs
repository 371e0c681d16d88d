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

/// Where the dispatcher of the fixture below is spawned, for test A's
/// rule (checked against the source below).
const DISPATCHER_LINE: u32 = 186;

/// Test A starts a dispatcher on a shared runtime and ignores it (its
/// rule); test B's request makes the dispatcher spawn a handler that never
/// ends. A's check was over before: the handler is B's, the one test
/// running. Run alone (a child process), so that B is the only scope open.
#[test]
#[ignore = "fixture"]
fn fixture_a_dispatcher_of_an_earlier_test_spawns_for_a_later_one() {
    static SHARED_DISPATCH: LazyLock<tokio::runtime::Runtime> = LazyLock::new(multi_thread);
    type Request = std::sync::mpsc::Sender<()>;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Request>();
    std::thread::Builder::new()
        .name("test_a".into())
        .spawn(move || {
            let rule = format!("tests/blind_spots.rs:{DISPATCHER_LINE}");
            let guard = quick().ignore(rule).verify_none();
            SHARED_DISPATCH.spawn(async move {
                while let Some(done) = rx.recv().await {
                    tokio::spawn(forever()); // HANDLER
                    let _ = done.send(());
                }
            });
            guard.check().unwrap(); // the dispatcher is ignored
        })
        .unwrap()
        .join()
        .unwrap();
    let verdict = std::thread::Builder::new()
        .name("test_b".into())
        .spawn(move || {
            let guard = quick().verify_none();
            let (done, handled) = std::sync::mpsc::channel();
            tx.send(done).unwrap();
            handled.recv().unwrap();
            guard.check()
        })
        .unwrap()
        .join()
        .unwrap();
    let leaks = verdict.expect_err("test B passed: the handler its request spawned went unseen");
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    let source = include_str!("blind_spots.rs");
    let handler = source
        .lines()
        .position(|l| l.ends_with("// HANDLER"))
        .unwrap()
        + 1;
    assert_eq!(leaks.tasks()[0].spawned_at().line() as usize, handler);
    assert_eq!(leaks.tasks()[0].after_check(), Some("test_a"));
    let report = leaks.to_string();
    assert!(
        report.contains("← from a test whose check had run before this task was spawned (test_a)"),
        "{report}"
    );
}

#[test]
fn a_task_spawned_by_an_earlier_tests_task_is_the_running_tests() {
    let source = include_str!("blind_spots.rs");
    let dispatcher = source
        .lines()
        .position(|l| l.ends_with("SHARED_DISPATCH.spawn(async move {"))
        .unwrap();
    assert_eq!(dispatcher + 1, DISPATCHER_LINE as usize);
    let (out, text) = common::run_fixture(
        "fixture_a_dispatcher_of_an_earlier_test_spawns_for_a_later_one",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 passed"), "{text}");
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

/// A runtime built inside the test's scope is the test's own: a task a
/// plain `std::thread` spawns onto it joins the test's scope, and is
/// reported before the runtime's drop cancels it.
#[test]
fn a_plain_threads_spawn_onto_a_runtime_built_in_the_test_is_the_tests() {
    let guard = quick().verify_none();
    let rt = multi_thread(); // built inside the scope
    let handle = rt.handle().clone();
    let line = std::thread::spawn(move || {
        let line = line!() + 1;
        drop(handle.spawn(forever()));
        line
    })
    .join()
    .unwrap();
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    assert_eq!(leaks.tasks()[0].spawned_at().line(), line);

    // Its clean twin: the thread's task ends.
    let guard = quick().verify_none();
    let rt = current_thread();
    let handle = rt.handle().clone();
    let task = std::thread::spawn(move || handle.spawn(async {}))
        .join()
        .unwrap();
    rt.block_on(task).unwrap();
    guard.check().unwrap();
}

/// The same on the runtime `#[leak_check]` builds: `Handle::spawn` from a
/// plain thread leaks, and the test fails with the report.
#[taskleak::leak_check(grace = "50ms")]
#[should_panic(expected = "leaked 1 task")]
async fn a_plain_threads_handle_spawn_onto_the_leak_check_runtime_is_reported() {
    let handle = tokio::runtime::Handle::current();
    std::thread::spawn(move || drop(handle.spawn(forever())))
        .join()
        .unwrap();
}

/// The documented limit: a plain `std::thread` has no scope, and a runtime
/// built outside the test is no test's (the suite gate still sees what it
/// leaves behind).
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
