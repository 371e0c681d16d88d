//! Fail a test when it leaks tokio tasks, and show where each one was
//! spawned, by which task, and how long it has been running.
//!
//! ```
//! use taskleak::BuilderExt;
//!
//! let rt = tokio::runtime::Builder::new_multi_thread()
//!     .enable_all()
//!     .track_tasks() // record every task of this runtime
//!     .build()
//!     .unwrap();
//!
//! let guard = taskleak::verify_none(); // this thread's tasks from here on
//! rt.spawn(async {
//!     std::future::pending::<()>().await; // never ends
//! });
//! let leaks = guard.check().unwrap_err(); // waited 500 ms, then reported
//! assert_eq!(leaks.tasks().len(), 1);
//! println!("{leaks}");
//! ```
//!
//! In tests, [`leak_check`] replaces `#[tokio::test]` and does all of this:
//!
//! ```ignore
//! #[taskleak::leak_check]
//! async fn shuts_down_cleanly() {
//!     let server = my_app::Server::start().await;
//!     server.shutdown().await; // any task it forgot fails the test
//! }
//! ```
//!
//! Spawn sites come from tokio's task hooks, which need
//! `--cfg tokio_unstable` (see the README). Without it the crate still
//! builds, and checks count live tasks on the runtimes they can see.
#![warn(missing_docs)]

mod check;
mod config;
mod harness;
mod hooks;
mod registry;
mod report;
mod scope;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use check::{Guard, verify_none};
pub use config::{DEFAULT_GRACE, Options};
pub use report::{Activity, Frame, LeakedTask, Leaks, SpawnSite, Verdict};
pub use taskleak_macros::leak_check;

/// Whether this build can see spawn sites (tokio's hooks are compiled in).
const TRACKING: bool = cfg!(tokio_unstable);

/// Adds [`track_tasks`](BuilderExt::track_tasks) to tokio's runtime
/// builder.
///
/// ```
/// use taskleak::BuilderExt;
///
/// let rt = tokio::runtime::Builder::new_current_thread()
///     .enable_all()
///     .track_tasks()
///     .build()
///     .unwrap();
/// # drop(rt);
/// ```
pub trait BuilderExt {
    /// Records every task this runtime spawns, so that checks can report
    /// the ones that leak with their spawn sites.
    ///
    /// This installs tokio's `on_task_spawn` and `on_task_terminate`
    /// hooks, replacing any set before on this builder. Without
    /// `--cfg tokio_unstable` tokio has no hooks: this does nothing, and
    /// checks fall back to counting live tasks.
    ///
    /// ```
    /// use taskleak::BuilderExt;
    ///
    /// let rt = tokio::runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .enable_all()
    ///     .track_tasks()
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    fn track_tasks(&mut self) -> &mut Self;
}

impl BuilderExt for tokio::runtime::Builder {
    fn track_tasks(&mut self) -> &mut Self {
        hooks::install(self);
        self
    }
}
