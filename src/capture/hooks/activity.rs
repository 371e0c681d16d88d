//! Poll activity per task (how often and how recently it was polled, and
//! for how long), and per worker thread (which task it is polling now).
//!
//! Polls are the hottest path there is, so the counters live in a fixed
//! table of atomics, not in the locked registry, and the clock is the
//! kernel's coarse monotonic one (a few ns to read, a few ms of resolution:
//! enough for "last polled 500ms ago" and "inside one poll for 2s"; polls
//! shorter than its tick add nothing to the time spent in polls). A poll's
//! start costs that read and four relaxed atomic operations; its end,
//! another read and three.
//!
//! A task's slot is found from its id, probing a few neighbours: the
//! terminate hook frees a slot, so a long-lived task keeps its slot while
//! younger ones come and go. Only with more live tasks than a neighbourhood
//! holds does a new task take an older one's slot; the older one then has
//! no activity, and the report says it was lost.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::task::Id;

use crate::capture::registry::id_u64;
use crate::task::Activity;

/// Slots in the table (64 bytes each).
pub(crate) const SLOTS: usize = 1 << 14;
/// Slots looked at from a task's home slot, to find a free one or its own.
const PROBE: usize = 8;

// Ids are handed out in order, so workers spawning at once get neighbouring
// slots: a line each keeps them from sharing one.
#[repr(align(64))]
struct Slot {
    /// The task holding the slot; 0: free.
    id: AtomicU64,
    /// The tag of the runtime it was spawned on (see [`new_tag`]).
    runtime: AtomicU64,
    polls: AtomicU64,
    /// [`now`] at the last poll's start; 0: never polled.
    last_poll: AtomicU64,
    /// Clock at the current poll's start; 0: not inside a poll.
    in_poll_since: AtomicU64,
    /// Time inside completed polls, at the coarse clock's resolution.
    busy_ns: AtomicU64,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        id: AtomicU64::new(0),
        runtime: AtomicU64::new(0),
        polls: AtomicU64::new(0),
        last_poll: AtomicU64::new(0),
        in_poll_since: AtomicU64::new(0),
        busy_ns: AtomicU64::new(0),
    }
}; SLOTS];

use crate::util::clock::coarse as now;

fn neighbourhood(id: u64) -> impl Iterator<Item = &'static Slot> {
    let home = (id % SLOTS as u64) as usize;
    (0..PROBE).map(move |i| &TABLE[(home + i) % SLOTS])
}

/// The slot holding `id`, if it still does.
fn find(id: u64) -> Option<&'static Slot> {
    neighbourhood(id).find(|s| s.id.load(Relaxed) == id)
}

/// A tag for one runtime's hooks: tokio gives a spawn hook no runtime, so
/// each builder's hooks carry their own tag.
pub(crate) fn new_tag() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Relaxed)
}

pub(crate) fn spawned(id: Id, runtime: u64) {
    claim(id_u64(id), runtime);
}

fn claim(id: u64, runtime: u64) {
    let free = neighbourhood(id).find(|s| {
        s.id.compare_exchange(0, id, Relaxed, Relaxed).is_ok() || s.id.load(Relaxed) == id
    });
    let s = free.unwrap_or_else(|| {
        // Every neighbour is taken by a live task: the home slot's task
        // loses its activity (the report says so).
        let home = &TABLE[(id % SLOTS as u64) as usize];
        home.id.store(id, Relaxed);
        home
    });
    s.runtime.store(runtime, Relaxed);
    s.polls.store(0, Relaxed);
    s.last_poll.store(0, Relaxed);
    s.in_poll_since.store(0, Relaxed);
    s.busy_ns.store(0, Relaxed);
}

pub(crate) fn terminated(id: Id) {
    release(id_u64(id));
}

fn release(id: u64) {
    if let Some(s) = find(id) {
        let _ = s.id.compare_exchange(id, 0, Relaxed, Relaxed);
    }
}

/// A poll starts; false when the task has no slot (its spawn hook did not
/// claim one, or a newer task took it).
pub(crate) fn before_poll(id: Id, runtime: u64) -> bool {
    let id = id_u64(id);
    let t = now();
    let found = find(id);
    if let Some(s) = found {
        // Load and store, not a locked add: only the thread polling the
        // task writes here between its spawn and its end.
        s.polls.store(s.polls.load(Relaxed) + 1, Relaxed);
        s.last_poll.store(t, Relaxed);
        s.in_poll_since.store(t, Relaxed);
    }
    if !on_worker_of(runtime) {
        return found.is_some();
    }
    let _ = ME.try_with(|me| {
        if let Some(w) = me.borrow().as_ref().filter(|w| w.tag == runtime) {
            w.task.store(id, Relaxed);
            w.in_poll_since.store(t, Relaxed);
        }
    });
    found.is_some()
}

pub(crate) fn after_poll(id: Id, runtime: u64) {
    let id = id_u64(id);
    if let Some(s) = find(id) {
        let start = s.in_poll_since.load(Relaxed);
        s.in_poll_since.store(0, Relaxed);
        let took = now().saturating_sub(start);
        if start != 0 && took != 0 {
            s.busy_ns.fetch_add(took, Relaxed);
        }
    }
    if !on_worker_of(runtime) {
        return;
    }
    let _ = ME.try_with(|me| {
        if let Some(w) = me.borrow().as_ref().filter(|w| w.tag == runtime) {
            w.in_poll_since.store(0, Relaxed);
        }
    });
}

/// The task's activity, if its slot still belongs to it.
pub(crate) fn get(id: Id) -> Option<Activity> {
    let id = id_u64(id);
    let s = find(id)?;
    // The coarse clock here too: "inside one poll for" and "last polled"
    // compare two readings of it, and a precise `now` would add the coarse
    // clock's lag (up to a tick or more) to every short poll.
    let now = now();
    let ago = |t: u64| crate::util::clock::since(now, t);
    let activity = Activity {
        polls: s.polls.load(Relaxed),
        last_poll_ago: match s.last_poll.load(Relaxed) {
            0 => None,
            t => Some(ago(t)),
        },
        in_poll_for: match s.in_poll_since.load(Relaxed) {
            0 => None,
            t => Some(ago(t)),
        },
        busy: Duration::from_nanos(s.busy_ns.load(Relaxed)),
        age: Duration::ZERO, // the report fills it in
    };
    (s.id.load(Relaxed) == id).then_some(activity)
}

/// The tag of the runtime the task was spawned on, if its slot is still its.
pub(crate) fn runtime_tag(id: Id) -> Option<u64> {
    let id = id_u64(id);
    let s = find(id)?;
    let tag = s.runtime.load(Relaxed);
    (s.id.load(Relaxed) == id && tag != 0).then_some(tag)
}

// ------------------------------------------------------------ worker threads

/// A thread of a tracked runtime (a worker, or a blocking-pool thread):
/// which task it is polling, so that a task dump, which must wait for every
/// worker, is not started while one is stuck inside a poll.
#[cfg_attr(not(taskleak_taskdump), allow(dead_code))] // read by task dumps
pub(crate) struct Worker {
    tag: u64,
    handle: Handle,
    name: String,
    /// The task being polled (valid while `in_poll_since` is not 0).
    task: AtomicU64,
    in_poll_since: AtomicU64,
}

static WORKERS: Mutex<Vec<Arc<Worker>>> = Mutex::new(Vec::new());

thread_local! {
    static ME: RefCell<Option<Arc<Worker>>> = const { RefCell::new(None) };
    /// `ME`'s runtime tag (0: none), read by every poll: a plain value, so
    /// that a thread that is no runtime's (a `block_on` caller) skips the
    /// `RefCell` and its destructor's registration check.
    static MY_TAG: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn on_worker_of(runtime: u64) -> bool {
    MY_TAG.try_with(|t| t.get() == runtime).unwrap_or(false)
}

/// Called on each new thread of the runtime tagged `tag` (tokio enters the
/// runtime's context before its thread-start hook).
pub(crate) fn thread_started(tag: u64) {
    let Ok(handle) = Handle::try_current() else {
        return;
    };
    let me = Arc::new(Worker {
        tag,
        handle,
        name: std::thread::current().name().unwrap_or("?").to_owned(),
        task: AtomicU64::new(0),
        in_poll_since: AtomicU64::new(0),
    });
    WORKERS.lock().push(me.clone());
    let _ = ME.try_with(|slot| *slot.borrow_mut() = Some(me));
    let _ = MY_TAG.try_with(|t| t.set(tag));
}

pub(crate) fn thread_stopped() {
    let _ = MY_TAG.try_with(|t| t.set(0));
    if let Ok(Some(me)) = ME.try_with(|slot| slot.borrow_mut().take()) {
        WORKERS.lock().retain(|w| !Arc::ptr_eq(w, &me));
    }
}

/// A handle to the runtime tagged `tag`, when it has threads (a
/// multi-thread runtime always does; a current-thread one only while its
/// blocking pool has).
pub(crate) fn handle_of(tag: u64) -> Option<Handle> {
    WORKERS
        .lock()
        .iter()
        .find(|w| w.tag == tag)
        .map(|w| w.handle.clone())
}

/// A handle to each tracked runtime with threads (one per runtime).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))] // growth's figures
pub(crate) fn runtimes() -> Vec<Handle> {
    let mut out: Vec<(u64, Handle)> = Vec::new();
    for w in WORKERS.lock().iter() {
        if !out.iter().any(|(tag, _)| *tag == w.tag) {
            out.push((w.tag, w.handle.clone()));
        }
    }
    out.into_iter().map(|(_, h)| h).collect()
}

/// A thread of `runtime` inside one poll for longer than `longer_than`:
/// its name, the task and for how long.
#[cfg_attr(not(taskleak_taskdump), allow(dead_code))] // read by task dumps
pub(crate) fn long_poll(
    runtime: tokio::runtime::Id,
    longer_than: Duration,
) -> Option<(String, u64, Duration)> {
    let now = now();
    WORKERS
        .lock()
        .iter()
        .filter(|w| w.handle.id() == runtime)
        .find_map(|w| {
            let since = w.in_poll_since.load(Relaxed);
            let task = w.task.load(Relaxed);
            let took = crate::util::clock::since(now, since);
            (since != 0 && took > longer_than).then(|| (w.name.clone(), task, took))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ids far above any a test's runtime hands out, whose home slots are
    // far from those of the few thousand tasks the other unit tests spawn.
    const BASE: u64 = 1 << 40;

    fn slot_of(id: u64) -> Option<usize> {
        find(id).map(|s| (s as *const Slot as usize - TABLE.as_ptr() as usize) / 64)
    }

    #[test]
    fn ids_that_share_a_home_slot_each_keep_one() {
        let (a, b) = (BASE + 12_000, BASE + 12_000 + SLOTS as u64);
        claim(a, 1);
        claim(b, 1);
        assert!(slot_of(a).is_some() && slot_of(b).is_some());
        assert_ne!(slot_of(a), slot_of(b));
        release(a);
        release(b);
        assert_eq!(slot_of(a), None);
    }

    #[test]
    fn a_freed_slot_is_taken_again() {
        let id = BASE + 13_000;
        claim(id, 1);
        let first = slot_of(id);
        release(id);
        let next = id + SLOTS as u64;
        claim(next, 1);
        assert_eq!(slot_of(next), first);
        release(next);
    }

    #[test]
    fn a_full_neighbourhood_evicts_the_home_slot() {
        let ids: Vec<u64> = (0..=PROBE as u64)
            .map(|i| BASE + 14_000 + i * SLOTS as u64)
            .collect();
        for &id in &ids {
            claim(id, 1);
        }
        // The last one took the first one's (home) slot.
        assert_eq!(slot_of(ids[0]), None);
        assert!(ids[1..].iter().all(|&id| slot_of(id).is_some()));
        for &id in &ids {
            release(id);
        }
    }
}
