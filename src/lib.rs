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

mod capture;
mod check;
mod config;
mod gate;
mod harness;
mod report;
mod should_panic;
mod suite;
mod task;
mod util;
mod walk;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use check::{Guard, verify_none};
pub use config::{DEFAULT_GRACE, Options};
pub use report::{LeakedTask, Leaks, SpawnSite};
pub use capture::spawn::{spawn_blocking, spawn_local, thread};
pub use task::{Activity, Frame, Verdict};
pub use taskleak_macros::leak_check;

/// [`leak_check`] under a name that ends in `test`, for tools that look for
/// one: rstest takes an `async fn` only below such an attribute, so
/// `#[rstest] #[case(1)] #[taskleak::test] async fn t(#[case] n: u32)`
/// works where `#[leak_check]` alone is refused. Write it with its path;
/// a glob import would make `#[test]` ambiguous.
///
/// ```ignore
/// #[taskleak::test(flavor = "multi_thread")]
/// async fn also_a_leak_check() {}
/// ```
pub use taskleak_macros::leak_check as test;
pub use capture::threads::LeakedThread;

/// Whether this build can see spawn sites (tokio's hooks are compiled in:
/// `--cfg tokio_unstable` and tokio 1.46.1 or newer; see build.rs).
const TRACKING: bool = cfg!(taskleak_hooks);

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
    #[track_caller]
    fn track_tasks(&mut self) -> &mut Self {
        track(self);
        self
    }
}

/// [`BuilderExt::track_tasks`], returning what the harness watches.
#[track_caller]
pub(crate) fn track(builder: &mut tokio::runtime::Builder) -> capture::hooks::Ends {
    config::defaults::validate();
    if let Some(choice) = config::defaults::chosen_backtraces() {
        // A path rule of configure! needs frames to be judged.
        let path_rule = config::defaults::ignores().any(|r| r.is_path());
        let frames = choice == config::env::Backtraces::Full || path_rule;
        walk::CAPTURE_FRAMES.store(frames, std::sync::atomic::Ordering::Relaxed);
    }
    gate::arm_if_configured();
    gate::register_rules(&mut []); // configure!'s, which the gate uses
    capture::hooks::install(builder)
}

/// Sets binary-wide defaults for every check in this test binary, like
/// goleak's `VerifyTestMain(m, opts...)`. Place it once, at the top level of
/// a test crate; it runs before any test.
///
/// | key | value | meaning |
/// |---|---|---|
/// | `grace` | `"250ms"`, `"2s"` | default grace period |
/// | `ignore` | `["crate::path", "src/file.rs", "src/file.rs:42"]` | ignore rules added to every check, and to the suite gate |
/// | `mode` | `"fail"`, `"warn"`, `"off"` | as `TASKLEAK` |
/// | `backtrace` | `"full"`, `"short"`, `"off"` | as `TASKLEAK_BACKTRACE` |
/// | `suite_gate` | `true` | at the end of the binary, fail it if tracked tasks that no check claimed are still running |
///
/// A setting given to a check (`Options`, `#[leak_check(..)]`) wins over
/// the environment (`TASKLEAK_*`), which wins over `configure!`, which wins
/// over `.config/taskleak.toml`, then the built-in defaults. The config
/// file needs no code, so it also works in crates that
/// `#![forbid(unsafe_code)]`, where this macro cannot compile (its
/// constructor needs `unsafe`); see docs/config.md. A bad value fails the first check with a
/// message naming it; an unknown key is a compile error.
///
/// ```
/// taskleak::configure! {
///     grace: "1s",
///     ignore: ["hyper_util::client::legacy::pool"],
///     suite_gate: true,
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! configure {
    ($($key:ident : $value:expr),* $(,)?) => {
        const _: () = {
            #[$crate::__private::ctor::ctor(unsafe, crate_path = $crate::__private::ctor)]
            fn __taskleak_configure() {
                let mut config = $crate::__private::Config::new(concat!(file!(), ":", line!()));
                $( $crate::configure!(@key config $key $value); )*
                config.install();
            }
        };
    };
    (@key $c:ident grace $v:expr) => { $c.grace($v) };
    (@key $c:ident ignore $v:expr) => { $c.ignore(&$v) };
    (@key $c:ident mode $v:expr) => { $c.mode($v) };
    (@key $c:ident backtrace $v:expr) => { $c.backtrace($v) };
    (@key $c:ident suite_gate $v:expr) => { $c.suite_gate($v) };
    (@key $c:ident $other:ident $v:expr) => {
        compile_error!(concat!(
            "taskleak::configure!: unknown key `", stringify!($other),
            "`; expected one of: grace, ignore, mode, backtrace, suite_gate"
        ))
    };
}
