//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use taskleak::BuilderExt;
use tokio::runtime::{Builder, Runtime};

pub fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .track_tasks()
        .build()
        .unwrap()
}

pub fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .track_tasks()
        .build()
        .unwrap()
}

/// A short grace for tests that expect a leak, so the suite stays quick.
pub fn quick() -> taskleak::Options {
    taskleak::Options::new().grace(Duration::from_millis(50))
}

/// A future that never completes.
pub async fn forever() {
    std::future::pending::<()>().await
}
