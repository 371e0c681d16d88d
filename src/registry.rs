//! The process-wide registry of live tracked tasks.
//!
//! Task ids are unique across every runtime of a process, so one table
//! keyed by id serves them all: 64 locked shards, each a small ring of
//! places indexed by id with a map for what collides. It keeps only what a
//! report may need (symbols are resolved later, and only for survivors),
//! inside the table itself until a child task or a reader shares a record:
//! a task that spawns nothing costs no allocation.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::task::Id;

use crate::scope::{self, Scope};

/// Chains longer than this are cut, so a task that respawns itself forever
/// does not keep every ancestor's record alive.
pub(crate) const MAX_CHAIN: u32 = 64;
/// What kind of task a record is, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An async task, seen by tokio's spawn hook.
    #[cfg_attr(not(taskleak_hooks), allow(dead_code))] // only the hooks make these
    Task,
    /// A `spawn_blocking` closure, recorded by `taskleak::spawn_blocking`.
    Blocking,
    /// A `LocalSet` task, recorded by `taskleak::spawn_local`.
    Local,
}

/// What is known about one tracked task.
pub(crate) struct TaskRecord {
    pub(crate) id: Id,
    pub(crate) kind: Kind,
    /// The lane of the scope counts this task entered (see [`scope::lane`]).
    lane: u8,
    pub(crate) location: &'static Location<'static>,
    /// The spawning task, when it was tracked and the chain is not too long.
    pub(crate) parent: Option<Arc<TaskRecord>>,
    /// The spawning task's id, even when `parent` was cut.
    pub(crate) parent_id: Option<Id>,
    pub(crate) depth: u32,
    /// The scope, held here only by tasks without a `parent`; the others
    /// share their parent's, which saves touching the scope's reference
    /// count (a line every worker shares) at each spawn and end.
    own_scope: Option<Arc<Scope>>,
    /// [`crate::clock::coarse`] at the spawn: ages are for reports, and the
    /// precise clock would cost more than the rest of the hook.
    pub(crate) spawned: u64,
    /// Unresolved return addresses, innermost first.
    pub(crate) frames: Box<[usize]>,
    /// Spawned where no thread or task placed it (in a plain
    /// `spawn_blocking` closure) while several tests' scopes were open:
    /// their names, for the suite gate's report.
    pub(crate) running: Option<Box<[String]>>,
}

impl TaskRecord {
    /// The scope this task counts toward: its own, or its oldest recorded
    /// ancestor's.
    pub(crate) fn scope(&self) -> Option<&Arc<Scope>> {
        let mut r = self;
        while let Some(p) = &r.parent {
            r = p;
        }
        r.own_scope.as_ref()
    }
}

enum Slot {
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
struct Own {
    location: &'static Location<'static>,
    spawned: u64,
    up: Up,
    frames: Box<[usize]>,
    /// A cut chain's parent id, and `running`: rarely set.
    rare: Option<Box<Rare>>,
    depth: u32,
    kind: Kind,
    lane: u8,
}

// The size the comment above promises (64-bit targets).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Slot>() == 64);

/// Where an [`Own`] record counts: through its parent, or its own scope.
enum Up {
    None,
    Parent(Arc<TaskRecord>),
    Scope(Arc<Scope>),
}

struct Rare {
    parent_id: Option<Id>,
    running: Option<Box<[String]>>,
}

impl Own {
    fn scope(&self) -> Option<&Arc<Scope>> {
        match &self.up {
            Up::None => None,
            Up::Parent(p) => p.scope(),
            Up::Scope(s) => Some(s),
        }
    }

    fn into_record(self, id: Id) -> TaskRecord {
        let (parent, own_scope) = match self.up {
            Up::None => (None, None),
            Up::Parent(p) => (Some(p), None),
            Up::Scope(s) => (None, Some(s)),
        };
        let (cut_parent, running) = match self.rare {
            Some(rare) => (rare.parent_id, rare.running),
            None => (None, None),
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
            spawned: self.spawned,
            frames: self.frames,
            running,
        }
    }
}

impl Slot {
    /// The record, shared from now on (made a [`TaskRecord`] in an `Arc`
    /// the first time), so that a chain and the map hold the same one.
    /// `None`: ended.
    fn share(&mut self, id: Id) -> Option<Arc<TaskRecord>> {
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

    /// A live task's scope (if any) and lane; `None`: ended.
    fn counted(&self) -> Option<(Option<&Arc<Scope>>, u8)> {
        match self {
            Slot::Own(r) => Some((r.scope(), r.lane)),
            Slot::Shared(r) => Some((r.scope(), r.lane)),
            Slot::Ended => None,
        }
    }
}

#[derive(Default)]
struct Shard {
    /// Live tasks, direct-mapped by id: ids are handed out in order, so
    /// tasks alive at once rarely share a place, and a spawn or an end
    /// touches one entry, without the map's control bytes.
    ring: [Option<(Id, Slot)>; RING],
    /// Live tasks whose place in `ring` was taken, and ended ones.
    map: HashMap<Id, Slot, BuildHasherDefault<IdHasher>>,
    /// Oldest first; bounded, since blocking tasks end without a spawn hook.
    ended: VecDeque<Id>,
}

const SHARDS: usize = 64;
/// Places in each shard's ring: 64 shards of 16 hold 1024 tasks.
const RING: usize = 16;
const MAX_ENDED: usize = 32;

impl Shard {
    fn place(id: Id) -> usize {
        (id_u64(id) % RING as u64) as usize
    }

    /// Records a live task. Gives the record back when the id ended
    /// already (terminate ran first: the marker is dropped too) or is
    /// recorded already (a wrapper on a runtime whose hooks also fired).
    fn insert(&mut self, id: Id, own: Own) -> Result<(), Own> {
        if !self.map.is_empty() {
            match self.map.get(&id) {
                Some(Slot::Ended) => {
                    self.map.remove(&id);
                    return Err(own);
                }
                Some(_) => return Err(own),
                None => {}
            }
        }
        match &mut self.ring[Self::place(id)] {
            Some((held, _)) if *held == id => Err(own),
            Some(_) => {
                self.map.insert(id, Slot::Own(own));
                Ok(())
            }
            free @ None => {
                *free = Some((id, Slot::Own(own)));
                Ok(())
            }
        }
    }

    /// Takes a live task's slot out (`None`: not recorded, or ended).
    fn remove(&mut self, id: Id) -> Option<Slot> {
        let place = &mut self.ring[Self::place(id)];
        if place.as_ref().is_some_and(|(held, _)| *held == id) {
            return place.take().map(|(_, slot)| slot);
        }
        if self.map.is_empty() {
            return None;
        }
        self.map.remove(&id)
    }

    fn get_mut(&mut self, id: Id) -> Option<&mut Slot> {
        match &mut self.ring[Self::place(id)] {
            Some((held, slot)) if *held == id => Some(slot),
            _ => self.map.get_mut(&id),
        }
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (Id, &mut Slot)> {
        let ring = self.ring.iter_mut().flatten().map(|(id, s)| (*id, s));
        ring.chain(self.map.iter_mut().map(|(id, s)| (*id, s)))
    }
}

#[repr(align(128))] // one shard per cache line pair: no false sharing
struct Padded(Mutex<Shard>);

static REGISTRY: [Padded; SHARDS] = [const {
    Padded(Mutex::new(Shard {
        ring: [const { None }; RING],
        map: HashMap::with_hasher(BuildHasherDefault::new()),
        ended: VecDeque::new(),
    }))
}; SHARDS];

/// Ids are sequential; spread them with a multiplicative mix.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The number inside an id (tokio keeps it private, but hashes it).
pub(crate) fn id_u64(id: Id) -> u64 {
    struct Raw(u64);
    impl Hasher for Raw {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, _: &[u8]) {}
        fn write_u64(&mut self, n: u64) {
            self.0 = n;
        }
    }
    let mut raw = Raw(0);
    std::hash::Hash::hash(&id, &mut raw);
    raw.0
}

/// Runs of [`RING`] consecutive ids share a shard: a batch of spawns (and
/// of ends) keeps one lock and one run of places in cache. Workers
/// spawning at once then meet in a shard more often; with 2 workers that
/// measured no slower than spreading every id.
fn shard(id: Id) -> &'static Mutex<Shard> {
    &REGISTRY[(id_u64(id) / RING as u64) as usize % SHARDS].0
}

/// Records a task at its spawn hook, on the spawning thread.
///
/// The parent is the task running on this thread, if tracked (on a worker
/// thread outside a poll, `try_id()` is the worker's own id, which is not in
/// the registry: no parent). Its scope is the parent's, or else the
/// thread's open scope.
#[cfg_attr(not(taskleak_hooks), allow(dead_code))] // called by the hooks
pub(crate) fn spawned(id: Id, location: &'static Location<'static>, current: Option<Id>) {
    spawned_as(Kind::Task, id, location, current);
}

/// The scope a task spawned now, from this thread, would join: its parent
/// task's (if tracked), or else the thread's open scope.
pub(crate) fn scope_here(current: Option<Id>) -> Option<Arc<Scope>> {
    match current.and_then(parent) {
        Some(p) => p.scope().cloned(),
        None => scope::current(),
    }
}

thread_local! {
    /// Set while taskleak spawns a task of its own (the probe of
    /// [`crate::hooks::first_probe`]): the spawn hook records nothing.
    static OWN_SPAWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, in which taskleak spawns tasks for itself: they are not
/// recorded, so no check ever reports or counts them.
pub(crate) fn unrecorded<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = OWN_SPAWN.try_with(|o| o.set(false));
        }
    }
    let _ = OWN_SPAWN.try_with(|o| o.set(true));
    let _reset = Reset;
    f()
}

thread_local! {
    /// The last parent found on this thread. A task spawning in a loop (an
    /// accept loop, a worker pool) finds itself here without locking a
    /// shard; ids are never reused, so a hit is always the right record.
    static LAST_PARENT: RefCell<Option<Arc<TaskRecord>>> = const { RefCell::new(None) };
}

/// The record of `id`, the task running on this thread.
fn parent(id: Id) -> Option<Arc<TaskRecord>> {
    let cached = LAST_PARENT.try_with(|last| {
        let last = last.borrow();
        last.as_ref().filter(|r| r.id == id).cloned()
    });
    if let Ok(Some(hit)) = cached {
        return Some(hit);
    }
    let found = get(id)?;
    let _ = LAST_PARENT.try_with(|last| *last.borrow_mut() = Some(found.clone()));
    Some(found)
}

pub(crate) fn spawned_as(
    kind: Kind,
    id: Id,
    location: &'static Location<'static>,
    current: Option<Id>,
) {
    if OWN_SPAWN.try_with(|o| o.get()).unwrap_or(false) {
        return;
    }
    let parent = current.and_then(parent);
    let depth = parent.as_ref().map_or(0, |p| p.depth + 1);
    let mut rare = None;
    let up = match parent {
        Some(p) if depth < MAX_CHAIN => Up::Parent(p),
        Some(cut) => {
            rare = Some(Box::new(Rare {
                parent_id: Some(cut.id),
                running: None,
            }));
            cut.scope().cloned().map_or(Up::None, Up::Scope)
        }
        None => match scope::current_unchecked() {
            Some(s) => Up::Scope(s),
            // Inside a task taskleak never saw, on a thread with no scope:
            // a plain `spawn_blocking` closure (its id is the blocking
            // task's). The one test running owns it; with several, the
            // suite gate reports it with their names.
            None if current.is_some() => match scope::sole_open() {
                Ok(s) => Up::Scope(s),
                Err(names) => {
                    if !names.is_empty() {
                        rare = Some(Box::new(Rare {
                            parent_id: None,
                            running: Some(names.into_boxed_slice()),
                        }));
                    }
                    Up::None
                }
            },
            None => Up::None,
        },
    };
    let record = Own {
        location,
        spawned: crate::clock::coarse(),
        frames: Box::default(),
        up,
        rare,
        depth,
        kind,
        lane: scope::lane(),
    };
    let scope = record.scope();
    let frames = crate::walk::capture(scope.is_some_and(|s| s.needs_frames()));
    let record = Own { frames, ..record };
    // Count first: a terminate racing in right after the insert must find
    // the count it decrements.
    if let Some(s) = record.scope() {
        s.enter(record.lane);
    }
    let mut shard = shard(id).lock();
    if let Err(record) = shard.insert(id, record) {
        drop(shard);
        if let Some(s) = record.scope() {
            s.exit(record.lane);
        }
    }
}

/// Forgets a task at its terminate hook.
pub(crate) fn terminated(id: Id) {
    let mut shard = shard(id).lock();
    let Some(slot) = shard.remove(id) else {
        // Terminate before spawn, or a task that never had a spawn hook
        // (blocking tasks). Remember a few, so a late spawn hook for this
        // id is not recorded as a task that never ends.
        shard.map.insert(id, Slot::Ended);
        shard.ended.push_back(id);
        if shard.ended.len() > MAX_ENDED {
            let old = shard.ended.pop_front().expect("non-empty");
            if let Some(Slot::Ended) = shard.map.get(&old) {
                shard.map.remove(&old);
            }
        }
        return;
    };
    // A map that once held a burst (10^5 tasks) keeps its capacity, and a
    // sparse table misses the cache on every spawn after.
    let (len, cap) = (shard.map.len(), shard.map.capacity());
    if cap > 1024 && len * 16 < cap {
        shard.map.shrink_to(len * 4);
    }
    drop(shard);
    if let Some((Some(s), lane)) = slot.counted() {
        s.exit(lane);
    }
}

/// The record of a live task (shared from now on, see [`Slot::share`]).
pub(crate) fn get(id: Id) -> Option<Arc<TaskRecord>> {
    shard(id).lock().get_mut(id)?.share(id)
}

/// The live tasks of `scope` and its nested scopes, in spawn order.
pub(crate) fn survivors(scope: &Arc<Scope>) -> Vec<Arc<TaskRecord>> {
    live_where(|s| s.is_some_and(|s| s.within(scope)))
}

/// Live tasks that no check claimed: outside every scope, or in scopes
/// never checked (the suite gate reports them).
pub(crate) fn unclaimed() -> Vec<Arc<TaskRecord>> {
    live_where(|s| s.is_none_or(|s| !s.claimed()))
}

/// Ids of every live tracked task (for `Options::ignore_current`).
pub(crate) fn live_ids() -> std::collections::HashSet<Id> {
    live_where(|_| true).iter().map(|r| r.id).collect()
}

/// Live tasks whose scope (if any) passes `keep`.
fn live_where(keep: impl Fn(Option<&Arc<Scope>>) -> bool) -> Vec<Arc<TaskRecord>> {
    let mut out = Vec::new();
    for shard in &REGISTRY {
        let mut shard = shard.0.lock();
        out.extend(shard.iter_mut().filter_map(|(id, slot)| {
            let (scope, _) = slot.counted()?;
            keep(scope).then(|| slot.share(id))?
        }));
    }
    out.sort_by_key(|r| id_u64(r.id)); // `Id: Ord` needs tokio 1.48
    out
}

#[cfg(all(test, taskleak_hooks))]
mod tests {
    use super::*;
    use crate::BuilderExt;

    /// More live tasks than the shards' rings hold: the others go to the
    /// maps, and every one is found, counted, and forgotten at its end.
    #[test]
    fn tasks_beyond_the_rings_are_kept_in_the_maps() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .track_tasks()
            .build()
            .unwrap();
        let scope = Scope::open();
        let n = SHARDS * RING * 2;
        let tasks: Vec<_> = (0..n)
            .map(|_| rt.spawn(std::future::pending::<()>()))
            .collect();
        scope.close();
        assert_eq!(scope.alive(), n);
        let found = survivors(&scope);
        assert_eq!(found.len(), n);
        assert!(found.iter().zip(&tasks).all(|(r, t)| r.id == t.id()));
        for t in &tasks {
            t.abort();
        }
        rt.block_on(async {
            for t in tasks {
                let _ = t.await;
            }
        });
        for _ in 0..500 {
            if scope.alive() == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(scope.alive(), 0);
        assert!(survivors(&scope).is_empty());
    }
}
