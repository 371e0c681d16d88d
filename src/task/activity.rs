//! What a leaked task was doing: its poll activity and a one-word verdict.

use std::time::Duration;

/// How a leaked task has been polled, from tokio's poll hooks.
///
/// ```
/// # fn f(task: &taskleak::LeakedTask) {
/// if let Some(a) = task.activity() {
///     println!("{:?}: {} polls, last {:?} ago", a.verdict(), a.polls(), a.last_poll_ago());
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    pub(crate) polls: u64,
    pub(crate) last_poll_ago: Option<Duration>,
    pub(crate) in_poll_for: Option<Duration>,
    pub(crate) busy: Duration,
    /// The task's age when this was read.
    pub(crate) age: Duration,
}

/// What the numbers of an [`Activity`] suggest the task is doing.
///
/// ```
/// # fn f(task: &taskleak::LeakedTask) {
/// use taskleak::Verdict;
/// match task.activity().map(|a| a.verdict()) {
///     Some(Verdict::Busy) => println!("spinning or blocking"),
///     Some(Verdict::Idle) => println!("waiting for something"),
///     Some(Verdict::NeverPolled) => println!("never ran"),
///     Some(_) => println!("a verdict added after this code was written"),
///     None => println!("unknown"),
/// }
/// # }
/// ```
///
/// New verdicts may be added in a minor release: a `match` needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Waiting for something: not polled lately.
    Idle,
    /// Polled continually (a loop that keeps waking itself), or inside one
    /// long poll (blocking code in async).
    Busy,
    /// Spawned but never run: its runtime never got to it.
    NeverPolled,
}

/// Inside one poll for longer than this reads as blocking.
const LONG_POLL: Duration = Duration::from_millis(10);
/// Polled within this long before the check counts as "now". Wider than a
/// long poll: on a loaded machine (CI, 2 cores, tests in parallel) a task
/// that yields in a loop can wait tens of ms for a worker between polls.
const RECENT: Duration = Duration::from_millis(50);
/// Polls per second, over the task's life, that read as continual.
const CONTINUAL_RATE: f64 = 200.0;

impl Activity {
    /// How many times it was polled.
    ///
    /// ```
    /// # fn f(a: taskleak::Activity) { println!("{}", a.polls()); }
    /// ```
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// Time since its last poll started (`None`: never polled).
    ///
    /// ```
    /// # fn f(a: taskleak::Activity) { println!("{:?}", a.last_poll_ago()); }
    /// ```
    pub fn last_poll_ago(&self) -> Option<Duration> {
        self.last_poll_ago
    }

    /// Time spent inside its completed polls, measured with the kernel's
    /// coarse clock (a tick of a few ms): polls shorter than a tick add
    /// nothing, so this shows time lost in long, blocking polls.
    ///
    /// ```
    /// # fn f(a: taskleak::Activity) { println!("{:?}", a.busy_time()); }
    /// ```
    pub fn busy_time(&self) -> Duration {
        self.busy
    }

    /// How long the poll it is inside right now has lasted, if it is in one.
    ///
    /// ```
    /// # fn f(a: taskleak::Activity) { println!("{:?}", a.in_poll_for()); }
    /// ```
    pub fn in_poll_for(&self) -> Option<Duration> {
        self.in_poll_for
    }

    /// Idle, busy or never polled. Busy means inside one poll for more than
    /// 10 ms, or polled within the last 50 ms at over 200 polls a second on
    /// average; idle is everything else that was polled.
    ///
    /// ```
    /// # fn f(a: taskleak::Activity) { println!("{:?}", a.verdict()); }
    /// ```
    pub fn verdict(&self) -> Verdict {
        self.verdict_at(self.age)
    }

    /// How often an idle task wakes, when it wakes on a schedule (a
    /// ticker, a heartbeat, a poll loop with a sleep): polled at least
    /// three times, and again within two mean intervals of now. `None`
    /// for a task parked since its last poll.
    pub(crate) fn period(&self) -> Option<Duration> {
        if self.polls < 3 || self.verdict() != Verdict::Idle {
            return None;
        }
        let mean = self.age / u32::try_from(self.polls).unwrap_or(u32::MAX);
        self.last_poll_ago
            .filter(|&ago| ago <= mean * 2)
            .map(|_| mean)
    }

    pub(crate) fn verdict_at(&self, age: Duration) -> Verdict {
        if self.polls == 0 {
            return Verdict::NeverPolled;
        }
        if self.in_poll_for.is_some_and(|d| d > LONG_POLL) {
            return Verdict::Busy;
        }
        let recent = self.last_poll_ago.is_some_and(|d| d <= RECENT);
        let rate = self.polls as f64 / age.as_secs_f64().max(1e-3);
        if recent && rate >= CONTINUAL_RATE {
            Verdict::Busy
        } else {
            Verdict::Idle
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(polls: u64, last_ms: Option<u64>, in_poll_ms: Option<u64>) -> Activity {
        Activity {
            polls,
            last_poll_ago: last_ms.map(Duration::from_millis),
            in_poll_for: in_poll_ms.map(Duration::from_millis),
            busy: Duration::ZERO,
            age: Duration::from_millis(500),
        }
    }

    #[test]
    fn verdicts() {
        let age = Duration::from_millis(500);
        assert_eq!(
            activity(0, None, None).verdict_at(age),
            Verdict::NeverPolled
        );
        assert_eq!(activity(3, Some(480), None).verdict_at(age), Verdict::Idle);
        assert_eq!(
            activity(50_000, Some(0), None).verdict_at(age),
            Verdict::Busy
        );
        assert_eq!(
            activity(1, Some(500), Some(500)).verdict_at(age),
            Verdict::Busy
        );
        // Recently polled but rarely: a timer that just fired.
        assert_eq!(activity(5, Some(1), None).verdict_at(age), Verdict::Idle);
    }

    #[test]
    fn a_task_woken_on_a_schedule_has_a_period() {
        // 10 polls in 500ms, the last 20ms ago: every 50ms.
        assert_eq!(
            activity(10, Some(20), None).period(),
            Some(Duration::from_millis(50))
        );
        // Polled a few times at the start, parked since.
        assert_eq!(activity(10, Some(400), None).period(), None);
        assert_eq!(activity(2, Some(1), None).period(), None);
    }
}
