//! `#[leak_check]` together with other test attributes, in every order
//! that docs/composition.md documents as supported. All tests here must pass.
//!
//! What decides the orders: an attribute above `#[leak_check]` expands
//! first and sees `#[leak_check]` unexpanded; one below it sees the plain
//! `fn` that `#[leak_check]` made of an `async fn`, with `#[test]` added
//! only if no test attribute (a path ending in `test`, `#[rstest]`,
//! `#[test_case]`) was there already.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rstest::{fixture, rstest};
use serial_test::serial;
use taskleak::leak_check;

// ---- rstest ----------------------------------------------------------------
//
// rstest 0.26 refuses an `async fn` without a test attribute it recognises
// (one whose path ends in `test`), so `#[rstest] #[leak_check] async fn`
// alone does not compile. Name `#[leak_check]` with `#[test_attr(...)]`,
// or add a plain `#[test]` below it, or put `#[leak_check]` above.

#[rstest]
#[case(1)]
#[case(2)]
#[test_attr(taskleak::leak_check)]
async fn rstest_cases_with_test_attr(#[case] n: u32) {
    let doubled = tokio::spawn(async move { n * 2 }).await.unwrap();
    assert_eq!(doubled, n * 2);
}

// `taskleak::test` is `leak_check` under a name rstest recognises: the
// drop-in form for rstest suites (`tokio::test` → `taskleak::test`).
#[rstest]
#[case(1)]
#[case(2)]
#[taskleak::test]
async fn rstest_cases_with_taskleak_test(#[case] n: u32) {
    let doubled = tokio::spawn(async move { n * 2 }).await.unwrap();
    assert_eq!(doubled, n * 2);
}

#[rstest]
#[case(1)]
#[taskleak::test(grace = "50ms")]
#[should_panic(expected = "spawned at tests/leak_check_compose.rs:")]
async fn rstest_taskleak_test_catches_a_leak(#[case] n: u32) {
    tokio::spawn(async move {
        std::future::pending::<()>().await;
        n
    });
}

#[rstest]
#[case::one(1)]
#[case::two(2)]
#[test_attr(taskleak::leak_check(flavor = "multi_thread", worker_threads = 2, grace = "1s"))]
async fn rstest_cases_with_arguments(#[case] n: u32) {
    assert_eq!(tokio::runtime::Handle::current().metrics().num_workers(), 2);
    tokio::spawn(async move { n }).await.unwrap();
}

#[rstest]
#[case(3)]
#[leak_check]
#[test]
async fn rstest_above_leak_check_and_test(#[case] n: u32) {
    tokio::spawn(async move { n }).await.unwrap();
}

#[leak_check(start_paused = true)]
#[rstest]
#[case(Duration::from_secs(10))]
#[case(Duration::from_secs(600))]
async fn leak_check_above_rstest(#[case] wait: Duration) {
    let timer = tokio::spawn(tokio::time::sleep(wait));
    tokio::time::advance(wait).await;
    timer.await.unwrap();
}

#[fixture]
fn answer() -> u32 {
    42
}

#[rstest]
#[test_attr(taskleak::leak_check)]
async fn rstest_fixture(answer: u32) {
    assert_eq!(tokio::spawn(async move { answer }).await.unwrap(), 42);
}

#[rstest]
#[case(4)]
#[leak_check(grace = "100ms")]
fn rstest_plain_fn(#[case] n: u32) {
    assert_eq!(n, 4);
}

// ---- test-log ---------------------------------------------------------------
//
// All three orders work: test-log only adds `#[test]` when none is there,
// and `#[leak_check]` counts `#[test_log::test]` as a test attribute.

fn logging_is_initialised() -> bool {
    tracing::info!("inside the test body");
    tracing::dispatcher::has_been_set()
}

#[test_log::test]
#[leak_check]
async fn test_log_above() {
    assert!(logging_is_initialised());
    tokio::spawn(async {}).await.unwrap();
}

#[leak_check(flavor = "multi_thread", worker_threads = 1)]
#[test_log::test]
async fn test_log_below() {
    assert!(logging_is_initialised());
    tokio::spawn(async {}).await.unwrap();
}

#[test_log::test(taskleak::leak_check(grace = "1s"))]
async fn test_log_wrapping_leak_check() {
    assert!(logging_is_initialised());
    tokio::spawn(async {}).await.unwrap();
}

#[test_log::test]
#[leak_check]
fn test_log_plain_fn() {
    assert!(logging_is_initialised());
}

// ---- serial_test -------------------------------------------------------------
//
// Both orders work. Each test below checks that no other one runs at the
// same time, so a lost `#[serial]` shows up as a failure (under the default
// parallel test runner).

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts the serial tests running right now; must stay at one.
struct Exclusive;

impl Exclusive {
    fn enter() -> Self {
        assert_eq!(
            RUNNING.fetch_add(1, Ordering::SeqCst),
            0,
            "two #[serial] tests overlapped"
        );
        Exclusive
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

#[serial]
#[leak_check]
async fn serial_above() {
    let _only = Exclusive::enter();
    tokio::time::sleep(Duration::from_millis(30)).await;
    tokio::spawn(async {}).await.unwrap();
}

#[leak_check(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn serial_below() {
    let _only = Exclusive::enter();
    tokio::time::sleep(Duration::from_millis(30)).await;
    tokio::spawn(async {}).await.unwrap();
}

#[serial]
#[leak_check]
fn serial_plain_fn() {
    let _only = Exclusive::enter();
    std::thread::sleep(Duration::from_millis(30));
}

#[leak_check]
#[serial]
async fn serial_below_returning_result() -> Result<(), String> {
    let _only = Exclusive::enter();
    tokio::time::sleep(Duration::from_millis(30)).await;
    Ok(())
}

// ---- several at once -----------------------------------------------------------

#[rstest]
#[case(1)]
#[serial]
#[test_attr(taskleak::leak_check)]
async fn rstest_serial_and_leak_check(#[case] n: u32) {
    let _only = Exclusive::enter();
    tokio::spawn(async move { n }).await.unwrap();
}

#[test_log::test]
#[serial]
#[leak_check(start_paused = true)]
async fn test_log_serial_and_leak_check() {
    let _only = Exclusive::enter();
    assert!(logging_is_initialised());
    tokio::time::advance(Duration::from_secs(1)).await;
}

// ---- the leak check still runs in each composition ---------------------------
//
// The same orders again, each leaking one task: every one must fail with
// the report. (Spawn sites are pinned in leak_check_fail.rs.)

#[rstest]
#[case(1)]
#[case(2)]
#[should_panic(expected = "taskleak: ")]
#[test_attr(taskleak::leak_check(grace = "10ms"))]
async fn rstest_test_attr_catches_leaks(#[case] _n: u32) {
    tokio::spawn(std::future::pending::<()>());
}

#[rstest]
#[case(1)]
#[should_panic(expected = "taskleak: ")]
#[leak_check(flavor = "multi_thread", grace = "10ms")]
#[test]
async fn rstest_with_test_below_catches_leaks(#[case] _n: u32) {
    tokio::spawn(std::future::pending::<()>());
}

#[leak_check(grace = "10ms")]
#[rstest]
#[case(1)]
#[should_panic(expected = "taskleak: ")]
async fn leak_check_above_rstest_catches_leaks(#[case] _n: u32) {
    tokio::spawn(std::future::pending::<()>());
}

#[test_log::test]
#[leak_check(grace = "10ms")]
#[should_panic(expected = "taskleak: ")]
async fn test_log_above_catches_leaks() {
    tokio::spawn(std::future::pending::<()>());
}

#[leak_check(grace = "10ms")]
#[test_log::test]
#[should_panic(expected = "taskleak: ")]
async fn test_log_below_catches_leaks() {
    tokio::spawn(std::future::pending::<()>());
}

#[test_log::test(taskleak::leak_check(grace = "10ms"))]
#[should_panic(expected = "taskleak: ")]
async fn test_log_wrapping_catches_leaks() {
    tokio::spawn(std::future::pending::<()>());
}

#[serial]
#[leak_check(grace = "10ms")]
#[should_panic(expected = "taskleak: ")]
async fn serial_above_catches_leaks() {
    let _only = Exclusive::enter();
    tokio::spawn(std::future::pending::<()>());
}

#[leak_check(flavor = "multi_thread", grace = "10ms")]
#[serial]
#[should_panic(expected = "taskleak: ")]
async fn serial_below_catches_leaks() {
    let _only = Exclusive::enter();
    tokio::spawn(std::future::pending::<()>());
}
