//! The report: what a check found (the model a verdict carries: [`Leaks`],
//! [`LeakedTask`], [`SpawnSite`]) and how it reads (text, colour,
//! annotations, JSON). Pure values and rendering: nothing here decides a
//! verdict or writes anywhere.

pub(crate) mod ci;
mod color;
mod dumps;
mod growth;
mod hints;
mod json;
mod render;
mod stuck;
mod task;

use std::time::Duration;

pub(crate) use growth::Growth;
pub use growth::{Growing, GrowingSite};
pub use task::{LeakedTask, SpawnSite};

use crate::capture::threads::LeakedThread;
use crate::task::Grown;

/// The tasks a check found still running after the grace period.
///
/// `Display` renders the full report; `Debug` does too, so that
/// `check().unwrap()` prints something readable.
///
/// ```
/// # let guard = taskleak::verify_none();
/// match guard.check() {
///     Ok(()) => {}
///     Err(leaks) => {
///         for task in leaks.tasks() {
///             eprintln!("task {} spawned at {}", task.id(), task.spawned_at());
///         }
///         panic!("{leaks}");
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Leaks {
    pub(crate) test: Option<String>,
    pub(crate) grace: Duration,
    pub(crate) tasks: Vec<LeakedTask>,
    /// Survivors known only by number (no `tokio_unstable`: no identities).
    pub(crate) counted: usize,
    /// The check blocked a runtime thread, which may have kept its tasks
    /// from finishing.
    pub(crate) blocked_runtime: bool,
    /// Whether task dumps were taken (so an empty one means something).
    pub(crate) dumped: bool,
    /// Found by the suite gate at the end of the binary, not by a check.
    pub(crate) suite_end: bool,
    /// `spawn_blocking` closures still running, known only by number.
    pub(crate) blocking: usize,
    /// OS threads still running (`Options::threads`).
    pub(crate) threads: Vec<LeakedThread>,
    /// What only some reports have, behind one pointer (`None` when
    /// nothing): `Leaks` is the error of `Result<(), Leaks>`, which stays
    /// small to return.
    pub(crate) extra: Option<Box<Extra>>,
}

/// The parts of a report that only some reports have.
#[derive(Clone, Default)]
pub(crate) struct Extra {
    /// Known leaks (the baseline's) that now have more tasks than
    /// recorded: their tasks are among `tasks`.
    pub(crate) grown: Vec<Grown>,
    /// A growth check's report: its sites and numbers; `tasks` are then
    /// the newest tasks of those sites.
    pub(crate) growth: Option<Growth>,
}

impl Leaks {
    /// The leaked tasks, in spawn order (empty when taskleak could only
    /// count them; see [`Leaks::len`]).
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// let first = &leaks.tasks()[0];
    /// println!("{} spawned at {}", first.id(), first.spawned_at());
    /// # }
    /// ```
    pub fn tasks(&self) -> &[LeakedTask] {
        &self.tasks
    }

    /// How many leaks the report lists: the tasks of [`Leaks::tasks`],
    /// tasks and `spawn_blocking` closures known only by number, and the
    /// OS threads of [`Leaks::threads`]. Never 0 for a `Leaks` a check
    /// returned, in agreement with [`Leaks::is_empty`].
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// assert!(leaks.len() >= leaks.tasks().len() + leaks.threads().len());
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.task_count() + self.threads.len()
    }

    /// OS threads started in the scope and still running (with
    /// [`Options::threads`](crate::Options::threads)).
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// for t in leaks.threads() { println!("{}", t.name()); }
    /// # }
    /// ```
    pub fn threads(&self) -> &[LeakedThread] {
        &self.threads
    }

    /// Whether [`Leaks::len`] is 0; always false for a `Leaks` a check
    /// returned, since a check that found nothing returns `Ok`.
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// assert!(!leaks.is_empty());
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of the test that leaked (its thread's name), if known.
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// println!("{}", leaks.test().unwrap_or("<unnamed>"));
    /// # }
    /// ```
    pub fn test(&self) -> Option<&str> {
        self.test.as_deref()
    }
}

impl std::error::Error for Leaks {}

impl Leaks {
    /// An empty report for `test`, after waiting `grace`; a verdict fills
    /// in what it found.
    pub(crate) fn new(test: Option<String>, grace: Duration) -> Leaks {
        Leaks {
            test,
            grace,
            tasks: Vec::new(),
            counted: 0,
            blocked_runtime: false,
            dumped: false,
            suite_end: false,
            blocking: 0,
            threads: Vec::new(),
            extra: None,
        }
    }

    /// Known leaks that grew beyond the baseline's count.
    pub(crate) fn grown(&self) -> &[Grown] {
        self.extra.as_ref().map_or(&[], |e| &e.grown)
    }

    /// A growth check's section, if this is a growth report.
    pub(crate) fn growth(&self) -> Option<&Growth> {
        self.extra.as_ref()?.growth.as_ref()
    }

    pub(crate) fn growth_mut(&mut self) -> Option<&mut Growth> {
        self.extra.as_mut()?.growth.as_mut()
    }

    /// The parts only some reports have, made on first use.
    pub(crate) fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Leaked tasks, listed or only counted, `spawn_blocking` included:
    /// the headline's "leaked N tasks".
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.len() + self.counted + self.blocking
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::task::Kind;
    use std::panic::Location;

    /// A report of one leaked task, as a failed check returns it.
    pub(crate) fn one_leak() -> Leaks {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let id = rt.spawn(async {}).id();
        let mut leaks = Leaks::new(None, Duration::ZERO);
        leaks
            .tasks
            .push(LeakedTask::new(id, Kind::Task, Location::caller()));
        leaks
    }

    /// Every check takes task dumps where the `taskdump` feature is
    /// compiled in, the suite gate never does: a hint to switch checks, or
    /// to enable what is already enabled, would not fit.
    #[test]
    fn the_dump_hint_fits_how_the_check_ran() {
        let text = one_leak().to_string();
        assert!(!text.contains("#[leak_check]"), "{text}");
        assert!(!text.contains("check_async"), "{text}");
        let hint = "enable taskleak's `taskdump` feature";
        assert_eq!(text.contains(hint), !cfg!(taskleak_taskdump), "{text}");
        let mut at_exit = one_leak();
        at_exit.suite_end = true;
        let text = at_exit.to_string();
        assert!(!text.contains("hint:"), "{text}");
        let mut dumped = one_leak();
        dumped.dumped = true;
        let text = dumped.to_string();
        assert!(!text.contains("hint:"), "{text}");
    }
}
