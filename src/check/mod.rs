//! The guard, and the check it runs when the test body is done: wait
//! (`wait`), take a snapshot and have it judged (`crate::judge`), add task
//! dumps (`finish`), and hand the judgement to `crate::outputs`.

mod finish;
pub(crate) mod growth;
mod lag;
mod lookup;
mod track;
mod wait;
pub(crate) mod watch;
mod watchdog;

use std::collections::HashSet;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::task::Id;

use crate::capture::hooks::runtime_key;
use crate::capture::registry;
use crate::capture::scope::Scope;
use crate::config::{Mode, Options, Rules, Settings};
use crate::exit;
use crate::judge::Judgement;
use crate::outputs::{self, notices};
use crate::report::Leaks;
pub(crate) use finish::Waiting;
pub use track::Tracked;
pub(crate) use track::{track, track_fresh, verify};

/// Opens a leak-check scope on this thread with the default [`Options`]:
/// the grace period and ignore rules of `TASKLEAK_GRACE`,
/// `taskleak::configure!` and `.config/taskleak.toml`, else 500 ms and none.
///
/// Every task spawned on a tracked runtime from this thread (outside any
/// task) until the check, and every task those tasks spawn, belongs to the
/// scope. Tests running in parallel on other threads have scopes of their
/// own and never see these tasks.
///
/// ```
/// use taskleak::BuilderExt;
///
/// let rt = tokio::runtime::Builder::new_current_thread()
///     .enable_all()
///     .track_tasks()
///     .build()
///     .unwrap();
///
/// let guard = taskleak::verify_none();
/// rt.block_on(async {
///     let worker = tokio::spawn(async { 1 + 1 });
///     assert_eq!(worker.await.unwrap(), 2);
///     guard.check_async().await.unwrap(); // nothing left running
/// });
/// ```
#[track_caller]
pub fn verify_none() -> Guard {
    Options::new().verify_none()
}

/// An open leak-check scope. Check it with [`Guard::check`] or
/// [`Guard::check_async`]; dropping it unchecked checks and panics with the
/// report if tasks leaked (or, when the thread is already panicking, prints
/// the report instead of panicking twice).
///
/// A guard belongs to the thread that opened it, so it is not `Send`.
///
/// ```
/// use taskleak::BuilderExt;
///
/// let rt = tokio::runtime::Builder::new_multi_thread()
///     .enable_all()
///     .track_tasks()
///     .build()
///     .unwrap();
///
/// let guard = taskleak::verify_none();
/// rt.spawn(std::future::pending::<()>()); // never ends
/// let leaks = guard.check().unwrap_err();
/// assert_eq!(leaks.tasks().len(), 1);
/// ```
#[must_use = "a guard checks when it is checked or dropped; bind it: `let guard = ...`"]
pub struct Guard {
    job: Option<Check>,
    /// Where the guard was opened: where a dropped one's failure points.
    opened: &'static Location<'static>,
    _thread_bound: PhantomData<*const ()>,
}

/// Shows what the check will do: its grace period, mode and options, or
/// that it already ran.
///
/// ```
/// let guard = taskleak::Options::new().grace(std::time::Duration::from_millis(10)).verify_none();
/// assert!(format!("{guard:?}").starts_with("Guard { grace: 10ms, mode: "));
/// # guard.check().unwrap();
/// ```
impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Guard");
        match &self.job {
            Some(job) => d
                .field("grace", &job.settings.grace)
                .field("mode", &job.settings.mode)
                .field("options", &job.options),
            None => d.field("checked", &true),
        };
        d.finish_non_exhaustive()
    }
}

/// Everything a check needs, detached from the thread that opened it.
struct Check {
    scope: Arc<Scope>,
    options: Options,
    /// Grace, mode, backtraces and rules, resolved (see `config::layer`).
    settings: Settings,
    /// Runtimes counted by number of live tasks (builds without hooks),
    /// with the count not to exceed.
    counted: Vec<(Handle, usize)>,
    /// Tasks alive at the start, for `Options::ignore_current`.
    preexisting: HashSet<Id>,
    /// Runtimes whose blocking pool is watched, with the busy count at the
    /// start (tokio has no spawn hook for blocking tasks).
    blocking: Vec<(Handle, usize)>,
    /// OS threads at the start, for `Options::threads`.
    threads_before: Option<HashSet<u32>>,
    /// The runtime whose thread awaits this check (`check_async`): it
    /// runs while the check waits, even if it is a current-thread one.
    driving: Option<Handle>,
    /// The check waits on a helper thread (`check_async`), not by blocking
    /// the thread that called it (`check()`, a dropped guard).
    aside: bool,
}

/// The check is over once its judgement is made: tasks its tasks spawn
/// from then on are no longer its (see `capture::registry::place`).
impl Drop for Check {
    fn drop(&mut self) {
        self.scope.mark_done();
    }
}

impl Guard {
    #[track_caller]
    fn open(options: Options) -> Guard {
        crate::config::validate();
        crate::suite::checked();
        let mut settings = options.settings();
        // Known to the run from now on: a rule no check uses is stale.
        let (own, shared) = settings.rules.parts();
        crate::suite::rules::register_shared(shared);
        crate::suite::rules::register(own);
        exit::arm();
        exit::arm_gate_if_configured();
        let current = Handle::try_current().ok();
        if let Some(h) = current.as_ref().filter(|_| crate::capture::TRACKING) {
            // Before the scope opens: the probe task is not the test's.
            if crate::capture::hooks::first_probe(h) == Some(false) {
                notices::untracked(&runtime_key(h));
            }
        }
        let threads_before = options
            .threads
            .then(crate::capture::threads::snapshot)
            .flatten();
        let mut blocking: Vec<(Handle, usize)> = Vec::new();
        for h in options.runtimes.iter().chain(&current) {
            if !blocking
                .iter()
                .any(|(b, _)| runtime_key(b) == runtime_key(h))
                && let Some(busy) = crate::capture::hooks::busy_blocking(h)
            {
                blocking.push((h.clone(), busy));
            }
        }
        let scope = Scope::open();
        // No rule hides a task by the test's own frames (see judge::rules).
        settings.rules = settings.rules.for_test(scope.name.clone());
        if settings.rules.need_frames() {
            scope.require_frames();
        }
        let preexisting = if options.ignore_current && crate::capture::TRACKING {
            registry::live_ids()
        } else {
            HashSet::new()
        };
        let mut counted = Vec::new();
        if !crate::capture::TRACKING {
            // Without hooks, count on the runtimes this guard can see.
            let runtimes = options.runtimes.iter().cloned().chain(current);
            for handle in runtimes {
                if !counted
                    .iter()
                    .any(|(h, _): &(Handle, _)| runtime_key(h) == runtime_key(&handle))
                {
                    // Tasks already running are not this check's: only
                    // a count above the one at the start is a leak.
                    let baseline = handle.metrics().num_alive_tasks();
                    counted.push((handle, baseline));
                }
            }
        }
        Guard {
            job: Some(Check {
                scope,
                settings,
                options,
                counted,
                preexisting,
                blocking,
                threads_before,
                driving: None,
                aside: false,
            }),
            opened: Location::caller(),
            _thread_bound: PhantomData,
        }
    }

    /// Waits (blocking this thread) until the scope's tasks have all ended
    /// or the grace period is over, then reports the survivors.
    ///
    /// Returns at once when no task is alive. In async code prefer
    /// [`Guard::check_async`]: blocking a current-thread runtime's only
    /// thread stops its tasks from finishing.
    ///
    /// ```
    /// let guard = taskleak::verify_none();
    /// assert!(guard.check().is_ok());
    /// ```
    pub fn check(mut self) -> Result<(), Leaks> {
        let job = self.take();
        let rules = job.settings.rules.clone();
        conclude(job.finish_here(), &rules)
    }

    /// Like [`Guard::check`], but waits by yielding to the runtime, so the
    /// tasks being waited for keep running, even on a current-thread
    /// runtime. A clean scope resolves on the first poll.
    ///
    /// ```
    /// # use taskleak::BuilderExt;
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().track_tasks().build().unwrap();
    /// let guard = taskleak::verify_none();
    /// rt.block_on(async {
    ///     tokio::spawn(async {
    ///         tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    ///     });
    ///     // The task finishes within the grace period: no leak.
    ///     guard.check_async().await.unwrap();
    /// });
    /// ```
    pub fn check_async(mut self) -> impl Future<Output = Result<(), Leaks>> + Send + 'static {
        let job = self.take();
        let checked = job.check_async(None);
        async move { checked.await.0 }
    }

    /// [`Guard::check_async`] for `#[leak_check]`: also says whether the
    /// check found leaks (even when `TASKLEAK=warn` passes the test), and
    /// leaves in `waiting`, while it waits, what it waits for.
    pub(crate) fn check_for_harness(
        mut self,
        waiting: Arc<Mutex<Option<Waiting>>>,
    ) -> impl Future<Output = (Result<(), Leaks>, bool)> + Send + 'static {
        self.take().check_async(Some(waiting))
    }
    fn take(&mut self) -> Check {
        let job = self.job.take().expect("a guard is checked once");
        // From now on new spawns from this thread are not the test's; tasks
        // already in the scope (and their children) still are, and they are
        // claimed: the suite gate leaves them to this check.
        job.scope.close();
        job.scope.mark_checked();
        verify(); // a runtime whose tracking was switched off fails it
        job
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.job.is_none() {
            return;
        }
        let job = self.take();
        let rules = job.settings.rules.clone();
        if let Err(leaks) = conclude(job.finish_here(), &rules) {
            if std::thread::panicking() {
                // A second panic would abort the process; the test is
                // failing already, so say what leaked and let it unwind.
                outputs::print(&leaks);
            } else {
                outputs::fail(&leaks, self.opened);
            }
        }
    }
}

impl Options {
    /// Opens a leak-check scope on this thread with these options.
    ///
    /// # Panics
    ///
    /// When `TASKLEAK`, `TASKLEAK_GRACE`, `TASKLEAK_BACKTRACE`, the
    /// binary's `taskleak::configure!` or `.config/taskleak.toml` holds a
    /// value taskleak cannot use; the message names it and what to write
    /// instead.
    ///
    /// ```
    /// let guard = taskleak::Options::new().verify_none();
    /// // ... the code under test spawns tasks on a tracked runtime ...
    /// guard.check().unwrap();
    /// ```
    #[track_caller]
    pub fn verify_none(self) -> Guard {
        Guard::open(self)
    }
}

/// Hands a check's judgement to the outputs; `Err` when the test fails.
#[track_caller]
fn conclude(judgement: Judgement, rules: &Rules) -> Result<(), Leaks> {
    verify();
    // A test's leaks are weighed against the baseline: one that cannot be
    // read fails the check that needed it, saying why.
    if judgement.leaks.is_some()
        && judgement.test.is_some()
        && judgement.mode != Mode::Record
        && let Err(e) = crate::suite::baseline::current()
    {
        panic!("{e}");
    }
    outputs::check(judgement, rules)
}
