//! A check that its own thread can no longer finish.
//!
//! `check_async` yields to the runtime: first for a few turns, then while
//! a helper thread waits and judges. When a task it yields to blocks the
//! thread (a leaked task on a current-thread runtime, in a blocking call),
//! the check is never polled again, and no bound inside the runtime can
//! fire: the test would never end, and the binary's other reports would be
//! lost with it. So a check is watched from another thread while it yields
//! ([`Turns`], by one process-wide watchdog thread) and while its answer
//! waits to be collected ([`Handoff`], by the helper thread). Not polled
//! for [`UNPOLLED`], it is finished there: the report on stderr, naming
//! the task that blocks the thread, and the binary's exit (code 101,
//! through `exit`, so the summary still runs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::{Check, conclude};
use crate::config::Rules;
use crate::judge::Judgement;
use crate::report::Leaks;

/// How long `check_async` may go unpolled when it expects a turn at once
/// (after a yield, or with its answer ready). A runtime that is only busy
/// polls it within microseconds, a loaded machine within milliseconds; one
/// whose thread is blocked never does.
const UNPOLLED: Duration = Duration::from_secs(10);

/// A check yielding its first turns to the runtime (`Turns::settles_soon`),
/// watched: when it is not polled again within [`UNPOLLED`], the
/// watchdog thread takes its job, judges it and ends the test.
pub(super) struct Turns {
    state: Mutex<TurnState>,
}

struct TurnState {
    /// The check; `None` once the future took it back, or the watchdog
    /// took it over.
    job: Option<Check>,
    /// When the future last yielded, expecting a turn soon.
    yielded: Instant,
}

/// The future's handle on its [`Turns`]: taking the job back (or being
/// dropped) ends the watch.
pub(super) struct Watched(Arc<Turns>);

/// Checks being watched, and whether the watchdog thread sleeps with no
/// deadline (then a new check wakes it; otherwise it wakes before the new
/// one is due anyway).
struct Watch {
    turns: Vec<Arc<Turns>>,
    idle: bool,
}

static WATCHED: Mutex<Watch> = Mutex::new(Watch {
    turns: Vec::new(),
    idle: false,
});
static WATCH_CHANGED: Condvar = Condvar::new();

impl Watched {
    /// Watches `job` from now on (starting the watchdog thread the first
    /// time).
    pub(super) fn new(job: Check) -> Watched {
        static STARTED: std::sync::Once = std::sync::Once::new();
        STARTED.call_once(|| {
            // Without the thread, the check runs unwatched, as before.
            let _ = crate::util::own_thread::spawn("taskleak-watch", watchdog);
        });
        let turns = Arc::new(Turns {
            state: Mutex::new(TurnState {
                job: Some(job),
                yielded: Instant::now(),
            }),
        });
        let mut watched = WATCHED.lock();
        watched.turns.push(turns.clone());
        if watched.idle {
            WATCH_CHANGED.notify_one();
        }
        Watched(turns)
    }

    /// Gives the runtime a few turns (up to ~1 ms, never past the grace
    /// period) and says whether the scope is clean after one of them.
    /// Tasks that only wait for their turn, the usual case at a test's end,
    /// are done by then, and the helper thread a longer wait needs costs
    /// tens of µs.
    pub(super) async fn settles_soon(&self) -> bool {
        let start = Instant::now();
        let budget = match &self.0.state.lock().job {
            Some(job) => job.settings.grace.min(Duration::from_millis(1)),
            None => return false,
        };
        if budget.is_zero() {
            return false;
        }
        for _ in 0..64 {
            self.0.state.lock().yielded = Instant::now();
            tokio::task::yield_now().await;
            if self.0.state.lock().job.as_ref().is_none_or(Check::is_clean) {
                return true;
            }
            if start.elapsed() >= budget {
                break;
            }
        }
        false
    }

    /// The job back, ending the watch; `None` when the watchdog took it
    /// over (the process is ending).
    pub(super) fn take(self) -> Option<Check> {
        self.0.state.lock().job.take()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.0.state.lock().job.take();
        WATCHED.lock().turns.retain(|t| !Arc::ptr_eq(t, &self.0));
    }
}

/// The watchdog thread: sleeps until the earliest watched check is due,
/// and takes over one that was not polled in time.
fn watchdog() {
    let mut watched = WATCHED.lock();
    loop {
        let now = Instant::now();
        let mut due: Option<Instant> = None;
        let mut stalled = None;
        for turns in watched.turns.iter() {
            let state = turns.state.lock();
            if state.job.is_none() {
                continue;
            }
            let at = state.yielded + UNPOLLED;
            if at <= now {
                stalled = Some(turns.clone());
                break;
            }
            due = Some(due.map_or(at, |d| d.min(at)));
        }
        if let Some(turns) = stalled {
            let (job, since) = {
                let mut state = turns.state.lock();
                (state.job.take(), state.yielded)
            };
            drop(watched);
            if let Some(job) = job {
                let rules = job.settings.rules.clone();
                let judgement = job.run_and_dump();
                unpolled(judgement, &rules, since);
            }
            watched = WATCHED.lock();
            continue;
        }
        watched.idle = due.is_none();
        match due {
            Some(at) => drop(WATCH_CHANGED.wait_until(&mut watched, at)),
            None => WATCH_CHANGED.wait(&mut watched),
        }
        watched.idle = false;
    }
}

/// Where the helper thread leaves its judgement for `check_async`.
#[derive(Default)]
pub(super) struct Handoff {
    slot: Mutex<Slot>,
    changed: Condvar,
}

#[derive(Default)]
enum Slot {
    #[default]
    Waiting,
    Ready(Box<Judgement>),
    /// Collected by `check_async`, given up on by the watchdog, or the
    /// future awaiting it was dropped.
    Closed,
}

impl Handoff {
    /// `check_async`'s side: the judgement, once (`None` when the helper
    /// thread left none).
    pub(super) fn collect(&self) -> Option<Judgement> {
        let mut slot = self.slot.lock();
        let taken = std::mem::replace(&mut *slot, Slot::Closed);
        self.changed.notify_all();
        match taken {
            Slot::Ready(judgement) => Some(*judgement),
            Slot::Waiting | Slot::Closed => None,
        }
    }

    /// `check_async` is gone (done, or its future was dropped): nobody
    /// will collect, and nobody needs to.
    pub(super) fn close(&self) {
        *self.slot.lock() = Slot::Closed;
        self.changed.notify_all();
    }

    /// The helper thread's side: leaves `judgement`, calls `wake`, and
    /// waits for it to be collected. When it is not within
    /// [`UNPOLLED`], reports it here and ends the process.
    pub(super) fn deliver(&self, judgement: Judgement, wake: impl FnOnce(), rules: &Rules) {
        {
            let mut slot = self.slot.lock();
            if matches!(*slot, Slot::Closed) {
                return; // nobody waits for it
            }
            *slot = Slot::Ready(Box::new(judgement));
        }
        wake();
        let ready = Instant::now();
        let until = ready + UNPOLLED;
        let mut slot = self.slot.lock();
        while matches!(*slot, Slot::Ready(_)) {
            if self.changed.wait_until(&mut slot, until).timed_out() {
                break;
            }
        }
        let Slot::Ready(judgement) = std::mem::replace(&mut *slot, Slot::Closed) else {
            return;
        };
        drop(slot);
        unpolled(*judgement, rules, ready);
    }
}

/// Closes the handoff when `check_async`'s future ends or is dropped.
pub(super) struct Collector(pub(super) Arc<Handoff>);

impl Drop for Collector {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The judgement of a check not polled since `since`: concluded here (the
/// run's facts, CI), the report and the task that blocks the test on
/// stderr, then the process ends as a failed test binary does.
fn unpolled(judgement: Judgement, rules: &Rules, since: Instant) -> ! {
    let test = judgement.test.clone();
    let blocking = judgement
        .leaks
        .as_ref()
        .map(blocking_tasks)
        .unwrap_or_default();
    // A baseline that cannot be read panics in `conclude`: the test ends
    // all the same.
    let verdict =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conclude(judgement, rules)));
    let leaks: Option<Leaks> = match verdict {
        Ok(Err(leaks)) => Some(leaks),
        _ => None,
    };
    crate::outputs::unpolled(leaks.as_ref(), test.as_deref(), &blocking, since.elapsed());
    crate::exit::failed_now()
}

/// Those of the report's tasks still inside the poll they were in when
/// the check judged them, as "task 3 (spawned at src/x.rs:4:5), inside one
/// poll for 15s".
fn blocking_tasks(leaks: &Leaks) -> Vec<String> {
    leaks
        .tasks()
        .iter()
        .filter_map(|t| {
            let then = t.activity()?;
            then.in_poll_for()?;
            let now = crate::capture::hooks::activity(t.id())?;
            let for_ = now.in_poll_for.filter(|_| now.polls == then.polls())?;
            Some(format!(
                "task {} (spawned at {}), inside one poll for {}",
                t.id(),
                t.spawned_at(),
                crate::util::human(for_)
            ))
        })
        .collect()
}
