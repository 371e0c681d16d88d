//! Why a leaked task has no "stuck in" line: said by the hooks (which take
//! task dumps) and printed by the report.

use std::fmt::{self, Display, Formatter};

/// Why a leaked task has no "stuck in" although task dumps were taken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(taskleak_taskdump), allow(dead_code))] // most come from task dumps
pub(crate) enum NotDumped {
    /// It lives on a current-thread runtime the check does not run in.
    CurrentThread,
    /// Not in the dump of the runtime the check runs in (current-thread).
    NotInThisRuntime,
    /// Its runtime was dumped without it: it ended in between.
    Ended,
    /// Its runtime's dump was not taken, or did not finish: why.
    Skipped(String),
    /// Its runtime is not known and no dump that was taken holds it.
    UnknownRuntime,
    /// A `spawn_blocking` closure: dumps show async tasks only.
    Blocking,
    /// A `LocalSet` task: dumps show the runtime's own tasks only.
    Local,
    /// Its runtime's shutdown cancelled it before a dump could be taken.
    Cancelled,
    /// It lives on a multi-thread runtime `#[leak_check]` did not build,
    /// which taskleak does not dump (see `hooks::stuck_elsewhere`).
    NotOwned,
}

impl Display for NotDumped {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            NotDumped::CurrentThread => f.write_str(
                "it lives on a current-thread runtime, which tokio can dump only from the thread \
                 inside its block_on; check there with `check_async().await` or #[leak_check]",
            ),
            NotDumped::NotInThisRuntime => f.write_str(
                "not in the task dump of the runtime this check runs in: it ended before the \
                 dump, or it lives on another current-thread runtime, which tokio can dump only \
                 from the thread inside its block_on",
            ),
            NotDumped::Ended => f.write_str("it ended before its runtime's task dump was taken"),
            NotDumped::Skipped(why) => write!(f, "its runtime was not dumped: {why}"),
            NotDumped::UnknownRuntime => f.write_str(
                "its runtime is not known (its activity record was lost) and no runtime that \
                 was dumped holds it",
            ),
            NotDumped::Blocking => {
                f.write_str("a spawn_blocking closure: tokio's task dumps show async tasks only")
            }
            NotDumped::Local => {
                f.write_str("a LocalSet task: tokio's task dumps show the runtime's own tasks only")
            }
            NotDumped::NotOwned => f.write_str(
                "taskleak dumps only the runtime #[leak_check] builds: a tokio task dump can \
                 leave a multi-thread runtime unable to shut down (a worker that reaches the \
                 dump's barrier late on a loaded machine), and this runtime is yours to drop",
            ),
            NotDumped::Cancelled => f.write_str(
                "its runtime shut down, cancelling it, before a task dump could be taken",
            ),
        }
    }
}
