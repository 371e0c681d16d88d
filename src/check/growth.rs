//! The growth guard: live tasks per spawn site, every tracked runtime of
//! the process, sampled after each round of a workload
//! (`capture::census`), judged by their trend (`judge::growth`), reported
//! as a leak report is (`outputs::growth`).

use std::future::Future;
use std::panic::Location;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::capture::census::{self, Counts, Samples, Site};
use crate::capture::{hooks, registry, survivors};
use crate::config::{Mode, Options, Rules, Settings};
use crate::judge::growth::{MIN_ROUNDS, Trend, grows};
use crate::judge::{self, At, Inputs, Snapshot, symbols::Resolving};
use crate::outputs;
use crate::report::{Growing, GrowingSite, Growth as Section, Leaks};

/// Tasks of each growing site shown in the report, the newest.
const NEWEST: usize = 3;
/// The settle wait's first pause between samples; it doubles up to
/// [`MAX_PAUSE`] (a sample walks every live task).
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// Starts a growth check with the default [`Options`] (its grace period:
/// `TASKLEAK_GRACE`, `configure!`, `.config/taskleak.toml`, else 500 ms):
/// live tasks per spawn site on every tracked runtime of the process,
/// whatever test or thread spawned them, so a shared server fixture's
/// tasks count. Call [`Growth::round`] after each round of the workload,
/// then [`Growth::check`] or [`Growth::check_async`].
///
/// A site fails when its live count grows with the rounds (a task per
/// request that never ends); a site that rises to a bound and stays there
/// (a pool, fixed workers) passes, and so do tasks that end a little late.
/// See docs/growth.md for the criterion, and for keeping growth tests
/// apart from other tests running in the same process.
///
/// ```
/// use taskleak::BuilderExt;
///
/// let rt = tokio::runtime::Builder::new_multi_thread()
///     .enable_all()
///     .track_tasks()
///     .build()
///     .unwrap();
/// let growth = taskleak::growth();
/// for _ in 0..20 {
///     rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
///     growth.round();
/// }
/// assert!(growth.check().is_ok()); // nothing left per round
/// ```
#[track_caller]
pub fn growth() -> Growth {
    Options::new().growth()
}

impl Options {
    /// [`growth`] with these options (the grace period bounds the settle
    /// wait; ignore rules are not applied: a growing site is reported
    /// whatever spawned it).
    ///
    /// ```
    /// let growth = taskleak::Options::new()
    ///     .grace(std::time::Duration::from_millis(100))
    ///     .growth();
    /// for _ in 0..4 {
    ///     growth.round();
    /// }
    /// growth.check().unwrap();
    /// ```
    #[track_caller]
    pub fn growth(self) -> Growth {
        crate::config::validate();
        crate::suite::checked();
        crate::exit::arm();
        Growth {
            job: Some(Job {
                settings: self.settings(),
                state: Mutex::new((0, Samples::start())),
            }),
            opened: Location::caller(),
            test: std::thread::current()
                .name()
                .filter(|n| *n != "main")
                .map(str::to_owned),
        }
    }
}

/// A growth check in progress (see [`growth`]). Dropping it unchecked
/// checks it, and panics with the report when a site grew (unless the
/// thread is already panicking).
///
/// ```
/// let growth = taskleak::growth();
/// for _ in 0..4 {
///     growth.round();
/// }
/// assert!(format!("{growth:?}").starts_with("Growth { rounds: 4"));
/// growth.check().unwrap();
/// ```
#[must_use = "a growth guard checks when it is checked or dropped; bind it: `let growth = ...`"]
pub struct Growth {
    job: Option<Job>,
    opened: &'static Location<'static>,
    test: Option<String>,
}

struct Job {
    settings: Settings,
    /// Rounds so far, and the samples.
    state: Mutex<(u64, Samples)>,
}

impl std::fmt::Debug for Growth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Growth");
        if let Some(job) = &self.job {
            d.field("rounds", &job.state.lock().0)
                .field("grace", &job.settings.grace);
        }
        d.finish_non_exhaustive()
    }
}

impl Growth {
    /// Marks the end of a round of the workload: takes a sample (at most
    /// 128 are kept however many rounds run; see docs/growth.md).
    ///
    /// ```
    /// let growth = taskleak::growth();
    /// for _ in 0..10 {
    ///     // one request, one connection, one job …
    ///     growth.round();
    /// }
    /// # drop(growth.check());
    /// ```
    pub fn round(&self) {
        if let Some(job) = &self.job {
            let mut state = job.state.lock();
            state.0 += 1;
            let round = state.0;
            state.1.round(round);
        }
    }

    /// Waits (blocking this thread, up to the grace period) for what the
    /// last rounds left to end, then fails if a site grew with the rounds.
    ///
    /// # Panics
    ///
    /// With fewer than 4 rounds: no trend can be told from a plateau.
    ///
    /// ```
    /// let growth = taskleak::growth();
    /// for _ in 0..4 { growth.round(); }
    /// assert!(growth.check().is_ok());
    /// ```
    #[track_caller]
    pub fn check(mut self) -> Result<(), Growing> {
        let job = self.take();
        let leaks = job.run(self.test.take());
        conclude(leaks.map(dump_here), job.settings.mode)
    }

    /// Like [`Growth::check`], but waits on a helper thread while the
    /// runtime keeps running, so tasks that end late can end, even on a
    /// current-thread runtime.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let growth = taskleak::growth();
    /// rt.block_on(async {
    ///     for _ in 0..8 {
    ///         growth.round();
    ///     }
    ///     growth.check_async().await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn check_async(mut self) -> impl Future<Output = Result<(), Growing>> + Send + 'static {
        let job = self.take();
        let test = self.test.take();
        async move {
            let mode = job.settings.mode;
            let (tx, rx) = tokio::sync::oneshot::channel();
            crate::util::own_thread::spawn("taskleak-growth", move || {
                let _ = tx.send(job.run(test));
            })
            .expect("taskleak: cannot start the growth check's thread");
            let leaks = rx
                .await
                .expect("taskleak: the growth check's thread panicked");
            conclude(leaks.map(dump_here), mode)
        }
    }

    #[track_caller]
    fn take(&mut self) -> Job {
        let job = self.job.take().expect("a growth guard is checked once");
        let (rounds, sees) = {
            let state = job.state.lock();
            (state.0, state.1.sees())
        };
        // Without spawn sites, a check that saw no runtime would pass blind.
        assert!(
            sees || job.settings.mode == Mode::Off,
            "taskleak: this build has no spawn sites (it needs --cfg tokio_unstable and tokio \
             1.46.1 or newer), so a growth check counts the tasks of the runtimes it runs in, and \
             it ran in none: call taskleak::growth() or growth.round() inside the runtime (in its \
             block_on, or in a task)"
        );
        assert!(
            rounds >= MIN_ROUNDS || job.settings.mode == Mode::Off,
            "taskleak: a growth check needs at least {MIN_ROUNDS} rounds to tell growth from a \
             plateau, and saw {rounds}: call growth.round() after each round of the workload"
        );
        job
    }
}

impl Drop for Growth {
    fn drop(&mut self) {
        if self.job.is_none() {
            return;
        }
        if std::thread::panicking() {
            return; // the test is failing already; no second panic
        }
        let at = self.opened;
        let job = self.take();
        let leaks = job.run(self.test.take()).map(dump_here);
        if let Err(growing) = conclude(leaks, job.settings.mode) {
            outputs::fail(&growing.leaks, at);
        }
    }
}

impl Job {
    /// The settle wait, then the report of the sites that grew (`None`:
    /// none did).
    fn run(&self, test: Option<String>) -> Option<Leaks> {
        if self.settings.mode == Mode::Off {
            return None;
        }
        let (rounds, samples) = &mut *self.state.lock();
        let deadline = Instant::now() + self.settings.grace;
        let mut pause = FIRST_PAUSE;
        let growing = loop {
            let last = samples.count();
            let growing = growing(samples, *rounds, &last);
            if growing.is_empty() || Instant::now() >= deadline {
                break growing;
            }
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(MAX_PAUSE);
        };
        if growing.is_empty() {
            return None;
        }
        let mut leaks = report(growing, *rounds, test, self.settings.grace);
        if let Some(g) = leaks.growth_mut() {
            g.runtime = samples.figures();
        }
        Some(leaks)
    }
}

/// The sites whose series grow, fastest first.
fn growing(samples: &Samples, rounds: u64, last: &Counts) -> Vec<(Site, Trend)> {
    let mut out: Vec<(Site, Trend)> = samples
        .series(rounds, last)
        .into_iter()
        .filter_map(|(site, points)| Some((site, grows(&points)?)))
        .collect();
    out.sort_by(|a, b| b.1.per_round.total_cmp(&a.1.per_round));
    out
}

/// The report: each site's numbers, and its newest tasks judged as a
/// check's survivors are (spawn chain, frames), with task dumps where
/// they can be taken from here.
pub(super) fn report(
    growing: Vec<(Site, Trend)>,
    rounds: u64,
    test: Option<String>,
    grace: Duration,
) -> Leaks {
    let whole = census::whole_runtime();
    let mut records = Vec::new();
    for (site, _) in &growing {
        if !std::ptr::eq(*site, whole) {
            records.extend(registry::newest_at(site, NEWEST));
        }
    }
    let snapshot = Snapshot {
        test: test.clone(),
        waited: grace,
        survivors: survivors::now(records),
        counted: 0,
        blocking: 0,
        threads: Vec::new(),
        blocked_runtime: false,
        at: At::Check,
    };
    let rules = Rules::default();
    let inputs = Inputs {
        rules: &rules,
        mode: Mode::Fail,
        backtraces: crate::config::Options::new().settings().backtraces,
        baseline: None,
        symbols: &Resolving,
    };
    let mut leaks = judge::judge(snapshot, &inputs)
        .leaks
        .unwrap_or_else(|| Leaks::new(test, grace));
    if !leaks.tasks.is_empty() {
        let ids: Vec<_> = leaks.tasks.iter().map(|t| t.id()).collect();
        if let Some(stuck) = hooks::stuck_elsewhere(&ids, &[]) {
            leaks.attach_dumps(stuck);
        }
    }
    let sites = growing
        .into_iter()
        .map(|(site, t)| GrowingSite {
            site,
            per_round: t.per_round,
            first: t.first,
            last: t.last,
            rounds: t.rounds,
            whole_runtime: std::ptr::eq(site, whole),
        })
        .collect();
    leaks.extra_mut().growth = Some(Section {
        sites,
        rounds,
        runtime: Vec::new(),
        watch: None,
    });
    leaks
}

/// Adds a task dump of the current-thread runtime this thread is in.
fn dump_here(mut leaks: Leaks) -> Leaks {
    if !leaks.tasks.is_empty()
        && let Some(traces) = hooks::stuck_here()
    {
        leaks.attach_dump_here(&traces);
    }
    leaks
}

fn conclude(leaks: Option<Leaks>, mode: Mode) -> Result<(), Growing> {
    match leaks {
        None => Ok(()),
        Some(leaks) => outputs::growth(leaks, mode).map_err(|leaks| Growing { leaks }),
    }
}

/// Runs `round` `rounds` times under a growth check, and checks it
/// ([`Growth::check_async`]): the common case in one call.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// rt.block_on(async {
///     taskleak::check_growth(20, |_round| async {
///         tokio::spawn(async {}).await.unwrap();
///     })
///     .await
///     .unwrap();
/// });
/// ```
pub async fn check_growth<F, Fut>(rounds: u64, mut round: F) -> Result<(), Growing>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let growth = growth();
    for i in 0..rounds {
        round(i).await;
        growth.round();
    }
    growth.check_async().await
}
