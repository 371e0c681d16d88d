//! The process-wide registry of live tracked tasks: what the hooks record
//! (`record`), where (`table`), and who reads it.
//!
//! Task ids are unique across every runtime of a process, so one table
//! keyed by id serves them all: 64 locked shards, each a small ring of
//! places indexed by id with a map for what collides. It keeps only what a
//! report may need (symbols are resolved later, and only for survivors),
//! inside the table itself until a child task or a reader shares a record:
//! a task that spawns nothing costs no allocation.

use std::cell::RefCell;
use std::panic::Location;
use std::sync::Arc;

use tokio::task::Id;

use crate::capture::scope::{self, Owner, Scope};
use crate::capture::slots;

mod place;
mod record;
mod table;

pub(crate) use record::{Kind, TaskRecord};
pub(crate) use table::id_u64;

use record::{Own, Up};
use table::{REGISTRY, shard};

/// Chains longer than this are cut, so a task that respawns itself forever
/// does not keep every ancestor's record alive.
pub(crate) const MAX_CHAIN: u32 = 64;

/// Records a task at its spawn hook, on the spawning thread, where
/// [`place`](place::place) puts it; `owner`: the scope its runtime was
/// built in.
#[cfg_attr(not(taskleak_hooks), allow(dead_code))] // called by the hooks
pub(crate) fn spawned(
    id: Id,
    location: &'static Location<'static>,
    current: Option<Id>,
    owner: Option<&Owner>,
    runtime: u64,
) {
    record(Kind::Task, id, location, current, owner, Some(runtime));
}

/// The scope a task spawned now, from this thread, would join (see
/// [`place`](place::place)).
pub(crate) fn scope_here(current: Option<Id>) -> Option<Arc<Scope>> {
    let placed = place::place(current, None);
    match placed.up {
        Up::None => None,
        Up::Parent(p) => p.scope().cloned(),
        Up::Scope(s) => Some(s),
        Up::Adrift(a) => a.1,
    }
}

thread_local! {
    /// Set while taskleak spawns a task of its own (the probe of
    /// [`crate::capture::hooks::first_probe`]): the spawn hook records nothing.
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

/// Records a task that a wrapper spawned (`spawn_blocking`,
/// `spawn_local`): no runtime's hooks count its polls.
pub(crate) fn spawned_as(
    kind: Kind,
    id: Id,
    location: &'static Location<'static>,
    current: Option<Id>,
    owner: Option<&Owner>,
) {
    record(kind, id, location, current, owner, None);
}

/// Records a task; `runtime`: the tag of the runtime whose poll hooks
/// count its polls, which get a slot (see [`crate::capture::slots`]).
fn record(
    kind: Kind,
    id: Id,
    location: &'static Location<'static>,
    current: Option<Id>,
    owner: Option<&Owner>,
    runtime: Option<u64>,
) {
    if OWN_SPAWN.try_with(|o| o.get()).unwrap_or(false) {
        return;
    }
    let place::Placed { up, rare, depth } = place::place(current, owner);
    let record = Own {
        location,
        spawned: crate::util::clock::coarse(),
        frames: Default::default(),
        up,
        rare,
        depth,
        kind,
        lane: scope::lane(),
    };
    let scope = record.scope();
    let frames = crate::capture::walk::capture(scope.is_some_and(|s| s.needs_frames()), location);
    let record = Own { frames, ..record };
    // Count first: a terminate racing in right after the insert must find
    // the count it decrements.
    if let Some(s) = record.scope() {
        s.enter(record.lane);
    }
    let mut shard = shard(id).lock();
    match shard.insert(id, record) {
        // Under the shard's lock, which guards the slot's block.
        Ok(()) => {
            if let Some(tag) = runtime {
                slots::claim(id_u64(id), tag);
            }
        }
        Err(record) => {
            drop(shard);
            if let Some(s) = record.scope() {
                s.exit(record.lane);
            }
        }
    }
}

/// Forgets a task at its terminate hook.
pub(crate) fn terminated(id: Id) {
    let mut shard = shard(id).lock();
    let Some(slot) = shard.end(id) else {
        return;
    };
    slots::release(id_u64(id)); // under the lock, as it was claimed
    drop(shard);
    if let Some((Some(s), lane)) = slot.counted() {
        s.exit(lane);
    }
}

/// The record of a live task (shared from now on, see [`record::Slot::share`]).
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

/// Live tracked tasks per spawn site, whatever their scope: one pass over
/// the table, each shard locked in turn, counting by the address of the
/// site (sites equal by value but at two addresses are merged after), so
/// a sample costs a few ns a task and allocates only per site.
pub(crate) fn per_site() -> Vec<(&'static Location<'static>, usize)> {
    let mut by_address: std::collections::HashMap<usize, (&'static Location<'static>, usize)> =
        std::collections::HashMap::new();
    for shard in &REGISTRY {
        let mut shard = shard.0.lock();
        for (_, slot) in shard.iter_mut() {
            if let Some(at) = slot.location() {
                let address = std::ptr::from_ref(at) as usize;
                by_address.entry(address).or_insert((at, 0)).1 += 1;
            }
        }
    }
    let mut out: Vec<(&'static Location<'static>, usize)> = Vec::new();
    for (at, n) in by_address.into_values() {
        match out.iter_mut().find(|(o, _)| *o == at) {
            Some(o) => o.1 += n,
            None => out.push((at, n)),
        }
    }
    out
}

/// The `n` newest live tasks spawned at `site` (highest ids), oldest first.
pub(crate) fn newest_at(site: &Location<'_>, n: usize) -> Vec<Arc<TaskRecord>> {
    let mut ids: Vec<Id> = Vec::new();
    for shard in &REGISTRY {
        let mut shard = shard.0.lock();
        ids.extend(
            shard
                .iter_mut()
                .filter(|(_, slot)| slot.location().is_some_and(|at| at == site))
                .map(|(id, _)| id),
        );
    }
    ids.sort_by_key(|id| id_u64(*id));
    let from = ids.len().saturating_sub(n);
    ids[from..].iter().filter_map(|id| get(*id)).collect()
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
    use super::table::{RING, SHARDS};
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
