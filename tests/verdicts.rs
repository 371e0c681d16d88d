//! Fixtures whose verdicts must be the same under `cargo test` (threads in
//! one process) and `cargo nextest run` (one process per test). All are
//! `#[ignore]`d; `.ci/verdicts` runs them under both and compares: every
//! `leaky_*` fails, every `clean_*` passes.

mod common;

use std::time::Duration;

use common::{current_thread, forever, multi_thread};

#[test]
#[ignore = "fixture for .ci/verdicts"]
fn leaky_current_thread() {
    let rt = current_thread();
    let guard = taskleak::verify_none();
    rt.block_on(async {
        tokio::spawn(forever());
        guard.check_async().await.unwrap();
    });
}

#[test]
#[ignore = "fixture for .ci/verdicts"]
fn leaky_multi_thread_nested() {
    let rt = multi_thread();
    let _guard = taskleak::verify_none();
    rt.spawn(async {
        tokio::spawn(forever());
    });
}

#[test]
#[ignore = "fixture for .ci/verdicts"]
fn leaky_after_grace() {
    let rt = multi_thread();
    let _guard = taskleak::Options::new()
        .grace(Duration::from_millis(20))
        .verify_none();
    rt.spawn(async { tokio::time::sleep(Duration::from_secs(2)).await });
}

#[test]
#[ignore = "fixture for .ci/verdicts"]
fn clean_joined() {
    let rt = multi_thread();
    let _guard = taskleak::verify_none();
    rt.block_on(async {
        for _ in 0..20 {
            tokio::spawn(async {}).await.unwrap();
        }
    });
}

#[test]
#[ignore = "fixture for .ci/verdicts"]
fn clean_within_grace() {
    let rt = current_thread();
    let guard = taskleak::verify_none();
    rt.block_on(async {
        tokio::spawn(tokio::time::sleep(Duration::from_millis(30)));
        guard.check_async().await.unwrap();
    });
}

#[test]
#[ignore = "fixture for .ci/verdicts"]
fn clean_aborted() {
    let rt = multi_thread();
    let _guard = taskleak::verify_none();
    rt.block_on(async { tokio::spawn(forever()).abort() });
}
