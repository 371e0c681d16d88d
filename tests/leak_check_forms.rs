//! `#[leak_check]` in every supported form, each on a test that leaks
//! nothing (or only what it ignores): every test here must pass.
//!
//! The failing side (leaky tests and their reports) is in
//! `leak_check_fail.rs`; compositions with rstest, test-log and serial_test
//! in `leak_check_compose.rs`.

use std::time::Duration;

use taskleak::leak_check;
use tokio::runtime::{Handle, RuntimeFlavor};

// Used by the `ignore` tests, which need `tokio_unstable`.
#[cfg(taskleak_hooks)]
#[path = "fixtures/background.rs"]
mod background;

// ---- flavors -------------------------------------------------------------

#[leak_check]
async fn default_flavor_is_current_thread() {
    assert_eq!(
        Handle::current().runtime_flavor(),
        RuntimeFlavor::CurrentThread
    );
    tokio::spawn(async {}).await.unwrap();
}

#[leak_check(flavor = "current_thread")]
async fn current_thread() {
    assert_eq!(
        Handle::current().runtime_flavor(),
        RuntimeFlavor::CurrentThread
    );
    let tasks: Vec<_> = (0..10)
        .map(|i| tokio::spawn(async move { i * 2 }))
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), i * 2);
    }
}

#[leak_check(flavor = "multi_thread")]
async fn multi_thread_with_default_workers() {
    assert_eq!(
        Handle::current().runtime_flavor(),
        RuntimeFlavor::MultiThread
    );
    // As `#[tokio::test]`: one worker per CPU unless told otherwise.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(Handle::current().metrics().num_workers(), cpus);
    tokio::spawn(async {}).await.unwrap();
}

#[leak_check(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_with_two_workers() {
    assert_eq!(Handle::current().metrics().num_workers(), 2);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8 {
        set.spawn(async move { i });
    }
    assert_eq!(set.join_all().await.len(), 8);
}

#[cfg(taskleak_hooks)]
#[leak_check(flavor = "local")]
async fn local_runs_non_send_tasks() {
    // `Rc` is not `Send`: only a `LocalRuntime` can spawn this.
    let shared = std::rc::Rc::new(5);
    let task = tokio::task::spawn_local({
        let shared = shared.clone();
        async move { *shared + 1 }
    });
    assert_eq!(task.await.unwrap(), 6);
}

// ---- time ----------------------------------------------------------------

#[leak_check(start_paused = true)]
async fn start_paused_lets_the_test_advance_time() {
    let start = tokio::time::Instant::now();
    let timer = tokio::spawn(tokio::time::sleep(Duration::from_secs(3600)));
    tokio::time::advance(Duration::from_secs(3601)).await;
    timer.await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(3600));
}

#[cfg(taskleak_hooks)]
#[leak_check(flavor = "local", start_paused = true)]
async fn start_paused_on_local() {
    let timer = tokio::task::spawn_local(tokio::time::sleep(Duration::from_secs(60)));
    tokio::time::advance(Duration::from_secs(61)).await;
    timer.await.unwrap();
}

#[leak_check(grace = "5s")]
async fn grace_lets_stragglers_finish() {
    // Not awaited: it is still running when the body returns, and finishes
    // well inside the grace period, so it is not a leak.
    drop(tokio::spawn(tokio::time::sleep(Duration::from_millis(50))));
}

#[leak_check(flavor = "multi_thread", worker_threads = 1, grace = "1.5s")]
async fn grace_on_multi_thread() {
    drop(tokio::spawn(tokio::time::sleep(Duration::from_millis(20))));
}

// ---- ignore ---------------------------------------------------------------

// Ignoring needs spawn sites, which need `--cfg tokio_unstable` (this repo's
// .cargo/config.toml sets it); the stable fallback only counts tasks.

#[cfg(taskleak_hooks)]
#[leak_check(grace = "10ms", ignore = ["leak_check_forms::background"])]
async fn ignore_by_path_prefix() {
    background::start_metrics();
}

#[cfg(taskleak_hooks)]
#[leak_check(grace = "10ms", ignore = ["fixtures/background.rs"])]
async fn ignore_by_file() {
    background::start_metrics();
}

#[cfg(taskleak_hooks)]
#[leak_check(
    flavor = "multi_thread",
    grace = "10ms",
    ignore = ["some_other_crate::worker", "tests/fixtures/background.rs:16"]
)]
async fn ignore_by_line_among_several() {
    background::start_metrics();
}

// ---- return types -----------------------------------------------------------

#[leak_check]
async fn returns_ok() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

#[leak_check(flavor = "multi_thread", worker_threads = 2)]
async fn returns_boxed_error_with_question_mark() -> Result<(), Box<dyn std::error::Error>> {
    let answer = tokio::spawn(async { "7".parse::<u8>() }).await??;
    assert_eq!(answer, 7);
    Ok(())
}

#[leak_check]
async fn returns_early() -> Result<(), String> {
    if tokio::spawn(async { true }).await.unwrap() {
        return Ok(());
    }
    Err("unreachable".to_owned())
}

// ---- plain fn -----------------------------------------------------------------

#[leak_check]
fn plain_fn_without_a_runtime() {
    assert_eq!(1 + 1, 2);
}

#[leak_check(grace = "1s")]
fn plain_fn_spawning_on_its_own_tracked_runtime() {
    use taskleak::BuilderExt;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .track_tasks()
        .build()
        .unwrap();
    rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
    // Spawned from the test's thread, finishing within the grace period.
    drop(rt.spawn(async { tokio::time::sleep(Duration::from_millis(20)).await }));
    std::thread::sleep(Duration::from_millis(50));
}

#[leak_check(grace = "100ms", ignore = ["fixtures/background.rs"])]
fn plain_fn_returning_result() -> Result<(), String> {
    "12".parse::<u8>().map_err(|e| e.to_string())?;
    Ok(())
}

// ---- runtime options, passed through as #[tokio::test] would -------------------

/// Where a test suite re-exports tokio; `crate = "..."` points there.
mod reexport {
    pub use tokio;
}

#[leak_check(crate = "tokio")]
async fn crate_path_to_tokio() {
    tokio::spawn(async {}).await.unwrap();
}

#[leak_check(
    crate = "crate::reexport::tokio",
    flavor = "multi_thread",
    worker_threads = 1
)]
async fn crate_path_to_a_reexport() {
    reexport::tokio::spawn(async {}).await.unwrap();
}

#[cfg(taskleak_runtime_name)] // tokio 1.51 (build.rs)
#[leak_check(name = "leak-check-runtime")]
async fn named_runtime() {
    tokio::spawn(async {}).await.unwrap();
}

#[cfg(taskleak_hooks)]
#[leak_check(unhandled_panic = "ignore")]
async fn unhandled_panic_ignore() {
    // The task's panic stays in its JoinHandle, as with #[tokio::test].
    let err = tokio::spawn(async { panic!("in a task") })
        .await
        .unwrap_err();
    assert!(err.is_panic());
}

// ---- other attributes are kept --------------------------------------------------

#[leak_check]
#[should_panic(expected = "the body's own panic")]
async fn should_panic_is_kept() {
    panic!("the body's own panic");
}

#[leak_check]
#[ignore = "shows that #[ignore] is kept; running it is harmless"]
async fn ignore_attribute_is_kept() {}

/// An explicit `#[test]` below is kept, and no second one added.
#[leak_check]
#[test]
async fn explicit_test_attribute_below() {
    tokio::spawn(async {}).await.unwrap();
}

#[leak_check]
async fn inner_attributes_are_lifted() {
    #![allow(clippy::bool_assert_comparison)]
    assert_eq!(tokio::spawn(async { true }).await.unwrap(), true);
}

#[leak_check]
pub async fn public_test_fn() {}
