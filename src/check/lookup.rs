//! Symbol lookups for the ignore rules, off the check's thread, while it
//! waits; stopped when the wait ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use crate::capture::registry;
use crate::config::Rules;
use crate::config::ignore::Use;
use crate::judge::rules;
use crate::judge::symbols::{Resolving, Symbols};

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
pub(super) const SETTLE: Duration = Duration::from_millis(100);

/// While symbols are looked up for the rules, how often the wait looks
/// whether they are in.
pub(super) const LOOKUP_POLL: Duration = Duration::from_millis(5);

/// Looks up, on a thread of its own, the symbols the rules need to judge
/// `undecided` (survivors their spawn sites do not decide): the check keeps
/// waiting for its tasks meanwhile (the first lookup in a large debug
/// binary takes ~0.5 s), and judges them from the cache when it is done.
/// Only each task's frames up to the first that a rule matches. `None`
/// when nothing needed looking up, or it was looked up here (no thread to
/// spare). `done` runs on that thread when the lookups are in.
///
/// The lookups stop (between two addresses) once `stop` is set: the check
/// that wanted them is over, and a check that needs symbols for its report
/// does not wait behind them.
pub(super) fn look_up_in_background(
    undecided: Vec<Arc<registry::TaskRecord>>,
    rules: Rules,
    stop: Arc<AtomicBool>,
    done: impl FnOnce() + Send + 'static,
) -> Option<std::thread::JoinHandle<()>> {
    if undecided.is_empty() {
        return None;
    }
    let look_up = move || {
        let mut uses = vec![Use::default(); rules.iter().count()];
        let symbols = Unless(&stop);
        for r in &undecided {
            if stop.load(Relaxed) {
                return;
            }
            rules::by_frames(r, &rules, &symbols, &mut uses);
        }
    };
    let thread = {
        let look_up = look_up.clone();
        move || {
            look_up();
            done();
        }
    };
    match crate::util::own_thread::spawn("taskleak-symbols", thread) {
        Ok(thread) => Some(thread),
        // Looked up here instead; the caller judges at once.
        Err(_) => {
            look_up();
            None
        }
    }
}

/// Symbols looked up until `.0` is set, then none.
struct Unless<'a>(&'a AtomicBool);

impl Symbols for Unless<'_> {
    fn frames(&self, ip: usize) -> Option<Arc<[crate::task::Frame]>> {
        if self.0.load(Relaxed) {
            return None;
        }
        Resolving.frames(ip)
    }

    fn done(&self) {
        Resolving.done();
    }
}

/// Set when dropped: the wait is over.
#[derive(Default)]
pub(super) struct Stop(pub(super) Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
}

/// How long before its grace ends a check starts looking up the frames a
/// report would show: about what the first lookups of a process take in a
/// large debug binary (~0.2 s of CPU on hyper's lib tests, ~0.45 s of wall
/// time on a loaded machine), so that a failing test's report is ready when
/// the grace ends instead of that much later.
pub(super) const REPORT_LEAD: Duration = Duration::from_millis(400);

/// One check's request to the prefetching thread.
struct Prefetch {
    scope: Arc<crate::capture::scope::Scope>,
    at: std::time::Instant,
    full: bool,
    stop: Arc<AtomicBool>,
}

/// Has the frames the report of `scope`'s survivors would show looked up
/// in the background, if some are still alive when the grace is
/// `REPORT_LEAD` from its end (and not before `SETTLE`: tasks that end on
/// their own by then, the usual case in a passing test, cost no debug
/// info). Only stacks a report resolves: every survivor's with full
/// backtraces, else those spawned outside the workspace (`reached from`).
/// The lookups stop (between two addresses) when the returned guard is
/// dropped: the check is over, and its judgement looked up whatever it
/// still needed. One thread of taskleak's serves every check of the
/// process: a check only sends it a request.
pub(super) fn prefetch_report(
    scope: Arc<crate::capture::scope::Scope>,
    grace: Duration,
    backtraces: crate::config::Backtraces,
) -> Stop {
    static WORKER: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Prefetch>>> =
        std::sync::OnceLock::new();
    let stop = Stop::default();
    if !crate::capture::TRACKING || scope.alive() == 0 {
        return stop;
    }
    let start = grace.saturating_sub(REPORT_LEAD).max(SETTLE.min(grace));
    let Some(at) = std::time::Instant::now().checked_add(start) else {
        return stop; // a grace without end: no report to prepare
    };
    let worker = WORKER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread =
            crate::util::own_thread::spawn("taskleak-symbols", move || prefetching(rx)).ok()?;
        drop(thread);
        Some(tx)
    });
    if let Some(worker) = worker {
        let _ = worker.send(Prefetch {
            scope,
            at,
            full: backtraces == crate::config::Backtraces::Full,
            stop: stop.0.clone(),
        });
    }
    stop
}

/// The prefetching thread: each request's stacks looked up when its time
/// comes, unless its check is over or its tasks ended first.
fn prefetching(requests: std::sync::mpsc::Receiver<Prefetch>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut pending: Vec<Prefetch> = Vec::new();
    loop {
        pending.retain(|p| !p.stop.load(Relaxed) && p.scope.alive() > 0);
        let now = std::time::Instant::now();
        if let Some(i) = pending.iter().position(|p| p.at <= now) {
            let due = pending.swap_remove(i);
            let mut stacks: Vec<Vec<usize>> = registry::survivors(&due.scope)
                .iter()
                .filter(|r| due.full || !crate::task::frame::in_workspace(r.location.file()))
                .map(|r| r.frames.to_vec())
                .filter(|f| !f.is_empty())
                .collect();
            stacks.sort();
            stacks.dedup();
            let symbols = Unless(&due.stop);
            for stack in stacks {
                crate::judge::symbols::resolve(&symbols, &stack);
            }
            continue;
        }
        let next = match pending.iter().map(|p| p.at).min() {
            Some(at) => requests.recv_timeout(at - now),
            None => requests.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(request) => pending.push(request),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
