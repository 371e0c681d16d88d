//! Where a task is suspended, as a task dump says, or why that is not
//! known: produced by `capture::hooks`, printed by `report`.

use super::{Frame, NotDumped};

/// Where a task is suspended, or why that is not known.
#[cfg_attr(not(taskleak_taskdump), allow(dead_code))]
pub(crate) enum Stuck {
    /// One backtrace (innermost frame first) per tokio leaf future.
    At(Vec<Vec<Frame>>),
    NotDumped(NotDumped),
}
