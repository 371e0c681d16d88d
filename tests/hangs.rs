//! A test always ends, and its report is always seen: leaked tasks that
//! block their thread forever must not turn a failing test into a hung one.
//!
//! Each fixture below hung (or lost its report) before taskleak bounded its
//! waits, so each runs in a child process (this same test binary) that the
//! parent kills after [`LIMIT`]: a regression fails here instead of eating
//! CI's time limit.
//!
//! With `--cfg tokio_unstable` only: without it taskleak cannot see a
//! blocking closure or a spawn site, and a test it sees as clean drops its
//! runtime as `#[tokio::test]` does.
#![cfg(taskleak_hooks)]

mod common;

use std::time::Duration;

use taskleak::leak_check;

/// Far above what any fixture needs (up to ~16 s: a check not polled waits
/// out its 10 s watchdog, a poll that never ends the 5 s poll bound), far
/// below CI's limit.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs `fixture` and checks that it ended, failed, and showed the report
/// headline `leaked` and a spawn site in this file. Returns its output.
fn ends_and_fails(fixture: &str, leaked: &str) -> String {
    let (status, text) = common::run_fixture_within(fixture, &[], LIMIT);
    let status = status
        .unwrap_or_else(|| panic!("`{fixture}` did not end within {LIMIT:?}; it printed:\n{text}"));
    assert_eq!(status.code(), Some(101), "{text}");
    assert!(
        text.contains(&format!("taskleak: test `{fixture}` leaked {leaked}")),
        "{text}"
    );
    text
}

// ---------------------------------------------------------------- fixtures

#[leak_check(flavor = "multi_thread", grace = "100ms")]
#[ignore = "fixture: run by a_blocked_spawn_blocking_closure_does_not_hang_the_test"]
async fn fixture_blocked_spawn_blocking() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let _ = rx.recv();
    });
    std::mem::forget(tx); // nobody will ever send or hang up
}

#[leak_check(grace = "100ms")]
#[ignore = "fixture: run by a_blocked_spawn_blocking_closure_does_not_hang_the_test"]
async fn fixture_blocked_spawn_blocking_current_thread() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let _ = rx.recv();
    });
    std::mem::forget(tx);
}

static LOCKED: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[leak_check(flavor = "multi_thread", worker_threads = 2, grace = "100ms")]
#[ignore = "fixture: run by a_deadlocked_worker_does_not_hang_the_test"]
async fn fixture_deadlocked_worker() {
    std::mem::forget(LOCKED.lock().unwrap()); // never released
    tokio::spawn(async {
        let _guard = LOCKED.lock(); // blocks its worker thread forever
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
}

#[leak_check(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fixture: run by a_long_poll_does_not_wedge_the_task_dump"]
async fn fixture_long_poll() {
    tokio::spawn(async {
        std::thread::sleep(Duration::from_secs(1)); // one long poll
        tokio::time::sleep(Duration::from_secs(3600)).await
    });
}

#[leak_check(flavor = "multi_thread", worker_threads = 2, grace = "100ms")]
#[ignore = "fixture: run by a_poll_that_never_ends_skips_the_task_dump"]
async fn fixture_endless_poll() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::mem::forget(tx);
    tokio::spawn(async move {
        let _ = rx.recv(); // inside one poll, forever
    });
    tokio::spawn(std::future::pending::<()>());
    tokio::time::sleep(Duration::from_millis(20)).await;
}

#[leak_check(grace = "100ms")]
#[ignore = "fixture: run by a_task_blocking_the_checks_thread_ends_the_binary_with_the_report"]
async fn fixture_blocked_thread_a_leak_first() {
    tokio::spawn(std::future::pending::<()>());
}

#[leak_check(grace = "100ms")]
#[ignore = "fixture: run by a_task_blocking_the_checks_thread_ends_the_binary_with_the_report"]
async fn fixture_blocked_thread_in_the_first_turns() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::mem::forget(tx); // nobody will ever send or hang up
    tokio::spawn(async move {
        let _ = rx.recv(); // blocks the runtime's only thread, in one poll
    });
}

#[leak_check(grace = "100ms")]
#[ignore = "fixture: run by a_task_blocking_the_checks_thread_ends_the_binary_with_the_report"]
async fn fixture_blocked_thread_while_the_check_waits() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::mem::forget(tx);
    tokio::spawn(async move {
        // Past the check's first turns: it waits on its helper thread.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let _ = rx.recv();
    });
}

async fn forever_in_the_background() {
    std::future::pending::<()>().await
}

#[leak_check(unhandled_panic = "shutdown_runtime", grace = "2s")]
#[ignore = "fixture: run by a_panic_that_shuts_the_runtime_down_still_shows_the_leak"]
async fn fixture_unhandled_panic_shutdown() {
    tokio::spawn(forever_in_the_background());
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        panic!("boom in a spawned task");
    });
}

// ------------------------------------------------------------------- tests

#[test]
fn a_blocked_spawn_blocking_closure_does_not_hang_the_test() {
    for fixture in [
        "fixture_blocked_spawn_blocking",
        "fixture_blocked_spawn_blocking_current_thread",
    ] {
        let text = ends_and_fails(fixture, "1 task");
        assert!(
            text.contains("1 spawn_blocking closure still running"),
            "{text}"
        );
        // It says what it gave up on.
        assert!(
            text.contains(
                "taskleak: gave up after 1.0s waiting for the test's runtime to shut down"
            ),
            "{text}"
        );
    }
}

#[test]
fn a_deadlocked_worker_does_not_hang_the_test() {
    let text = ends_and_fails("fixture_deadlocked_worker", "1 task");
    assert!(text.contains("spawned at tests/hangs.rs:"), "{text}");
    assert!(text.contains("inside one poll for"), "{text}");
}

#[test]
fn a_long_poll_does_not_wedge_the_task_dump() {
    let text = ends_and_fails("fixture_long_poll", "1 task");
    assert!(text.contains("spawned at tests/hangs.rs:"), "{text}");
    if cfg!(all(feature = "taskdump", target_os = "linux")) {
        // The check waited for the poll to end, then dumped the runtime.
        assert!(
            text.contains("stuck in: hangs::fixture_long_poll → sleep::Sleep"),
            "{text}"
        );
    }
}

#[test]
fn a_poll_that_never_ends_skips_the_task_dump() {
    let text = ends_and_fails("fixture_endless_poll", "2 tasks");
    if cfg!(all(feature = "taskdump", target_os = "linux")) {
        // Neither task gets a "stuck in" from a dump: one was never
        // started, and the report says why.
        assert!(
            text.contains("stuck in: unknown (its runtime was not dumped: worker thread"),
            "{text}"
        );
        assert!(text.contains("inside one poll of task"), "{text}");
    }
}

/// A leaked task that blocks a current-thread runtime's only thread, which
/// `check_async` yielded to: nothing inside the runtime can run again. The
/// check, not polled for 10 s, is finished from another thread: its report
/// and the blocking task on stderr, the binary's exit code 101, and the
/// summary of the tests checked before it. Blocked in the check's first
/// turns, and later, while its helper thread waits.
#[test]
fn a_task_blocking_the_checks_thread_ends_the_binary_with_the_report() {
    let run = |filters: &'static [&'static str]| {
        std::thread::spawn(move || {
            let mut cmd = common::this_binary(&["--ignored", "--exact", "--test-threads=1"]);
            cmd.args(filters);
            let out = common::output_within(cmd, LIMIT);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status, text)
        })
    };
    let first_turns = run(&[
        "fixture_blocked_thread_a_leak_first",
        "fixture_blocked_thread_in_the_first_turns",
    ]);
    let later = run(&["fixture_blocked_thread_while_the_check_waits"]);
    for (fixture, child, before) in [
        (
            "fixture_blocked_thread_in_the_first_turns",
            first_turns,
            Some("fixture_blocked_thread_a_leak_first"),
        ),
        ("fixture_blocked_thread_while_the_check_waits", later, None),
    ] {
        let (status, text) = child.join().unwrap();
        assert_eq!(status.code(), Some(101), "{text}");
        assert!(
            text.contains(&format!("taskleak: test `{fixture}` leaked 1 task")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "taskleak: test `{fixture}` cannot end: its check_async was not polled for"
            )),
            "{text}"
        );
        // It names the task that blocks the thread.
        assert!(
            text.contains("so the thread running it is blocked, by task ")
                && text.contains("(spawned at tests/hangs.rs:"),
            "{text}"
        );
        // The exit handlers ran: the summary names the test, and the
        // one that failed before it in the same binary.
        assert!(text.contains("taskleak summary:"), "{text}");
        for test in std::iter::once(fixture).chain(before) {
            assert!(text.contains(&format!("             {test}\n")), "{text}");
        }
    }
}

#[test]
fn a_panic_that_shuts_the_runtime_down_still_shows_the_leak() {
    let (status, text) = common::run_fixture_within("fixture_unhandled_panic_shutdown", &[], LIMIT);
    assert_eq!(status.and_then(|s| s.code()), Some(101), "{text}");
    assert!(text.contains("boom in a spawned task"), "{text}");
    assert!(
        text.contains("taskleak: test `fixture_unhandled_panic_shutdown` leaked 1 task ("),
        "{text}"
    );
    assert!(text.contains("spawned at tests/hangs.rs:"), "{text}");
    assert!(
        text.contains(
            "the runtime shut down: a spawned task panicked, and the runtime was built with \
             unhandled_panic = \"shutdown_runtime\""
        ),
        "{text}"
    );
}
