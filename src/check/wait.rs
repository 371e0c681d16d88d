//! The wait: until the scope's tasks have ended, the rules hide all that
//! is left, or the grace period is over; then one snapshot, judged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::Id;

use super::Check;
use super::lag::{BLOCKED, Lag, Probe, Window};
use super::lookup::{LOOKUP_POLL, SETTLE, Stop, look_up_in_background};
use crate::capture::hooks::runtime_key;
use crate::capture::threads::LeakedThread;
use crate::capture::{registry, survivors};
use crate::config::ignore::Use;
use crate::config::{Backtraces, Mode, Settings};
use crate::judge::rules::{self, all_ignored};
use crate::judge::symbols::{Cached, Resolving};
use crate::judge::{self, At, Inputs, Judgement, Snapshot};
use crate::outputs::notices;

/// How long a check waits, after its grace period, for a survivor's poll
/// in progress to end (see `Check::wait_for_polls_in_progress`). Not a
/// grace period: a task whose last poll outlasts the grace and completes is
/// not a leak, however long that poll took. A safety bound, far beyond any
/// poll but one that blocks (a deadlock, a blocking receive), so that such
/// a task is still reported, as inside one poll, and the test ends.
const POLL_END: Duration = Duration::from_secs(5);

impl Check {
    pub(super) fn is_clean(&self) -> bool {
        self.scope.alive() == 0
            && self.counted_extra() == 0
            && self.threads_before.is_none()
            && self
                .blocking
                .iter()
                .all(|(h, before)| crate::capture::hooks::busy_blocking(h).unwrap_or(0) <= *before)
    }

    /// The runtimes whose tasks this check waits for and that run while it
    /// waits: multi-thread ones, and the one whose thread awaits
    /// `check_async` (a current-thread runtime outside it does not run).
    /// Never the one whose thread this wait blocks (`check()` inside a
    /// runtime): a probe queued behind it would read as starved.
    fn probed(&self) -> Vec<Handle> {
        let here = Handle::try_current().ok().map(|h| runtime_key(&h));
        let mut runtimes: Vec<Handle> = Vec::new();
        let all = self.blocking.iter().map(|(h, _)| h).chain(&self.driving);
        for h in all {
            let key = runtime_key(h);
            let runs = h.runtime_flavor() == RuntimeFlavor::MultiThread
                || self.driving.as_ref().is_some_and(|d| runtime_key(d) == key);
            if runs
                && here.as_ref() != Some(&key)
                && !runtimes.iter().any(|r| runtime_key(r) == key)
            {
                runtimes.push(h.clone());
            }
        }
        runtimes
    }

    /// Whether a survivor holds its thread inside one poll (see `BLOCKED`).
    fn blocked(&self) -> bool {
        self.survivors().iter().any(|r| {
            crate::capture::hooks::activity(r.id)
                .and_then(|a| a.in_poll_for)
                .is_some_and(|d| d > BLOCKED)
        })
    }

    /// The scope's live tasks, less those `ignore_current` excludes.
    pub(super) fn survivors(&self) -> Vec<Arc<registry::TaskRecord>> {
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

    /// Waits for the scope's tasks, then judges what is left.
    pub(super) fn run(self) -> Judgement {
        let Settings {
            grace,
            mode,
            backtraces,
            ref rules,
        } = self.settings;
        if mode == Mode::Off {
            return Judgement::clean(mode, Vec::new());
        }
        // A grace too long to add to now means "as long as it takes";
        // restarted while the tasks make progress or the machine is
        // starved (see `lag`), within a bound.
        let mut window = Window::new(grace);
        let mut lag = Lag::default();
        let began = Instant::now();
        let with_ancestors = backtraces != Backtraces::Off;
        let snapshot = |survivors: Vec<survivors::Survivor>, counted, blocking, threads| Snapshot {
            test: self.scope.name.clone(),
            waited: grace,
            blocked_runtime: self.blocked_runtime(&survivors, began),
            survivors,
            counted,
            blocking,
            threads,
            at: At::Check,
        };
        let judge = |snapshot| {
            let binary = crate::suite::binary();
            // Recording rewrites the baseline: it is not read.
            let baseline = (mode != Mode::Record)
                .then(crate::suite::baseline::current)
                .and_then(Result::ok);
            let inputs = Inputs {
                rules,
                mode,
                backtraces,
                baseline: baseline.map(|b| (b, &binary)),
                symbols: &Resolving,
            };
            judge::judge(snapshot, &inputs)
        };

        if !crate::capture::TRACKING {
            if self.counted.is_empty() {
                notices::blind();
            }
            return match self.wait_counted(window.deadline()) {
                0 => Judgement::clean(mode, Vec::new()),
                n => judge(snapshot(Vec::new(), n, 0, Vec::new())),
            };
        }

        let filtered = !self.preexisting.is_empty() || !rules.is_empty();
        // Until then, rules are judged without looking up symbols (see
        // `SETTLE`); then the lookups start on a thread of their own, and
        // the wait looks at the cache now and then.
        let settle = match crate::capture::frames::lookups() > 0 {
            true => Some(Instant::now()),
            false => Instant::now().checked_add(grace.min(SETTLE)),
        };
        let mut lookup: Option<Option<std::thread::JoinHandle<()>>> = None;
        // What the rules learnt when they hid every survivor.
        let mut hidden: Vec<Use> = Vec::new();
        let mut alive = self.scope.alive();
        // Fewer survivors than ever before in this wait: progress.
        let mut fewest = alive;
        // The background lookups stop when the wait does: no check waits
        // behind the lookups of one that is over.
        let stop = Stop::default();
        let mut probe: Option<Probe> = None;
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
                if let Some(uses) = all_ignored(&survivors, rules, with_ancestors, &Cached) {
                    hidden = uses;
                    break;
                }
                if lookup.is_none() && settle.is_none_or(|s| now >= s) {
                    let scope = self.scope.clone();
                    let undecided = rules::undecided(&survivors, rules, with_ancestors);
                    let started = look_up_in_background(
                        undecided,
                        rules.clone(),
                        stop.0.clone(),
                        move || scope.poke(),
                    );
                    if started.is_none()
                        && let Some(uses) = all_ignored(&survivors, rules, with_ancestors, &Cached)
                    {
                        // Nothing to look up, or looked up here: judge now.
                        hidden = uses;
                        break;
                    }
                    just_started = started.is_some();
                    lookup = Some(started);
                }
            }
            if window.deadline().is_some_and(|d| now >= d) {
                break;
            }
            // Polled until a look that began after the lookups ended.
            let next_look = if pending || just_started {
                now.checked_add(LOOKUP_POLL)
            } else {
                settle.filter(|&s| filtered && lookup.is_none() && s > now)
            };
            let wake = match (next_look, window.deadline()) {
                (Some(n), Some(d)) => Some(n.min(d)),
                (n, d) => n.or(d),
            };
            let probe = probe.get_or_insert_with(|| Probe::start(&self.probed()));
            alive = self.scope.wait_for_change(alive, Some(lag.wake_at(wake)));
            let starved = lag.starved() || (probe.starved() && !self.blocked());
            if starved || alive < fewest {
                fewest = fewest.min(alive);
                window.restart();
            }
        }
        drop((stop, probe));
        if alive > 0 {
            self.wait_for_polls_in_progress();
        }
        let (blocking, threads) = self.wait_others(window.deadline());
        if blocking == 0 && threads.is_empty() && self.scope.alive() == 0 {
            // The common case: no scan of the registry at all.
            return Judgement::clean(mode, hidden);
        }
        let survivors = survivors::now(self.survivors());
        judge(snapshot(survivors, 0, blocking, threads))
    }

    /// Whether this check, waiting by blocking its thread (`check()`, a
    /// dropped guard), held up the runtime its survivors need: the thread
    /// is inside a current-thread runtime (its only thread), or a
    /// survivor lives on a current-thread runtime and was not polled while
    /// the check waited (began at `began`): such a runtime runs only inside
    /// its `block_on`, which this thread, blocked here, was not in.
    fn blocked_runtime(&self, survivors: &[survivors::Survivor], began: Instant) -> bool {
        if self.aside {
            return false;
        }
        let here = Handle::try_current();
        if here.is_ok_and(|h| h.runtime_flavor() != RuntimeFlavor::MultiThread) {
            return true;
        }
        // Polled within the wait, give or take the coarse clock's tick.
        let waited = began.elapsed().saturating_sub(Duration::from_millis(10));
        survivors.iter().any(|s| {
            crate::capture::hooks::on_current_thread_runtime(s.record.id)
                && s.activity
                    .as_ref()
                    .is_some_and(|a| a.last_poll_ago.is_none_or(|ago| ago >= waited))
        })
    }

    /// Blocking-pool tasks beyond those running at the start, and new OS
    /// threads: neither has an end event, so poll until they are gone or
    /// the deadline passes.
    fn wait_others(&self, deadline: Option<Instant>) -> (usize, Vec<LeakedThread>) {
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
    /// task is still in the registry; or its last poll is simply long
    /// (blocking code, a loaded machine). Its poll ending settles it:
    /// either its terminate hook ran (it completed or was aborted, never a
    /// leak, whatever the grace) or it returned `Pending` (a survivor).
    /// The wait for those polls has no bound but [`POLL_END`], a safety
    /// bound: a task still inside one poll then is reported, "inside one
    /// poll for …", never passed.
    fn wait_for_polls_in_progress(&self) {
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
        let mut step = Duration::from_millis(1);
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
            // shows at the next look (1 ms, backing off to 20 ms).
            alive = self
                .scope
                .wait_for_change(alive, Some((Instant::now() + step).min(until)));
            step = (step * 2).min(Duration::from_millis(20));
        }
    }
}
