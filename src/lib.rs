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
//!
//! # The modules, and the path a task takes through them
//!
//! Layers only point down (`tests/layers.rs` checks it); the pipeline is
//! drawn in docs/how-it-works.md.
//!
//! | module | holds |
//! |---|---|
//! | `util` | the clock, a bounded wait, `human`, `plural`, one string quoter |
//! | `task` | what is known of one task, shared by producer and consumer: `Activity`, `Frame`, `Kind`, `Stuck`, `NotDumped` |
//! | `config` | settings as values: `Options`, one `Layer` per source, one merge, `ConfigError`, ignore rules (pure) |
//! | `capture` | tokio's hooks → the registry of live tasks → scopes; the stack walk; symbol lookups; OS threads; per-site censuses for growth checks (`census`, `figures`) |
//! | `report` | the report's model (`Leaks`, `LeakedTask`) and its text, annotations and JSON |
//! | `suite` | the run's facts: tests checked, leaks seen, the baseline (read), the rule tally |
//! | `judge` | a snapshot of survivors + settings + baseline → a `Judgement`, purely; how a test ends; whether a site's samples grow (`growth`) |
//! | `ledger` | the run level: a ledger per test process, and the whole run judged from all of them (`cargo taskleak`) |
//! | `outputs` | a judgement → every effect: panic text, stderr, CI, JSON, summary, baseline write |
//! | `exit` | the one `atexit` handler: stale rules, summary, suite gate, exit code |
//! | `check` | the guard, its wait and snapshot, `track_tasks`'s setup and the `Tracked` builder it returns; the growth guard and the watch |
//! | `harness` | `#[leak_check]`'s runtime: build, run the body, check, shut down |
//!
//! A task is recorded by the spawn hook (`capture::hooks` →
//! `capture::registry`, in the scope of the test that spawned it), counted
//! down by the terminate hook, and, if it is still alive when its check's
//! wait ends (`check`), read into a snapshot, judged (`judge`) and
//! reported (`outputs`).
#![warn(missing_docs)]

mod capture;
mod check;
mod config;
mod exit;
mod harness;
mod judge;
mod ledger;
mod outputs;
mod report;
mod suite;
mod task;
mod util;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[doc(hidden)]
#[path = "cli.rs"]
pub mod __cli;

pub use capture::spawn::{spawn_blocking, spawn_local, thread};
pub use capture::threads::LeakedThread;
pub use check::growth::{Growth, check_growth, growth};
pub use check::watch::{Watch, Watching};
pub use check::{Guard, Tracked, verify_none};
pub use config::{DEFAULT_GRACE, Options};
pub use report::{Growing, GrowingSite, LeakedTask, Leaks, SpawnSite};
pub use task::{Activity, Frame, Verdict};
pub use taskleak_grammar::PatternError;
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
    /// This installs tokio's `on_thread_start` and `on_thread_stop` hooks
    /// (which runtime threads are the runtime's own, for
    /// [`Options::threads`]) and, with `--cfg tokio_unstable`, its
    /// `on_task_spawn`, `on_before_task_poll`, `on_after_task_poll` and
    /// `on_task_terminate` hooks (spawn sites, poll activity, ends).
    /// Without the cfg, checks fall back to counting live tasks on the
    /// runtimes they can see, and say so.
    ///
    /// tokio keeps one closure per hook and gives none back, so set your
    /// own hooks *after* this call, on the [`Tracked`] builder it returns:
    /// they run beside taskleak's. It panics on a builder with a thread
    /// hook set already (yours would be dropped); a task hook set before
    /// it is replaced (tokio does not show it). A spawn hook set through
    /// the plain builder afterwards switches tracking off: every check
    /// then fails, saying so, rather than pass blind.
    ///
    /// A runtime set up inside a test's scope is that test's: a task
    /// spawned onto it from a thread without a scope joins the test's.
    ///
    /// ```
    /// use taskleak::BuilderExt;
    ///
    /// let rt = tokio::runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .enable_all()
    ///     .track_tasks()
    ///     .on_thread_start(|| {}) // yours, beside taskleak's
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    fn track_tasks(&mut self) -> Tracked<'_>;
}

impl BuilderExt for tokio::runtime::Builder {
    #[track_caller]
    fn track_tasks(&mut self) -> Tracked<'_> {
        let installed = check::track(self);
        Tracked::new(self, installed.ours)
    }
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
