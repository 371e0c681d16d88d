//! Whether the test's runtime is starved while a check waits: a loaded
//! machine makes a check slower, never wrong.
//!
//! A probe task of taskleak's own (never recorded) on each runtime whose
//! tasks the check waits for, woken every tick of the wait: when it has
//! not run [`LATE`] after its wake, the runtime's threads are waiting for a
//! core (or its queue is long), and its tasks could not run either. That
//! time does not count against them: the wait restarts the grace period
//! (`Window::restart`), up to [`MAX_EXTENSION`] in all. A runtime whose
//! thread is held by one of the test's tasks inside a poll is blocked, not
//! starved (`BLOCKED`): that waits for no one.
//!
//! The wait's own timed sleeps are a probe too, of the machine: one that
//! ends more than [`LATE`] after it was asked to is the same news.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::Notify;

/// A sleep that ends this much later than asked: the machine is starved.
/// Well above a timer's usual slack (tens of µs) and a scheduler tick.
const LATE: Duration = Duration::from_millis(20);

/// The longest sleep of a wait, so that a starved machine is noticed
/// while the wait goes on.
const TICK: Duration = Duration::from_millis(10);

/// How much longer than its grace period a check may wait, in all, for
/// tasks that make progress or a machine that is starved. A bound: a check
/// always ends.
pub(super) const MAX_EXTENSION: Duration = Duration::from_secs(30);

/// A survivor inside one poll this long holds its thread: the runtime is
/// blocked, not starved, and its probe's lateness restarts nothing. Far
/// longer than a poll preempted by a loaded machine.
pub(super) const BLOCKED: Duration = Duration::from_secs(1);

/// Nanoseconds since the first call: what the probe's atomics hold.
fn nanos() -> u64 {
    static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
    // Shifted by one so that 0 means "never".
    EPOCH.elapsed().as_nanos() as u64 + 1
}

/// One runtime's probe task, and when it was last woken and last ran.
struct Probed {
    state: Arc<ProbeState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct ProbeState {
    woken: AtomicU64,
    ran: AtomicU64,
    done: AtomicBool,
    wake: Notify,
}

/// Probe tasks on the runtimes a check waits for; they end when this is
/// dropped.
#[derive(Default)]
pub(super) struct Probe(Vec<Probed>);

impl Probe {
    /// Starts a probe task on each of `runtimes` (taskleak's own: never
    /// recorded, counted or reported).
    pub(super) fn start<'a>(runtimes: impl IntoIterator<Item = &'a Handle>) -> Probe {
        let probes = runtimes
            .into_iter()
            .map(|handle| {
                let state = Arc::new(ProbeState::default());
                let task = {
                    let state = state.clone();
                    crate::capture::registry::unrecorded(|| {
                        handle.spawn(async move {
                            while !state.done.load(Relaxed) {
                                state.ran.store(nanos(), Relaxed);
                                state.wake.notified().await;
                            }
                        })
                    })
                };
                Probed { state, task }
            })
            .collect();
        Probe(probes)
    }

    /// Whether a runtime has not run its probe [`LATE`] after waking it;
    /// wakes those that ran.
    pub(super) fn starved(&self) -> bool {
        let now = nanos();
        let mut starved = false;
        for p in &self.0 {
            if p.task.is_finished() {
                continue; // its runtime shut down
            }
            let woken = p.state.woken.load(Relaxed);
            if p.state.ran.load(Relaxed) < woken {
                starved |= now - woken > LATE.as_nanos() as u64;
            } else {
                p.state.woken.store(now, Relaxed);
                p.state.wake.notify_one();
            }
        }
        starved
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        for p in &self.0 {
            p.state.done.store(true, Relaxed);
            p.state.wake.notify_one();
        }
    }
}

/// The probe: what the last sleep asked for.
#[derive(Default)]
pub(super) struct Lag {
    asked: Option<Instant>,
}

impl Lag {
    /// The time to wake at for a wait that wants to wake at `wake` (never
    /// more than a tick away), remembered to see how late it ends.
    pub(super) fn wake_at(&mut self, wake: Option<Instant>) -> Instant {
        let tick = Instant::now() + TICK;
        let at = wake.map_or(tick, |w| w.min(tick));
        self.asked = Some(at);
        at
    }

    /// Whether the sleep just ended is late by more than [`LATE`]. A
    /// sleep cut short (a task ended) says nothing.
    pub(super) fn starved(&mut self) -> bool {
        self.asked
            .take()
            .is_some_and(|asked| Instant::now().saturating_duration_since(asked) > LATE)
    }
}

/// The grace period of one wait: its deadline, restarted (never past
/// [`MAX_EXTENSION`] beyond the first) when the scope's tasks make
/// progress or the machine is starved.
pub(super) struct Window {
    grace: Duration,
    /// `None`: a grace too long to add to now, "as long as it takes".
    deadline: Option<Instant>,
    latest: Option<Instant>,
}

impl Window {
    pub(super) fn new(grace: Duration) -> Window {
        let deadline = Instant::now().checked_add(grace);
        Window {
            grace,
            deadline,
            latest: deadline.and_then(|d| d.checked_add(MAX_EXTENSION)),
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The whole grace period again from now, within the bound.
    pub(super) fn restart(&mut self) {
        if let (Some(deadline), Some(latest)) = (self.deadline.as_mut(), self.latest) {
            let again = Instant::now().checked_add(self.grace).unwrap_or(latest);
            *deadline = (*deadline).max(again.min(latest));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_moves_the_deadline_within_the_bound() {
        let mut w = Window::new(Duration::from_secs(40));
        let first = w.deadline().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        w.restart();
        let later = w.deadline().unwrap();
        assert!(later > first && later <= first + MAX_EXTENSION);
        // "As long as it takes" stays so.
        let mut w = Window::new(Duration::MAX);
        w.restart();
        assert!(w.deadline().is_none());
    }

    #[test]
    fn a_late_wake_is_starved_and_an_early_one_is_not() {
        let mut lag = Lag::default();
        let at = lag.wake_at(Some(Instant::now()));
        std::thread::sleep(Duration::from_millis(40));
        assert!(at <= Instant::now());
        assert!(lag.starved());
        lag.wake_at(None);
        assert!(!lag.starved());
    }
}
