//! The guard, and the check it runs when the test body is done.

use std::collections::HashSet;
use std::future::Future;
use std::io::Write as _;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::Id;

use crate::config::env::Mode;
use crate::config::{Options, defaults};
use crate::hooks::runtime_key;
use crate::registry;
use crate::report::{self, Leaks};
use crate::scope::Scope;

/// Opens a leak-check scope on this thread with the default [`Options`]
/// (500 ms grace, no ignore rules).
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
    _thread_bound: PhantomData<*const ()>,
}

/// Everything a check needs, detached from the thread that opened it.
struct Check {
    scope: Arc<Scope>,
    options: Options,
    /// The grace period, resolved (options > environment > configure!).
    grace: Duration,
    mode: Mode,
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
}

impl Guard {
    pub(crate) fn open(options: Options) -> Guard {
        let current = Handle::try_current().ok();
        if let Some(h) = current.as_ref().filter(|_| crate::TRACKING) {
            // Before the scope opens: the probe task is not the test's.
            if crate::hooks::first_probe(h) == Some(false) {
                warn_untracked(h);
            }
        }
        let threads_before = options.threads.then(crate::threads::snapshot).flatten();
        let mut blocking: Vec<(Handle, usize)> = Vec::new();
        for h in options.runtimes.iter().chain(&current) {
            if !blocking
                .iter()
                .any(|(b, _)| runtime_key(b) == runtime_key(h))
                && let Some(busy) = crate::hooks::busy_blocking(h)
            {
                blocking.push((h.clone(), busy));
            }
        }
        let scope = Scope::open();
        let preexisting = if options.ignore_current && crate::TRACKING {
            registry::live_ids()
        } else {
            HashSet::new()
        };
        let mut counted = Vec::new();
        if !crate::TRACKING {
            // Without hooks, count on the runtimes this guard can see.
            let runtimes = options.runtimes.iter().cloned().chain(current);
            for handle in runtimes {
                if !counted
                    .iter()
                    .any(|(h, _): &(Handle, _)| runtime_key(h) == runtime_key(&handle))
                {
                    // goleak-like: every live task counts, unless asked
                    // to ignore the ones already there.
                    let baseline = if options.ignore_current {
                        handle.metrics().num_alive_tasks()
                    } else {
                        0
                    };
                    counted.push((handle, baseline));
                }
            }
        }
        Guard {
            job: Some(Check {
                scope,
                grace: defaults::grace(options.grace),
                mode: defaults::mode(),
                options,
                counted,
                preexisting,
                blocking,
                threads_before,
            }),
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
        let mode = job.mode;
        conclude(mode, job.run())
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
        // The runtimes whose tasks a dump can show: the one we run in, and
        // the one #[leak_check] built.
        let mut runtimes = job.options.runtimes.clone();
        runtimes.extend(Handle::try_current().ok());
        runtimes.dedup_by_key(|h| runtime_key(h));
        async move {
            let mode = job.mode;
            if mode == Mode::Off || job.is_clean() || job.settles_soon().await {
                return Ok(());
            }
            // Wait on a helper thread, woken by the terminate hook itself;
            // this task just awaits its answer and the runtime keeps going.
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("taskleak-check".into())
                .spawn(move || {
                    let _ = tx.send(job.run());
                })
                .expect("taskleak: cannot start the check thread");
            let mut verdict = rx.await.expect("taskleak: the check thread panicked");
            if let Err(leaks) = &mut verdict
                && !leaks.tasks.is_empty()
                && let Some(dumps) = crate::hooks::suspended(&runtimes).await
            {
                leaks.attach_dumps(&dumps);
            }
            conclude(mode, verdict)
        }
    }

    fn take(&mut self) -> Check {
        let job = self.job.take().expect("a guard is checked once");
        // From now on new spawns from this thread are not the test's; tasks
        // already in the scope (and their children) still are, and they are
        // claimed: the suite gate leaves them to this check.
        job.scope.close();
        job.scope.mark_checked();
        job
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.job.is_none() {
            return;
        }
        let job = self.take();
        let mode = job.mode;
        if let Err(leaks) = conclude(mode, job.run()) {
            if std::thread::panicking() {
                // A second panic would abort the process; the test is
                // failing already, so say what leaked and let it unwind.
                eprintln!("{}", leaks.for_stderr());
            } else {
                panic!("{}", leaks.for_stderr());
            }
        }
    }
}

/// Says once per process that checks without hooks and without a visible
/// runtime cannot see anything, rather than passing in silence.
fn warn_blind() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "taskleak: warning: this check cannot see any task. taskleak was built without \
             `--cfg tokio_unstable`, so it can only count tasks on a runtime that is current \
             when the guard is created (or one #[leak_check] builds). Build with \
             `--cfg tokio_unstable` (in .cargo/config.toml: [build] rustflags = \
             [\"--cfg\", \"tokio_unstable\"]) for per-test tracking with spawn sites."
        );
    });
}

/// Says (once per runtime: each is probed once) that a check runs on a
/// runtime whose tasks taskleak cannot see, rather than passing in silence.
fn warn_untracked(handle: &Handle) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "taskleak: warning: the tokio runtime this guard was created in ({:?}) is not tracked, \
         so checks cannot see its tasks. Build it with `.track_tasks()` (use \
         taskleak::BuilderExt), or write #[taskleak::leak_check] instead of #[tokio::test].",
        runtime_key(handle)
    );
}

/// Applies `TASKLEAK`'s mode to a verdict, and publishes leaks to CI.
fn conclude(mode: Mode, verdict: Result<(), Leaks>) -> Result<(), Leaks> {
    // The baseline's known leaks pass; every leak is noted for the summary.
    let verdict = crate::suite::judge(verdict);
    match (mode, verdict) {
        (_, Ok(())) | (Mode::Off, _) => Ok(()),
        (Mode::Warn, Err(leaks)) => {
            report::ci::publish(&leaks);
            // Straight to stderr: libtest drops what a passing test printed.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}\n(TASKLEAK=warn: not failing the test)",
                leaks.for_stderr()
            );
            Ok(())
        }
        (Mode::Fail, Err(leaks)) => {
            report::ci::publish(&leaks);
            Err(leaks)
        }
    }
}

impl Check {
    fn is_clean(&self) -> bool {
        self.scope.alive() == 0
            && self.counted_extra() == 0
            && self.threads_before.is_none()
            && self
                .blocking
                .iter()
                .all(|(h, before)| crate::hooks::busy_blocking(h).unwrap_or(0) <= *before)
    }

    /// Gives the runtime a few turns (up to ~1 ms, never past the grace
    /// period) and says whether the scope is clean after one of them.
    /// Tasks that only wait for their turn, the usual case at a test's end,
    /// are done by then, and the helper thread a longer wait needs costs
    /// tens of µs.
    async fn settles_soon(&self) -> bool {
        let start = Instant::now();
        let budget = self.grace.min(Duration::from_millis(1));
        if budget.is_zero() {
            return false;
        }
        for _ in 0..64 {
            tokio::task::yield_now().await;
            if self.is_clean() {
                return true;
            }
            if start.elapsed() >= budget {
                break;
            }
        }
        false
    }

    /// The scope's live tasks, less those `ignore_current` excludes.
    fn survivors(&self) -> Vec<Arc<registry::TaskRecord>> {
        let mut records = registry::survivors(&self.scope);
        if !self.preexisting.is_empty() {
            records.retain(|r| {
                let mut lineage = std::iter::successors(Some(&**r), |r| r.parent.as_deref());
                !lineage.any(|r| self.preexisting.contains(&r.id))
                    && r.parent_id.is_none_or(|p| !self.preexisting.contains(&p))
            });
        }
        records
    }

    fn run(self) -> Result<(), Leaks> {
        if self.mode == Mode::Off {
            return Ok(());
        }
        let deadline = Instant::now() + self.grace;
        let blocked_runtime =
            Handle::try_current().is_ok_and(|h| h.runtime_flavor() != RuntimeFlavor::MultiThread);
        let leaks = |tasks: Vec<report::LeakedTask>, counted: usize| Leaks {
            test: self.scope.name.clone(),
            grace: self.grace,
            tasks,
            counted,
            blocked_runtime,
            dumped: false,
            suite_end: false,
            blocking: 0,
            threads: Vec::new(),
        };

        if !crate::TRACKING {
            if self.counted.is_empty() {
                warn_blind();
            }
            return match self.wait_counted(deadline) {
                0 => Ok(()),
                n => Err(leaks(Vec::new(), n)),
            };
        }

        let mut alive = self.scope.alive();
        loop {
            if alive == 0 {
                break;
            }
            let filtered = !self.preexisting.is_empty() || self.options.rules().next().is_some();
            // All survivors ignored: no need to wait out the grace for them.
            if filtered && report::leaked_tasks(&self.survivors(), &self.options).is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            alive = self.scope.wait_for_change(alive, deadline);
        }
        let (blocking, threads) = self.wait_others(deadline);
        if blocking == 0 && threads.is_empty() && self.scope.alive() == 0 {
            // The common case: no scan of the registry at all.
            return Ok(());
        }
        let tasks = report::leaked_tasks(&self.survivors(), &self.options);
        // Blocking tasks recorded by taskleak::spawn_blocking are listed
        // with their spawn sites; only the rest are a bare count.
        let listed = tasks.iter().filter(|t| t.is_blocking()).count();
        let blocking = blocking.saturating_sub(listed);
        if tasks.is_empty() && blocking == 0 && threads.is_empty() {
            Ok(()) // the last ones ended while we looked
        } else {
            let mut l = leaks(tasks, 0);
            l.blocking = blocking;
            l.threads = threads;
            Err(l)
        }
    }

    /// Blocking-pool tasks beyond those running at the start, and new OS
    /// threads: neither has an end event, so poll until they are gone or
    /// the deadline passes.
    fn wait_others(&self, deadline: Instant) -> (usize, Vec<crate::threads::LeakedThread>) {
        loop {
            let blocking: usize = self
                .blocking
                .iter()
                .map(|(h, before)| {
                    crate::hooks::busy_blocking(h)
                        .unwrap_or(0)
                        .saturating_sub(*before)
                })
                .sum();
            let threads = self
                .threads_before
                .as_ref()
                .map(|before| crate::threads::new_since(before, &self.scope))
                .unwrap_or_default();
            if (blocking == 0 && threads.is_empty()) || Instant::now() >= deadline {
                return (blocking, threads);
            }
            std::thread::sleep(Duration::from_millis(2).min(deadline - Instant::now()));
        }
    }

    /// Live tasks on the counted runtimes beyond those alive at the start.
    fn counted_extra(&self) -> usize {
        self.counted
            .iter()
            .map(|(h, before)| h.metrics().num_alive_tasks().saturating_sub(*before))
            .sum()
    }

    /// Without hooks there is no terminate event to wake on: poll the
    /// counts, briefly, until they fall back or the deadline passes.
    fn wait_counted(&self, deadline: Instant) -> usize {
        loop {
            let extra = self.counted_extra();
            if extra == 0 || Instant::now() >= deadline {
                return extra;
            }
            std::thread::sleep(Duration::from_millis(1).min(deadline - Instant::now()));
        }
    }
}
