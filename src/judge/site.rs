//! Where a leak is filed in the summary and the baseline.

use std::path::Path;

use std::panic::Location;

use crate::report::LeakedTask;
use crate::report::ci::Place;
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
    let place = place(task);
    format!("{}:{}", place.file, place.line)
}

/// Where a growth check files a growing site, by its newest task: the
/// site itself when it is the user's (the growth is there, whatever began
/// the chain), else [`place`]: the user's line that led to a dependency's
/// spawn. The summary and the annotation both read it.
pub(crate) fn place_growing(task: &LeakedTask) -> Place {
    let own = task.spawned_at();
    if in_workspace(own.file()) {
        return Place {
            file: relative(Path::new(own.file())),
            line: own.line(),
            column: Some(own.column()),
            own: true,
        };
    }
    place(task)
}

/// [`of`], with the column where it is known (a spawn site's), and whether
/// it is the task's own spawn site: what a GitHub annotation points at, so
/// that it names the line the summary names.
pub(crate) fn place(task: &LeakedTask) -> Place {
    let at = |loc: &Location<'_>, own: bool| Place {
        file: relative(Path::new(loc.file())),
        line: loc.line(),
        column: Some(loc.column()),
        own,
    };
    let own = task.spawned_at();
    let root = task.chain().last().map_or(own, |s| s.location());
    if in_workspace(root.file()) {
        return at(root, std::ptr::eq(root, own));
    }
    if in_workspace(own.file()) {
        return at(own, true);
    }
    // A frame's file is already shown relative (a dependency's from its
    // package directory): whose it is, the frame knows.
    task.backtrace()
        .iter()
        .filter(|f| f.in_workspace())
        .find_map(|f| {
            Some(Place {
                file: f.file()?.to_owned(),
                line: f.line()?,
                column: None,
                own: false,
            })
        })
        .unwrap_or_else(|| at(own, true))
}
