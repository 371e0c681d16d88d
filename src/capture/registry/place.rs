//! Where a new task belongs: one rule for every spawn path (tokio's spawn
//! hook, `taskleak::spawn_blocking` and `spawn_local`, and the scope a
//! `taskleak::thread` carries).

use std::sync::Arc;

use tokio::task::Id;

use super::MAX_CHAIN;
use super::record::{Rare, TaskRecord, Up};
use crate::capture::scope::{self, Owner, Scope};

/// A new task's place: what it counts toward, and its depth in its chain.
pub(super) struct Placed {
    pub(super) up: Up,
    pub(super) rare: Option<Box<Rare>>,
    pub(super) depth: u32,
}

/// Where a task spawned now, on this thread, belongs. `current` is the
/// task running here (`try_id()`), `owner` the scope the runtime it is
/// spawned onto was built in, if any. The first that applies:
///
/// 1. Spawned by a tracked task: its parent's scope, unless every check
///    that would see that scope's tasks is over ([`Scope::finished`]: a
///    dispatcher an earlier test left running, spawning for a later one).
///    Such a task is adrift: it keeps its chain, and is placed by 2-5.
/// 2. This thread's open scope, if its check has not started (the test
///    body, or a thread that adopted it).
/// 3. The scope its runtime was built in (`track_tasks()` or
///    `#[leak_check]` inside a test), if that check has not started: a
///    `Handle::spawn` from a plain thread onto the test's own runtime.
/// 4. Inside a task taskleak never saw (a plain `spawn_blocking`
///    closure), or adrift: the one scope open in the process, if there is
///    exactly one; with several, none, remembering their names (not for
///    an adrift task, whose report names where its chain began).
/// 5. No scope: the suite gate reports it.
pub(super) fn place(current: Option<Id>, owner: Option<&Owner>) -> Placed {
    let parent = current.and_then(super::parent);
    let depth = parent.as_ref().map_or(0, |p| p.depth + 1);
    let adrift = match parent {
        Some(p) if !p.scope().is_some_and(|s| s.finished()) => {
            return follow(p, depth);
        }
        adrift => adrift,
    };
    let (scope, running) = elsewhere(current.is_some(), owner);
    let (up, rare) = match adrift {
        Some(p) if depth < MAX_CHAIN => (Up::Adrift(Box::new((p, scope))), None),
        Some(cut) => (up(scope), Some(Box::new(Rare::cut(&cut)))),
        None => (
            up(scope),
            running.map(|names| Box::new(Rare::running(names))),
        ),
    };
    Placed { up, rare, depth }
}

/// The parent's place (rule 1), or its scope alone when the chain gets too
/// long to keep.
fn follow(p: Arc<TaskRecord>, depth: u32) -> Placed {
    if depth < MAX_CHAIN {
        return Placed {
            up: Up::Parent(p),
            rare: None,
            depth,
        };
    }
    Placed {
        up: up(p.scope().cloned()),
        rare: Some(Box::new(Rare::cut(&p))),
        depth,
    }
}

fn up(scope: Option<Arc<Scope>>) -> Up {
    scope.map_or(Up::None, Up::Scope)
}

/// Rules 2-5: the scope, or the names of the tests running when none
/// could be told apart.
fn elsewhere(
    in_a_task: bool,
    owner: Option<&Owner>,
) -> (Option<Arc<Scope>>, Option<Box<[String]>>) {
    if let Some(s) = scope::current_unchecked() {
        return (Some(s), None);
    }
    if let Some(s) = owner.and_then(Owner::get).filter(|s| !s.is_checked()) {
        return (Some(s), None);
    }
    if !in_a_task {
        return (None, None);
    }
    match scope::sole_open() {
        Ok(s) => (Some(s), None),
        Err(names) if names.is_empty() => (None, None),
        Err(names) => (None, Some(names.into_boxed_slice())),
    }
}
