//! The guard, and the check it runs when the test body is done.

use std::collections::HashSet;
use std::future::Future;
use std::io::Write as _;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::Id;

use crate::config::env::Mode;
use crate::config::{Options, defaults};
use crate::capture::hooks::runtime_key;
use crate::capture::registry;
use crate::report::{self, Leaks};
use crate::capture::scope::Scope;

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
                .field("grace", &job.grace)
                .field("mode", &job.mode)
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
    pub(crate) fn open(mut options: Options) -> Guard {
        crate::gate::register_rules(&mut options.ignore);
        crate::gate::arm_if_configured();
        let current = Handle::try_current().ok();
        if let Some(h) = current.as_ref().filter(|_| crate::TRACKING) {
            // Before the scope opens: the probe task is not the test's.
            if crate::capture::hooks::first_probe(h) == Some(false) {
                warn_untracked(h);
            }
        }
        let threads_before = options.threads.then(crate::capture::threads::snapshot).flatten();
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
        if options.ignore.iter().any(|r| r.is_path()) {
            scope.require_frames();
        }
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
        conclude(mode, job.finish_here())
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
        if let Err(leaks) = conclude(mode, job.finish_here()) {
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
        // Straight to stderr: libtest drops what a passing test printed,
        // and this check passes.
        let _ = writeln!(
            std::io::stderr().lock(),
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

/// Adds a task dump of the current-thread runtime this thread is inside
/// (tokio dumps one only from there).
fn dump_here(leaks: &mut Leaks) {
    if !leaks.tasks.is_empty()
        && let Some(traces) = crate::capture::hooks::stuck_here()
    {
        leaks.attach_dump_here(&traces);
    }
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

/// How long a check waits for its tasks before it looks up symbols to
/// see whether the rules in force ignore the ones left (a path rule needs
/// function names): tasks that end on their own within it, the usual case
/// in a passing test, cost no debug info (~0.5 s and tens of MB the first
/// time in a large debug binary). Symbols already looked up are used at
/// once; and once the process has loaded debug info, the lookups start at
/// once too (a few new addresses cost about a millisecond, off the check's
/// thread), so that a task a path rule ignores, spawned through other
/// generic instances in each test (a pool's reaper), does not hold every
/// test for this long.
const SETTLE: Duration = Duration::from_millis(100);

/// While symbols are looked up for the rules, how often the wait looks
/// whether they are in.
const LOOKUP_POLL: Duration = Duration::from_millis(5);

/// How long `check_async` waits for its helper thread beyond the grace
/// period: enough for dumps ([`crate::capture::hooks`]) and for resolving symbols
/// the first time in a large debug binary.
const HELPER_SLACK: Duration = Duration::from_secs(60);

/// What a check of `#[leak_check]` was waiting for: the survivors when the
/// wait began, for the harness to report if the runtime shuts down under
/// the check (`unhandled_panic = "shutdown_runtime"`), which cancels them.
pub(crate) struct Waiting {
    since: Instant,
    records: Vec<Arc<registry::TaskRecord>>,
    options: Options,
    test: Option<String>,
    mode: Mode,
}

impl Waiting {
    /// The survivors as a report (none with `TASKLEAK=off`, or when all
    /// are ignored), "still running" for as long as the check had waited.
    /// `panicked`: a task (as `id_u64`) that did not leak but ended by
    /// panicking.
    pub(crate) fn into_leaks(mut self, panicked: u64) -> Option<Leaks> {
        let waited = self.since.elapsed();
        if self.mode == Mode::Off {
            return None;
        }
        self.records.retain(|r| registry::id_u64(r.id) != panicked);
        let mut tasks = report::leaked_tasks(&self.records, &self.options);
        for task in &mut tasks {
            task.cancelled(); // by the shutdown: no activity left to read
        }
        (!tasks.is_empty()).then(|| Leaks {
            test: self.test,
            grace: waited,
            tasks,
            counted: 0,
            blocked_runtime: false,
            dumped: cfg!(taskleak_taskdump),
            suite_end: false,
            blocking: 0,
            threads: Vec::new(),
        })
    }
}

impl Check {
    /// The verdict, with where each survivor is stuck, all from this thread.
    fn finish_here(self) -> Result<(), Leaks> {
        let mut verdict = self.run_and_dump();
        if let Err(leaks) = &mut verdict {
            dump_here(leaks);
        }
        verdict
    }

    /// The verdict, with task dumps of the multi-thread runtime
    /// `#[leak_check]` built (a current-thread runtime is dumped by
    /// [`dump_here`], inside it; see `hooks::stuck_elsewhere` for why no
    /// other multi-thread runtime is).
    fn run_and_dump(self) -> Result<(), Leaks> {
        let owned = self.options.runtimes.clone();
        let mut verdict = self.run();
        if let Err(leaks) = &mut verdict
            && !leaks.tasks.is_empty()
        {
            let ids: Vec<Id> = leaks.tasks.iter().map(|t| t.id()).collect();
            if let Some(stuck) = crate::capture::hooks::stuck_elsewhere(&ids, &owned) {
                leaks.attach_dumps(stuck);
            }
        }
        verdict
    }

    /// Waits by yielding, on a helper thread woken by the terminate hook;
    /// returns the concluded verdict and whether anything leaked.
    fn check_async(
        self,
        waiting: Option<Arc<Mutex<Option<Waiting>>>>,
    ) -> impl Future<Output = (Result<(), Leaks>, bool)> + Send + 'static {
        let job = self;
        async move {
            let mode = job.mode;
            if mode == Mode::Off || job.is_clean() || job.settles_soon().await {
                return (Ok(()), false);
            }
            if let Some(waiting) = &waiting {
                *waiting.lock() = Some(Waiting {
                    since: Instant::now(),
                    records: job.survivors(),
                    options: job.options.clone(),
                    test: job.scope.name.clone(),
                    mode,
                });
            }
            let grace = job.grace;
            // Wait on a helper thread, woken by the terminate hook itself;
            // this task just awaits its answer and the runtime keeps going.
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("taskleak-check".into())
                .spawn(move || {
                    let _ = tx.send(job.run_and_dump());
                })
                .expect("taskleak: cannot start the check thread");
            let limit = grace.saturating_add(HELPER_SLACK);
            let mut verdict = match crate::util::timer::within(limit, rx).await {
                Some(Ok(verdict)) => verdict,
                Some(Err(_)) => panic!("taskleak: the check thread panicked"),
                None => panic!(
                    "taskleak: gave up after {} waiting for the check thread, which waits up to \
                     {} for the test's tasks to end, then resolves their spawn sites and dumps \
                     their runtimes",
                    crate::util::human(limit),
                    crate::util::human(grace)
                ),
            };
            if let Err(leaks) = &mut verdict {
                dump_here(leaks);
            }
            if let Some(waiting) = &waiting {
                waiting.lock().take();
            }
            let leaked = verdict.is_err();
            (conclude(mode, verdict), leaked)
        }
    }

    fn is_clean(&self) -> bool {
        self.scope.alive() == 0
            && self.counted_extra() == 0
            && self.threads_before.is_none()
            && self
                .blocking
                .iter()
                .all(|(h, before)| crate::capture::hooks::busy_blocking(h).unwrap_or(0) <= *before)
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
        // A grace too long to add to now means "as long as it takes".
        let deadline = Instant::now().checked_add(self.grace);
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

        let filtered = !self.preexisting.is_empty() || self.options.rules().next().is_some();
        // Until then, rules are judged without looking up symbols (see
        // `SETTLE`); then the lookups start on a thread of their own, and
        // the wait looks at the cache now and then.
        let settle = match report::symbols_loaded() {
            true => Some(Instant::now()),
            false => Instant::now().checked_add(self.grace.min(SETTLE)),
        };
        let mut lookup: Option<Option<std::thread::JoinHandle<()>>> = None;
        let mut alive = self.scope.alive();
        loop {
            if alive == 0 {
                break;
            }
            // Read before judging: lookups that ended before are all in.
            let pending = matches!(&lookup, Some(Some(t)) if !t.is_finished());
            let mut just_started = false;
            // All survivors ignored: no need to wait out the grace for them.
            let now = Instant::now();
            if filtered {
                let survivors = self.survivors();
                if report::all_ignored(&survivors, &self.options) {
                    break;
                }
                if lookup.is_none() && settle.is_none_or(|s| now >= s) {
                    let scope = self.scope.clone();
                    let started =
                        report::resolve_in_background(&survivors, &self.options, move || {
                            scope.poke()
                        });
                    if started.is_none() {
                        // Nothing to look up, or looked up here: judge now.
                        if report::all_ignored(&survivors, &self.options) {
                            break;
                        }
                    }
                    just_started = started.is_some();
                    lookup = Some(started);
                }
            }
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            // Polled until a look that began after the lookups ended.
            let next_look = if pending || just_started {
                now.checked_add(LOOKUP_POLL)
            } else {
                settle.filter(|&s| filtered && lookup.is_none() && s > now)
            };
            let wake = match (next_look, deadline) {
                (Some(n), Some(d)) => Some(n.min(d)),
                (n, d) => n.or(d),
            };
            alive = self.scope.wait_for_change(alive, wake);
        }
        if alive > 0 {
            self.wait_for_polls_in_progress();
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
    fn wait_others(&self, deadline: Option<Instant>) -> (usize, Vec<crate::capture::threads::LeakedThread>) {
        loop {
            let blocking: usize = self
                .blocking
                .iter()
                .map(|(h, before)| {
                    crate::capture::hooks::busy_blocking(h)
                        .unwrap_or(0)
                        .saturating_sub(*before)
                })
                .sum();
            let threads = self
                .threads_before
                .as_ref()
                .map(|before| crate::capture::threads::new_since(before, &self.scope))
                .unwrap_or_default();
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if (blocking == 0 && threads.is_empty()) || left.is_some_and(|l| l.is_zero()) {
                return (blocking, threads);
            }
            std::thread::sleep(Duration::from_millis(2).min(left.unwrap_or(Duration::MAX)));
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
    fn wait_counted(&self, deadline: Option<Instant>) -> usize {
        loop {
            let extra = self.counted_extra();
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if extra == 0 || left.is_some_and(|l| l.is_zero()) {
                return extra;
            }
            std::thread::sleep(Duration::from_millis(1).min(left.unwrap_or(Duration::MAX)));
        }
    }

    /// At the deadline, a survivor may be inside the poll that completes
    /// it: on a multi-thread runtime tokio wakes the `JoinHandle` before it
    /// runs the terminate hook, so the test can be past `.await` while the
    /// task is still in the registry. Its poll ending settles it: either
    /// its terminate hook ran (it completed, never a leak) or it returned
    /// `Pending` (a survivor). Waits for those polls, bounded, since a
    /// task can also be stuck in one poll forever.
    fn wait_for_polls_in_progress(&self) {
        /// Far longer than the step from a completed future to its
        /// terminate hook (microseconds, unless the thread is preempted);
        /// short enough that a task blocking in one poll is still reported
        /// soon after the grace period.
        const POLL_END: Duration = Duration::from_millis(100);
        let polling = |records: &[Arc<registry::TaskRecord>]| -> Vec<(Id, u64)> {
            records
                .iter()
                .filter_map(|r| {
                    let a = crate::capture::hooks::activity(r.id)?;
                    a.in_poll_for.is_some().then_some((r.id, a.polls))
                })
                .collect()
        };
        let in_poll = polling(&self.survivors());
        if in_poll.is_empty() {
            return;
        }
        let until = Instant::now() + POLL_END;
        let mut alive = self.scope.alive();
        while Instant::now() < until {
            let still = in_poll.iter().any(|(id, polls)| {
                registry::get(*id).is_some()
                    && crate::capture::hooks::activity(*id)
                        .is_some_and(|a| a.in_poll_for.is_some() && a.polls == *polls)
            });
            if !still || alive == 0 {
                return;
            }
            // Woken at once by a terminate; a poll that returned `Pending`
            // shows at the next look.
            alive = self
                .scope
                .wait_for_change(alive, Some(Instant::now() + Duration::from_millis(1)));
        }
    }
}
