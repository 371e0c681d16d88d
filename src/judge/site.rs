//! Where a leak is filed in the summary and the baseline.

use std::path::Path;

use crate::report::LeakedTask;
use crate::task::frame::{in_workspace, relative};

/// The spawn site of the root of the task's spawn chain (the task spawned
/// from the test body, whose end ends the tasks it spawned: a server
/// started by a test helper and the connection tasks it spawned are one
/// line), when that is in the user's workspace; else the task's own site,
/// else the first of the user's frames in the workspace that led to the
/// spawn. Paths are relative to the workspace root, so that a baseline
/// reads the same on every machine. "The user's code" is decided by
/// `task::frame::in_workspace`, as everywhere else.
pub(crate) fn of(task: &LeakedTask) -> String {
    let at = |file: &str, line: u32| format!("{}:{line}", relative(Path::new(file)));
    let own = task.spawned_at();
    let root = task.chain().last().map_or(own, |s| s.location());
    if in_workspace(root.file()) {
        return at(root.file(), root.line());
    }
    if in_workspace(own.file()) {
        return at(own.file(), own.line());
    }
    // A frame's file is already shown relative (a dependency's from its
    // package directory): whose it is, the frame knows.
    task.backtrace()
        .iter()
        .filter(|f| f.in_workspace())
        .find_map(|f| Some(format!("{}:{}", f.file()?, f.line()?)))
        .unwrap_or_else(|| at(own.file(), own.line()))
}
