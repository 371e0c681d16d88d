//! The end of a check: the blocking and the async ways to wait for the
//! judgement, and task dumps of the survivors' runtimes added to it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::task::Id;

use super::watchdog::{Collector, Handoff, Watched};
use super::{Check, conclude};
use crate::capture::{hooks, registry, survivors};
use crate::config::{Mode, Settings};
use crate::judge::{self, At, Inputs, Judgement, Snapshot, symbols::Resolving};
use crate::report::Leaks;
use crate::util::{human, timer};

/// How long `check_async` waits for its helper thread beyond the grace
/// period: enough for dumps ([`crate::capture::hooks`]) and for resolving
/// symbols the first time in a large debug binary.
const HELPER_SLACK: Duration = Duration::from_secs(60);

/// What a check of `#[leak_check]` was waiting for: the survivors when the
/// wait began, for the harness to report if the runtime shuts down under
/// the check (`unhandled_panic = "shutdown_runtime"`), which cancels them.
pub(crate) struct Waiting {
    since: Instant,
    records: Vec<Arc<registry::TaskRecord>>,
    settings: Settings,
    test: Option<String>,
}

impl Waiting {
    /// The survivors as a report (none with `TASKLEAK=off`, or when all
    /// are ignored), "still running" for as long as the check had waited,
    /// with the mode it ran in. `panicked`: a task (as `id_u64`) that did
    /// not leak but ended by panicking.
    pub(crate) fn into_leaks(mut self, panicked: u64) -> Option<(Leaks, Mode)> {
        let waited = self.since.elapsed();
        if self.settings.mode == Mode::Off {
            return None;
        }
        self.records.retain(|r| registry::id_u64(r.id) != panicked);
        let snapshot = Snapshot {
            test: self.test,
            waited,
            survivors: survivors::now(self.records),
            counted: 0,
            blocking: 0,
            threads: Vec::new(),
            blocked_runtime: false,
            at: At::Shutdown,
        };
        let rules = &self.settings.rules;
        let inputs = Inputs {
            rules,
            mode: self.settings.mode,
            backtraces: self.settings.backtraces,
            baseline: None,
            symbols: &Resolving,
        };
        let judgement = judge::judge(snapshot, &inputs);
        crate::suite::rules::record(rules.iter().zip(judgement.uses.iter().copied()));
        judgement.leaks.map(|l| (l, self.settings.mode))
    }
}

/// Adds a task dump of the current-thread runtime this thread is inside
/// (tokio dumps one only from there).
fn dump_here(judgement: &mut Judgement) {
    if let Some(leaks) = judgement.leaks.as_mut().filter(|l| !l.tasks.is_empty())
        && let Some(traces) = hooks::stuck_here()
    {
        leaks.attach_dump_here(&traces);
    }
}

impl Check {
    /// The judgement, with where each survivor is stuck, all from this
    /// thread.
    pub(super) fn finish_here(self) -> Judgement {
        let mut judgement = self.run_and_dump();
        dump_here(&mut judgement);
        judgement
    }

    /// The judgement, with task dumps of the multi-thread runtime
    /// `#[leak_check]` built (a current-thread runtime is dumped by
    /// [`dump_here`], inside it; see `hooks::stuck_elsewhere` for why no
    /// other multi-thread runtime is).
    pub(super) fn run_and_dump(self) -> Judgement {
        let owned = self.options.runtimes.clone();
        let prefetch = (self.settings.mode != Mode::Off).then(|| {
            super::lookup::prefetch_report(
                self.scope.clone(),
                self.settings.grace,
                self.settings.backtraces,
            )
        });
        let mut judgement = self.run();
        drop(prefetch);
        if let Some(leaks) = judgement.leaks.as_mut().filter(|l| !l.tasks.is_empty()) {
            let ids: Vec<Id> = leaks.tasks.iter().map(|t| t.id()).collect();
            if let Some(stuck) = hooks::stuck_elsewhere(&ids, &owned) {
                leaks.attach_dumps(stuck);
            }
        }
        judgement
    }

    /// Waits by yielding, on a helper thread woken by the terminate hook;
    /// returns the concluded verdict and whether anything leaked.
    pub(super) fn check_async(
        self,
        waiting: Option<Arc<Mutex<Option<Waiting>>>>,
    ) -> impl Future<Output = (Result<(), Leaks>, bool)> + Send + 'static {
        let mut job = self;
        async move {
            job.driving = tokio::runtime::Handle::try_current().ok();
            job.aside = true;
            let rules = job.settings.rules.clone();
            if job.settings.mode == Mode::Off || job.is_clean() {
                return (Ok(()), false);
            }
            // A few turns of the runtime first, watched: a task they let
            // run may block this thread for good (see `watchdog`).
            let watched = Watched::new(job);
            let settled = watched.settles_soon().await;
            let Some(job) = watched.take() else {
                // The watchdog took over: it reports, and ends the process.
                return std::future::pending().await;
            };
            if settled {
                return (Ok(()), false);
            }
            if let Some(waiting) = &waiting {
                *waiting.lock() = Some(Waiting {
                    since: Instant::now(),
                    records: job.survivors(),
                    settings: job.settings.clone(),
                    test: job.scope.name.clone(),
                });
            }
            let grace = job.settings.grace;
            // Wait on a helper thread, woken by the terminate hook itself;
            // this task just awaits its answer and the runtime keeps going.
            // The answer is handed over, watched: a thread that never
            // collects it is blocked (see `watchdog`).
            let handoff = Arc::new(Handoff::default());
            let collector = Collector(handoff.clone());
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            crate::util::own_thread::spawn("taskleak-check", {
                let rules = rules.clone();
                move || {
                    let judgement = job.run_and_dump();
                    handoff.deliver(
                        judgement,
                        move || {
                            let _ = tx.send(());
                        },
                        &rules,
                    );
                }
            })
            .expect("taskleak: cannot start the check thread");
            let limit = grace
                .saturating_add(super::lag::MAX_EXTENSION)
                .saturating_add(HELPER_SLACK);
            let ready = timer::within(limit, rx).await;
            let mut judgement = match ready.map(|r| r.ok().and_then(|()| collector.0.collect())) {
                Some(Some(judgement)) => judgement,
                Some(None) => panic!("taskleak: the check thread panicked"),
                None => panic!(
                    "taskleak: gave up after {} waiting for the check thread, which waits up to \
                     {} for the test's tasks to end (up to {} more while they make progress or \
                     the machine is starved), then resolves their spawn sites and dumps their \
                     runtimes",
                    human(limit),
                    human(grace),
                    human(super::lag::MAX_EXTENSION)
                ),
            };
            dump_here(&mut judgement);
            if let Some(waiting) = &waiting {
                waiting.lock().take();
            }
            let leaked = judgement.leaked();
            (conclude(judgement, &rules), leaked)
        }
    }
}
