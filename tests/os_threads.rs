//! `Options::threads` / `#[leak_check(threads)]`: OS threads started in the
//! scope and still running.
//!
//! The thread listing is process-wide, and libtest starts a thread per test
//! (named after it) even for tests waiting on a lock, so this binary has a
//! single test; the attribute forms run as fixtures in a child process that
//! runs one test (see docs/what-taskleak-sees.md on parallel `cargo test`).

mod common;

use std::sync::mpsc;
use std::time::Duration;

use taskleak::BuilderExt;

fn options() -> taskleak::Options {
    taskleak::Options::new()
        .grace(Duration::from_millis(50))
        .threads()
}

/// A multi-thread runtime with two workers, tracked.
fn tracked_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .track_tasks()
        .build()
        .unwrap()
}

#[test]
fn os_threads() {
    joined_threads_and_runtime_threads_built_outside_are_not_leaks();
    a_leaked_thread_is_reported_by_name();
    threads_of_a_runtime_built_in_the_scope_and_left_running_are_the_tests();
    the_attribute_checks_threads();
}

fn joined_threads_and_runtime_threads_built_outside_are_not_leaks() {
    let rt = tracked_runtime();
    let guard = options().verify_none();
    // Starts a blocking-pool thread, which idles for seconds afterwards.
    rt.block_on(async { tokio::task::spawn_blocking(|| ()).await.unwrap() });
    std::thread::Builder::new()
        .name("joined-worker".into())
        .spawn(|| ())
        .unwrap()
        .join()
        .unwrap();
    guard.check().unwrap();
}

fn a_leaked_thread_is_reported_by_name() {
    let (stop, stopped) = mpsc::channel::<()>();
    let guard = options().verify_none();
    let leaked = std::thread::Builder::new()
        .name("file-watcher".into())
        .spawn(move || stopped.recv())
        .unwrap();
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.threads().len(), 1, "{leaks}");
    assert_eq!(leaks.threads()[0].name(), "file-watcher");
    assert!(leaks.tasks().is_empty());
    // `len` counts what the report lists, threads included, as `is_empty` does.
    assert_eq!(leaks.len(), 1, "{leaks}");
    assert!(!leaks.is_empty());
    let report = leaks.to_string();
    assert!(report.contains("leaked 1 thread"), "{report}");
    assert!(report.contains("\"file-watcher\""), "{report}");
    drop(stop);
    leaked.join().unwrap().unwrap_err();
}

fn threads_of_a_runtime_built_in_the_scope_and_left_running_are_the_tests() {
    let guard = options().verify_none();
    let rt = tracked_runtime();
    let leaks = guard.check().unwrap_err();
    let names: Vec<&str> = leaks.threads().iter().map(|t| t.name()).collect();
    // tokio's default worker name (cut to 15 bytes by Linux): `tokio-rt-worker`
    // from tokio 1.50, `tokio-runtime-worker` before.
    let worker = ["tokio-rt-worker", "tokio-runtime-w"];
    assert!(
        names.len() == 2 && names.iter().all(|n| worker.contains(n)),
        "{leaks}"
    );
    drop(rt);
}

fn the_attribute_checks_threads() {
    let (out, text) = common::run_fixture("fixture_threads_joined", &[]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let (out, text) = common::run_fixture("fixture_thread_left_running", &[]);
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains("test `fixture_thread_left_running` leaked 1 thread"),
        "{text}"
    );
    assert!(text.contains("\"poller\""), "{text}");
}

#[taskleak::leak_check(threads, grace = "50ms")]
#[ignore = "fixture"]
async fn fixture_threads_joined() {
    std::thread::spawn(|| ()).join().unwrap();
    tokio::task::spawn_blocking(|| ()).await.unwrap(); // the runtime's own thread
}

#[taskleak::leak_check(threads, grace = "50ms")]
#[ignore = "fixture"]
async fn fixture_thread_left_running() {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("poller".into())
        .spawn(move || stopped.recv_timeout(Duration::from_secs(2)))
        .unwrap();
    std::mem::forget(stop); // the thread outlives the test by 2 s
}
