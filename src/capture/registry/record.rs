//! What the registry knows about a task: a record shared by a chain of
//! spawns and by reports, and the compact form it has in the table until
//! something shares it.

use std::panic::Location;
use std::sync::Arc;

use tokio::task::Id;

use crate::capture::scope::Scope;
use crate::capture::walk::Stack;
pub(crate) use crate::task::Kind;

/// What is known about one tracked task.
pub(crate) struct TaskRecord {
    pub(crate) id: Id,
    pub(crate) kind: Kind,
    /// The lane of the scope counts this task entered (see [`crate::capture::scope::lane`]).
    pub(super) lane: u8,
    pub(crate) location: &'static Location<'static>,
    /// The spawning task, when it was tracked and the chain is not too long.
    pub(crate) parent: Option<Arc<TaskRecord>>,
    /// The spawning task's id, even when `parent` was cut.
    pub(crate) parent_id: Option<Id>,
    pub(crate) depth: u32,
    /// Spawned by a task whose scope's check was over (see
    /// [`crate::capture::scope::Scope::finished`]): its scope is
    /// `own_scope`, where `registry::place` put it, not its parent's.
    pub(crate) adrift: bool,
    /// The scope, held here only by tasks without a `parent` (and adrift
    /// ones); the others share their parent's, which saves touching the scope's reference
    /// count (a line every worker shares) at each spawn and end.
    pub(super) own_scope: Option<Arc<Scope>>,
    /// [`crate::util::clock::coarse`] at the spawn: ages are for reports, and the
    /// precise clock would cost more than the rest of the hook.
    pub(crate) spawned: u64,
    /// Unresolved return addresses, innermost first.
    pub(crate) frames: Stack,
    /// The nearest ancestors of a task whose chain was cut (`parent` is
    /// then `None`), parent first: copied at the cut, so that a report
    /// still shows where it came from, however long ago they ended.
    pub(crate) cut_ancestors: Box<[(Id, &'static Location<'static>)]>,
    /// Spawned where no thread or task placed it (in a plain
    /// `spawn_blocking` closure) while several tests' scopes were open:
    /// their names, for the suite gate's report.
    pub(crate) running: Option<Box<[String]>>,
}

impl TaskRecord {
    /// The scope this task counts toward: its own, or its oldest recorded
    /// ancestor's (up to the first adrift one, which has its own).
    pub(crate) fn scope(&self) -> Option<&Arc<Scope>> {
        let mut r = self;
        while let (false, Some(p)) = (r.adrift, &r.parent) {
            r = p;
        }
        r.own_scope.as_ref()
    }

    /// The first of this task and its ancestors that was spawned adrift:
    /// its parent's scope is the finished one the chain began in.
    pub(crate) fn adrift_from(&self) -> Option<&TaskRecord> {
        std::iter::successors(Some(self), |r| r.parent.as_deref()).find(|r| r.adrift)
    }
}

pub(super) enum Slot {
    /// A live task no other task points to yet: its record, compact, in the
    /// map, so that a task that spawns nothing costs no allocation.
    Own(Own),
    /// A live task whose record is shared: with the records of the tasks it
    /// spawned (their chains), or with a reader (a check's survivors).
    Shared(Arc<TaskRecord>),
    /// Terminated before its spawn hook ran (a runtime already shut down).
    Ended,
}

/// What a [`TaskRecord`] holds, in 64 bytes instead of 96: the map's
/// entries are most of the memory the hooks touch, and with hundreds of
/// tasks alive each cache line shows (a record 64 bytes larger measured
/// ~10 ns a task slower in batches).
pub(super) struct Own {
    pub(super) location: &'static Location<'static>,
    pub(super) spawned: u64,
    pub(super) up: Up,
    pub(super) frames: Stack,
    /// A cut chain's parent id, and `running`: rarely set.
    pub(super) rare: Option<Box<Rare>>,
    pub(super) depth: u32,
    pub(super) kind: Kind,
    pub(super) lane: u8,
}

// The size the comment above promises (64-bit targets).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Slot>() == 64);

/// Where an [`Own`] record counts: through its parent, or its own scope.
pub(super) enum Up {
    None,
    Parent(Arc<TaskRecord>),
    Scope(Arc<Scope>),
    /// Spawned by a task of a finished scope: the parent (for the chain),
    /// and where it was placed instead.
    Adrift(Box<(Arc<TaskRecord>, Option<Arc<Scope>>)>),
}

pub(super) struct Rare {
    pub(super) parent_id: Option<Id>,
    pub(super) running: Option<Box<[String]>>,
    pub(super) cut_ancestors: Box<[(Id, &'static Location<'static>)]>,
}

/// Ancestors a cut chain keeps, by id and spawn site only: a few, so that
/// a task that respawns itself forever holds no more than these.
const CUT_KEEPS: usize = 4;

impl Rare {
    /// A chain cut at `parent`: its id is kept, and the spawn sites of the
    /// nearest ancestors (it and its own, or those its cut kept), not
    /// their records.
    pub(super) fn cut(parent: &TaskRecord) -> Rare {
        let mut near = Vec::with_capacity(CUT_KEEPS);
        let mut r = Some(parent);
        while let Some(p) = r.filter(|_| near.len() < CUT_KEEPS) {
            near.push((p.id, p.location));
            if p.parent.is_none() {
                let room = CUT_KEEPS - near.len();
                near.extend(p.cut_ancestors.iter().take(room).copied());
            }
            r = p.parent.as_deref();
        }
        Rare {
            parent_id: Some(parent.id),
            running: None,
            cut_ancestors: near.into_boxed_slice(),
        }
    }

    /// Placed in no scope while these tests ran.
    pub(super) fn running(names: Box<[String]>) -> Rare {
        Rare {
            parent_id: None,
            running: Some(names),
            cut_ancestors: Box::new([]),
        }
    }
}

impl Own {
    pub(super) fn scope(&self) -> Option<&Arc<Scope>> {
        match &self.up {
            Up::None => None,
            Up::Parent(p) => p.scope(),
            Up::Scope(s) => Some(s),
            Up::Adrift(a) => a.1.as_ref(),
        }
    }

    pub(super) fn into_record(self, id: Id) -> TaskRecord {
        let (parent, own_scope, adrift) = match self.up {
            Up::None => (None, None, false),
            Up::Parent(p) => (Some(p), None, false),
            Up::Scope(s) => (None, Some(s), false),
            Up::Adrift(a) => (Some(a.0), a.1, true),
        };
        let (cut_parent, running, cut_ancestors) = match self.rare {
            Some(rare) => (rare.parent_id, rare.running, rare.cut_ancestors),
            None => (None, None, Box::default()),
        };
        TaskRecord {
            id,
            kind: self.kind,
            lane: self.lane,
            location: self.location,
            parent_id: parent.as_ref().map(|p| p.id).or(cut_parent),
            parent,
            depth: self.depth,
            own_scope,
            adrift,
            spawned: self.spawned,
            frames: self.frames,
            running,
            cut_ancestors,
        }
    }
}

impl Slot {
    /// The record, shared from now on (made a [`TaskRecord`] in an `Arc`
    /// the first time), so that a chain and the map hold the same one.
    /// `None`: ended.
    pub(super) fn share(&mut self, id: Id) -> Option<Arc<TaskRecord>> {
        if let Slot::Own(_) = self {
            let Slot::Own(own) = std::mem::replace(self, Slot::Ended) else {
                unreachable!("matched above")
            };
            *self = Slot::Shared(Arc::new(own.into_record(id)));
        }
        match self {
            Slot::Shared(r) => Some(r.clone()),
            _ => None,
        }
    }

    /// A live task's spawn site; `None`: ended.
    pub(super) fn location(&self) -> Option<&'static Location<'static>> {
        match self {
            Slot::Own(r) => Some(r.location),
            Slot::Shared(r) => Some(r.location),
            Slot::Ended => None,
        }
    }

    /// A live task's scope (if any) and lane; `None`: ended.
    pub(super) fn counted(&self) -> Option<(Option<&Arc<Scope>>, u8)> {
        match self {
            Slot::Own(r) => Some((r.scope(), r.lane)),
            Slot::Shared(r) => Some((r.scope(), r.lane)),
            Slot::Ended => None,
        }
    }
}
