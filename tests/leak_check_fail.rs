//! `#[leak_check]` failing tests that leak, for each flavor, with a report
//! that names the real spawn site.
//!
//! `#[should_panic(expected = "...")]` cannot hold a `line!()`, so a
//! `should_panic` test could only pin the file. Instead, each leaky test is
//! a `#[leak_check]` function nested in a driver test: the driver calls it,
//! catches its panic, and checks the report against the line the leaky body
//! recorded with `line!()` on the very line of the spawn. A report naming
//! any other line fails the driver.
//!
//! The panic-plus-leak and `Err`-plus-leak cases need the whole output
//! (the report goes to stderr there, after the test's own failure), so
//! their drivers run this test binary again as a child process.

// A `#[test]` inside a function is not registered with the harness, and
// rustc warns about it. Here that is the point: the nested leaky tests must
// run only when their driver calls them.
#![allow(unnameable_test_items)]

mod common;

use std::future::pending;
use std::process::{Command, Output};
#[cfg(taskleak_hooks)]
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

use taskleak::{BuilderExt, leak_check};

/// Calls a `#[leak_check]` function that must fail; returns its panic
/// message.
fn failure_of(test: fn()) -> String {
    let payload = std::panic::catch_unwind(test).expect_err("the leaky test passed");
    if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else {
        panic!("the leaky test panicked with a payload that is not a message")
    }
}

/// The report names `count` leaked tasks, one spawned at `line` of this file.
#[cfg(taskleak_hooks)]
fn assert_reports(message: &str, line: u32) {
    assert!(
        message.starts_with("taskleak: "),
        "not a taskleak report:\n{message}"
    );
    let site = format!("spawned at {}:{line}:", file!());
    assert!(
        message.contains(&site),
        "expected `{site}` in the report:\n{message}"
    );
}

/// Without `tokio_unstable` there are no spawn sites: the report counts the
/// survivors and says how to get their spawn sites.
#[cfg(not(taskleak_hooks))]
fn assert_reports(message: &str, _line: u32) {
    assert!(
        message.starts_with("taskleak: "),
        "not a taskleak report:\n{message}"
    );
    assert!(
        message.contains("tokio_unstable"),
        "no hint at tokio_unstable:\n{message}"
    );
}

// ---- one leak per flavor ----------------------------------------------------

#[test]
fn current_thread_leak_fails_the_test() {
    static LINE: AtomicU32 = AtomicU32::new(0);

    #[leak_check(grace = "10ms")]
    async fn leaky() {
        let (line, _task) = (line!(), tokio::spawn(pending::<()>()));
        LINE.store(line, SeqCst);
    }

    assert_reports(&failure_of(leaky), LINE.load(SeqCst));
}

#[test]
fn current_thread_leak_with_the_default_grace() {
    static LINE: AtomicU32 = AtomicU32::new(0);

    #[leak_check]
    async fn leaky() {
        let (line, _task) = (line!(), tokio::spawn(pending::<()>()));
        LINE.store(line, SeqCst);
    }

    let start = std::time::Instant::now();
    assert_reports(&failure_of(leaky), LINE.load(SeqCst));
    // The survivor got the whole grace period to finish first.
    assert!(start.elapsed() >= taskleak::DEFAULT_GRACE);
}

#[test]
fn multi_thread_leak_fails_the_test() {
    static LINE: AtomicU32 = AtomicU32::new(0);

    #[leak_check(flavor = "multi_thread", worker_threads = 2, grace = "10ms")]
    async fn leaky() {
        let (line, _task) = (line!(), tokio::spawn(pending::<()>()));
        LINE.store(line, SeqCst);
    }

    assert_reports(&failure_of(leaky), LINE.load(SeqCst));
}

#[test]
fn multi_thread_leak_spawned_by_a_task_fails_the_test() {
    static LINE: AtomicU32 = AtomicU32::new(0);

    #[leak_check(flavor = "multi_thread", grace = "10ms")]
    async fn leaky() {
        // The parent finishes; the child it spawned is the leak.
        tokio::spawn(async {
            let (line, _task) = (line!(), tokio::spawn(pending::<()>()));
            LINE.store(line, SeqCst);
        })
        .await
        .unwrap();
    }

    assert_reports(&failure_of(leaky), LINE.load(SeqCst));
}

#[cfg(taskleak_hooks)]
#[test]
fn local_leak_fails_the_test() {
    static LINE: AtomicU32 = AtomicU32::new(0);

    #[leak_check(flavor = "local", grace = "10ms")]
    async fn leaky() {
        let not_send = std::rc::Rc::new(());
        let forever = async move {
            let _kept = not_send;
            pending::<()>().await
        };
        let (line, _task) = (line!(), tokio::task::spawn_local(forever));
        LINE.store(line, SeqCst);
    }

    assert_reports(&failure_of(leaky), LINE.load(SeqCst));
}

#[test]
fn start_paused_leak_fails_the_test() {
    static LINE: AtomicU32 = AtomicU32::new(0);

    #[leak_check(start_paused = true, grace = "10ms")]
    async fn leaky() {
        tokio::time::advance(std::time::Duration::from_secs(5)).await;
        let (line, _task) = (line!(), tokio::spawn(pending::<()>()));
        LINE.store(line, SeqCst);
    }

    assert_reports(&failure_of(leaky), LINE.load(SeqCst));
}

/// A tracked runtime that outlives the tests, as a suite-wide runtime would:
/// a task left on it is a leak of the test that spawned it.
#[cfg(taskleak_hooks)]
static SHARED: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    use taskleak::BuilderExt;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .track_tasks()
        .build()
        .unwrap()
});

// A plain `fn` has no runtime of its own: without `tokio_unstable` nothing
// can count the tasks it leaves on another one.
#[cfg(taskleak_hooks)]
#[test]
fn plain_fn_leak_fails_the_test() {
    static LINE: AtomicU32 = AtomicU32::new(0);

    #[leak_check(grace = "10ms")]
    fn leaky() {
        let (line, _task) = (line!(), SHARED.spawn(pending::<()>()));
        LINE.store(line, SeqCst);
    }

    assert_reports(&failure_of(leaky), LINE.load(SeqCst));
}

// ---- what the report holds ----------------------------------------------------

#[cfg(taskleak_hooks)]
#[test]
fn every_survivor_is_reported_and_ignored_ones_are_not() {
    static LINES: [AtomicU32; 3] = [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)];

    #[leak_check(grace = "10ms", ignore = ["leak_check_fail::quiet"])]
    async fn leaky() {
        let (first, _a) = (line!(), tokio::spawn(pending::<()>()));
        let (second, _b) = (line!(), tokio::spawn(pending::<()>()));
        LINES[0].store(first, SeqCst);
        LINES[1].store(second, SeqCst);
        LINES[2].store(quiet::spawn_forever(), SeqCst);
    }

    let message = failure_of(leaky);
    assert_reports(&message, LINES[0].load(SeqCst));
    assert_reports(&message, LINES[1].load(SeqCst));
    let ignored = format!("spawned at {}:{}:", file!(), LINES[2].load(SeqCst));
    assert!(
        !message.contains(&ignored),
        "an ignored task was reported:\n{message}"
    );
}

/// Spawns a task that never ends, from a path the test above ignores.
#[cfg(taskleak_hooks)]
mod quiet {
    // Not inlined, so that an optimized build keeps it in the backtrace the
    // path-prefix ignore is matched against.
    #[inline(never)]
    pub fn spawn_forever() -> u32 {
        let (line, _task) = (line!(), tokio::spawn(std::future::pending::<()>()));
        line
    }
}

#[test]
fn a_finished_leaky_test_passes_once_fixed() {
    // The same body as `current_thread_leak_fails_the_test`, fixed by
    // aborting the task: proves the failures above come from the leak.
    #[leak_check(grace = "10ms")]
    async fn fixed() {
        let task = tokio::spawn(pending::<()>());
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    }

    fixed();
}

/// The plain libtest form, as a user would write it. It can only pin the
/// file, not the line: the tests above do that.
#[leak_check(grace = "10ms")]
#[should_panic(expected = "taskleak: ")]
async fn should_panic_on_a_leak() {
    tokio::spawn(pending::<()>());
}

// ---- #[should_panic] tests that leak fail: run as child processes ----------------

#[leak_check(grace = "10ms")]
#[should_panic]
async fn child_should_panic_body_returns_and_leaks() {
    if !in_child() {
        panic!("outside the child: a plain passing #[should_panic] test");
    }
    let (line, _task) = (line!(), tokio::spawn(pending::<()>()));
    println!("SPAWN-LINE {line}");
}

#[leak_check(flavor = "multi_thread", grace = "10ms")]
#[should_panic]
async fn child_should_panic_body_panics_and_leaks() {
    if in_child() {
        let (line, _task) = (line!(), tokio::spawn(pending::<()>()));
        println!("SPAWN-LINE {line}");
    }
    panic!("the body's own panic");
}

#[leak_check(grace = "10ms")]
#[should_panic(expected = "the body's own panic")]
fn child_should_panic_expected_body_panic_and_leaks() {
    if in_child() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .track_tasks()
            .build()
            .unwrap();
        let (line, _task) = (line!(), rt.spawn(pending::<()>()));
        println!("SPAWN-LINE {line}");
        std::mem::forget(rt); // the leak outlives the body
    }
    panic!("the body's own panic");
}

#[test]
fn a_leak_fails_a_should_panic_test_whatever_the_body_did() {
    for child in [
        "child_should_panic_body_returns_and_leaks",
        "child_should_panic_body_panics_and_leaks",
        "child_should_panic_expected_body_panic_and_leaks",
    ] {
        let (output, site) = run_child(child);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stdout.contains("1 failed"), "{child}:\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("did not panic as expected")
                || stderr.contains("did not panic as expected"),
            "{child}:\n{stdout}\n{stderr}"
        );
        assert!(
            stderr.contains("taskleak: "),
            "{child}: no report:\n{stderr}"
        );
        if cfg!(taskleak_hooks) {
            assert!(
                stderr.contains(&site),
                "{child}: expected `{site}` in:\n{stderr}"
            );
        }
    }
}

// ---- a failing body that also leaks: run as a child process ---------------------

/// Set in the child's environment: only then do the `child_*` tests below
/// leak and fail. In a normal run they pass at once.
const CHILD: &str = "TASKLEAK_LEAK_CHECK_FAIL_CHILD";

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs one test of this binary in a child process and returns its output.
fn run_child(test: &str) -> (Output, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "0");
    let output = common::output_within(cmd, std::time::Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // libtest prints `test <name> ... ` and the child's own output on one line.
    let line: String = stdout
        .split_once("SPAWN-LINE ")
        .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_else(|| panic!("the child did not spawn:\n{stdout}\n{stderr}"));
    let site = format!("spawned at {}:{line}:", file!());
    assert_failed_without_abort(&output, &stdout, &stderr);
    (output, site)
}

/// libtest exits with 101 when a test failed; an abort (double panic) ends
/// the process by a signal instead, with no exit code.
fn assert_failed_without_abort(output: &Output, stdout: &str, stderr: &str) {
    assert_eq!(
        output.status.code(),
        Some(101),
        "the child did not fail normally ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        !stderr.contains("panic in a function that cannot unwind"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked while processing panic"),
        "{stderr}"
    );
}

#[leak_check(grace = "10ms")]
async fn child_assertion_fails_and_leaks() {
    if !in_child() {
        return;
    }
    let (line, _task) = (line!(), tokio::spawn(pending::<()>()));
    println!("SPAWN-LINE {line}");
    assert_eq!(1 + 1, 3, "the body's own assertion");
}

#[test]
fn a_failed_assertion_comes_first_and_the_leak_is_still_reported() {
    let (output, site) = run_child("child_assertion_fails_and_leaks");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let assertion = stderr
        .find("the body's own assertion")
        .unwrap_or_else(|| panic!("no assertion message:\n{stderr}"));
    let report = stderr
        .find("taskleak: ")
        .unwrap_or_else(|| panic!("no leak report:\n{stderr}"));
    assert!(
        assertion < report,
        "the report came before the assertion:\n{stderr}"
    );
    if cfg!(taskleak_hooks) {
        assert!(stderr.contains(&site), "expected `{site}` in:\n{stderr}");
    }
}

#[leak_check(flavor = "multi_thread", grace = "10ms")]
async fn child_returns_err_and_leaks() -> Result<(), String> {
    if !in_child() {
        return Ok(());
    }
    let (line, _task) = (line!(), tokio::spawn(pending::<()>()));
    println!("SPAWN-LINE {line}");
    Err("the body's own error".to_owned())
}

#[test]
fn an_err_and_the_leak_are_both_reported() {
    let (output, site) = run_child("child_returns_err_and_leaks");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        all.contains("the body's own error"),
        "the Err was not reported:\n{all}"
    );
    assert!(
        all.contains("taskleak: "),
        "the leak was not reported:\n{all}"
    );
    if cfg!(taskleak_hooks) {
        assert!(all.contains(&site), "expected `{site}` in:\n{all}");
    }
}

// ---- RUST_BACKTRACE=1: the report is the failure ----------------------------

#[leak_check(grace = "10ms")]
async fn child_leaks() {
    if !in_child() {
        return;
    }
    tokio::spawn(pending::<()>());
}

#[test]
fn child_drops_a_guard_that_leaked() {
    if !in_child() {
        return;
    }
    let rt = common::multi_thread();
    let _guard = common::quick().verify_none();
    rt.spawn(pending::<()>());
}

/// Many CI machines set `RUST_BACKTRACE=1`: a leak's failure is its
/// report, with where the test (or its guard) is, and no stack trace of
/// taskleak's own frames after it.
#[test]
fn under_rust_backtrace_a_leak_fails_with_the_report_and_no_internal_frames() {
    for (child, line) in [
        ("child_leaks", "leak_check_fail.rs:"),
        ("child_drops_a_guard_that_leaked", "leak_check_fail.rs:"),
    ] {
        let mut cmd = common::this_binary(&[child, "--exact", "--test-threads=1"]);
        cmd.env(CHILD, "1").env("RUST_BACKTRACE", "1");
        let output = common::output_within(cmd, std::time::Duration::from_secs(60));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(101), "{child}:\n{all}");
        assert!(all.contains("leaked 1 task"), "{child}: no report:\n{all}");
        let header = format!("panicked at tests/{line}");
        assert!(all.contains(&header), "{child}: no `{header}`:\n{all}");
        for internal in ["stack backtrace", "taskleak::harness", "taskleak::check"] {
            assert!(!all.contains(internal), "{child}: `{internal}` in:\n{all}");
        }
    }
}
