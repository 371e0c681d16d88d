//! Poll activity per task: how often and how recently it was polled, and
//! for how long.
//!
//! Polls are the hottest path there is, so the counters live in a fixed
//! table of atomics indexed by task id, not in the locked registry, and the
//! clock is the kernel's coarse monotonic one (a few ns to read, a few ms
//! of resolution: enough for "last polled 500ms ago" and "inside one poll
//! for 2s"; polls shorter than its tick add nothing to the time spent in
//! polls). A poll's start costs that read and three relaxed atomic
//! operations; its end, another read and two. Two live tasks whose ids collide share a slot; the older
//! one then reads as "unknown" rather than with wrong numbers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::task::Id;

use crate::registry::id_u64;
use crate::task::Activity;

const SLOTS: usize = 1 << 14;

// Ids are handed out in order, so workers spawning at once get neighbouring
// slots: a line each keeps them from sharing one.
#[repr(align(64))]
struct Slot {
    id: AtomicU64,
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
        polls: AtomicU64::new(0),
        last_poll: AtomicU64::new(0),
        in_poll_since: AtomicU64::new(0),
        busy_ns: AtomicU64::new(0),
    }
}; SLOTS];

use crate::clock::coarse as now;

fn slot(id: u64) -> &'static Slot {
    &TABLE[(id as usize) % SLOTS]
}

pub(crate) fn spawned(id: Id) {
    let id = id_u64(id);
    let s = slot(id);
    s.id.store(0, Relaxed);
    s.polls.store(0, Relaxed);
    s.last_poll.store(0, Relaxed);
    s.in_poll_since.store(0, Relaxed);
    s.busy_ns.store(0, Relaxed);
    s.id.store(id, Relaxed);
}

pub(crate) fn before_poll(id: Id) {
    let id = id_u64(id);
    let s = slot(id);
    if s.id.load(Relaxed) == id {
        let t = now();
        s.polls.fetch_add(1, Relaxed);
        s.last_poll.store(t, Relaxed);
        s.in_poll_since.store(t, Relaxed);
    }
}

pub(crate) fn after_poll(id: Id) {
    let id = id_u64(id);
    let s = slot(id);
    if s.id.load(Relaxed) == id {
        let start = s.in_poll_since.swap(0, Relaxed);
        let took = now().saturating_sub(start);
        if start != 0 && took != 0 {
            s.busy_ns.fetch_add(took, Relaxed);
        }
    }
}

/// The task's activity, if its slot still belongs to it.
pub(crate) fn get(id: Id) -> Option<Activity> {
    let id = id_u64(id);
    let s = slot(id);
    // The coarse clock here too: "inside one poll for" and "last polled"
    // compare two readings of it, and a precise `now` would add the coarse
    // clock's lag (up to a tick or more) to every short poll.
    let now = now();
    let ago = |t: u64| crate::clock::since(now, t);
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
