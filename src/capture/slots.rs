//! Each live task's poll activity (how often and how recently it was
//! polled, and for how long): a fixed table of atomics keyed by task id,
//! written by the poll hooks without a lock.
//!
//! Polls are the hottest path there is, so the counters live here, not in
//! the locked registry, and the clock is the kernel's coarse monotonic one
//! (a few ns to read, a few ms of resolution: enough for "last polled
//! 500ms ago" and "inside one poll for 2s"; polls shorter than its tick add
//! nothing to the time spent in polls). A poll's start costs that read and
//! four relaxed atomic operations; its end, another read and three.
//!
//! A task's slot is found from its id, probing a few neighbours in its
//! block of [`BLOCK`] slots: the terminate hook frees a slot, so a
//! long-lived task keeps its slot while younger ones come and go. Only
//! with more live tasks than a neighbourhood holds does a new task take an
//! older one's slot; the older one then has no activity, and the report
//! says it was lost.
//!
//! A slot is claimed and freed by the registry, under the lock of the
//! registry shard its task's id belongs to: every id whose home slot lies
//! in one block belongs to one shard (see `registry::table`), so a claim is
//! a plain load and store, not a compare-and-swap (two locked
//! read-modify-writes fewer a task; `benches/overhead`, `batch`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::task::Id;

use crate::task::{Activity, id_u64};
use crate::util::clock::coarse as now;

/// Slots in the table (64 bytes each).
pub(crate) const SLOTS: usize = 1 << 14;
/// Consecutive slots a task's probe stays within: the ids whose home slot
/// lies in one block are the ids of one registry shard.
pub(crate) const BLOCK: usize = 16;
/// Slots looked at from a task's home slot, to find a free one or its own.
const PROBE: usize = 8;

const _: () = assert!(SLOTS.is_multiple_of(BLOCK) && PROBE <= BLOCK && 4096 % (BLOCK * 64) == 0);
const _: () = assert!(size_of::<Slot>() == 64);

// Ids are handed out in order, so workers spawning at once get neighbouring
// slots: a line each keeps them from sharing one.
#[repr(align(64))]
struct Slot {
    /// The task holding the slot; 0: free. Written only under the lock of
    /// the task's registry shard.
    id: AtomicU64,
    /// The tag of the runtime it was spawned on.
    runtime: AtomicU64,
    polls: AtomicU64,
    /// [`now`] at the last poll's start; 0: never polled.
    last_poll: AtomicU64,
    /// Clock at the current poll's start; 0: not inside a poll.
    in_poll_since: AtomicU64,
    /// Time inside completed polls, at the coarse clock's resolution.
    busy_ns: AtomicU64,
    /// Written before a claim looks at its block: see [`claim`].
    touch: AtomicU64,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        id: AtomicU64::new(0),
        runtime: AtomicU64::new(0),
        polls: AtomicU64::new(0),
        last_poll: AtomicU64::new(0),
        in_poll_since: AtomicU64::new(0),
        busy_ns: AtomicU64::new(0),
        touch: AtomicU64::new(0),
    }
}; SLOTS];

fn neighbourhood(id: u64) -> impl Iterator<Item = &'static Slot> {
    let home = (id % SLOTS as u64) as usize;
    let block = home - home % BLOCK;
    (0..PROBE).map(move |i| &TABLE[block + (home + i) % BLOCK])
}

/// The slot holding `id`, if it still does.
fn find(id: u64) -> Option<&'static Slot> {
    neighbourhood(id).find(|s| s.id.load(Relaxed) == id)
}

/// Gives `id` a slot, counting polls on the runtime tagged `runtime`.
/// Only under the lock of `id`'s registry shard.
pub(crate) fn claim(id: u64, runtime: u64) {
    // The table is zeroed memory: a page first read is mapped to the
    // kernel's zero page, and the store that follows faults again and
    // flushes every CPU's TLB (`do_wp_page`, measured 10% slower suites in
    // a dev build). Written first, the block's page is mapped once. (A
    // block lies within one page; nothing reads `touch`.)
    TABLE[(id % SLOTS as u64) as usize].touch.store(0, Relaxed);
    let free =
        neighbourhood(id).find(|s| matches!(s.id.load(Relaxed), 0) || s.id.load(Relaxed) == id);
    let s = free.unwrap_or_else(|| {
        // Every neighbour is taken by a live task: the home slot's task
        // loses its activity (the report says so).
        &TABLE[(id % SLOTS as u64) as usize]
    });
    s.id.store(id, Relaxed);
    s.runtime.store(runtime, Relaxed);
    s.polls.store(0, Relaxed);
    s.last_poll.store(0, Relaxed);
    s.in_poll_since.store(0, Relaxed);
    s.busy_ns.store(0, Relaxed);
}

/// Frees `id`'s slot, if it holds one. Only under the lock of `id`'s
/// registry shard.
pub(crate) fn release(id: u64) {
    if let Some(s) = find(id) {
        s.id.store(0, Relaxed);
    }
}

/// A poll of `id` starts at `t`; false when the task has no slot (its
/// spawn hook did not claim one, or a newer task took it).
#[cfg_attr(not(taskleak_hooks), allow(dead_code))] // the poll hooks' and reports'
pub(crate) fn poll_started(id: u64, t: u64) -> bool {
    let Some(s) = find(id) else {
        return false;
    };
    // Load and store, not a locked add: only the thread polling the task
    // writes here between its spawn and its end.
    s.polls.store(s.polls.load(Relaxed) + 1, Relaxed);
    s.last_poll.store(t, Relaxed);
    s.in_poll_since.store(t, Relaxed);
    true
}

/// A poll of `id` ended.
#[cfg_attr(not(taskleak_hooks), allow(dead_code))] // the poll hooks' and reports'
pub(crate) fn poll_ended(id: u64) {
    if let Some(s) = find(id) {
        let start = s.in_poll_since.load(Relaxed);
        s.in_poll_since.store(0, Relaxed);
        let took = now().saturating_sub(start);
        if start != 0 && took != 0 {
            s.busy_ns.fetch_add(took, Relaxed);
        }
    }
}

/// The task's activity, if its slot still belongs to it.
#[cfg_attr(not(taskleak_hooks), allow(dead_code))] // the poll hooks' and reports'
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
#[cfg_attr(not(taskleak_hooks), allow(dead_code))] // the poll hooks' and reports'
pub(crate) fn runtime_tag(id: Id) -> Option<u64> {
    let id = id_u64(id);
    let s = find(id)?;
    let tag = s.runtime.load(Relaxed);
    (s.id.load(Relaxed) == id && tag != 0).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ids far above any a test's runtime hands out, whose home slots are
    // far from those of the few thousand tasks the other unit tests spawn.
    const BASE: u64 = 1 << 40;

    fn slot_of(n: u64) -> Option<usize> {
        find(n).map(|s| (s as *const Slot as usize - TABLE.as_ptr() as usize) / 64)
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
        let n = BASE + 13_000;
        claim(n, 1);
        let first = slot_of(n);
        release(n);
        let next = n + SLOTS as u64;
        claim(next, 1);
        assert_eq!(slot_of(next), first);
        release(next);
    }

    #[test]
    fn a_full_neighbourhood_evicts_the_home_slot() {
        let ids: Vec<u64> = (0..=PROBE as u64)
            .map(|i| BASE + 14_000 + i * SLOTS as u64)
            .collect();
        for &n in &ids {
            claim(n, 1);
        }
        // The last one took the first one's (home) slot.
        assert_eq!(slot_of(ids[0]), None);
        assert!(ids[1..].iter().all(|&n| slot_of(n).is_some()));
        for &n in &ids {
            release(n);
        }
    }

    /// A probe stays in its block: the slots of one block belong to the
    /// ids of one registry shard, whose lock guards their claims.
    #[test]
    fn a_probe_stays_in_its_block() {
        let last_in_block = BASE + 15_000 - 15_000 % BLOCK as u64 + BLOCK as u64 - 1;
        let block = |slot: usize| slot / BLOCK;
        let home = (last_in_block % SLOTS as u64) as usize;
        for i in 0..PROBE as u64 {
            let n = last_in_block + i * SLOTS as u64;
            claim(n, 1);
            assert_eq!(block(slot_of(n).unwrap()), block(home), "id {n}");
        }
        for i in 0..PROBE as u64 {
            release(last_in_block + i * SLOTS as u64);
        }
    }
}
