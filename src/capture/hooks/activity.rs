//! Poll activity per worker thread (which task it is polling now), and
//! the poll hooks' bookkeeping: each task's own counters are in
//! [`crate::capture::slots`].

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::task::Id;

use crate::capture::registry::id_u64;
use crate::capture::slots;
pub(crate) use crate::capture::slots::{get, runtime_tag};

use crate::util::clock::coarse as now;

/// A tag for one runtime's hooks: tokio gives a spawn hook no runtime, so
/// each builder's hooks carry their own tag.
pub(crate) fn new_tag() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Relaxed)
}

/// A poll starts; false when the task has no slot (its spawn hook did not
/// claim one, or a newer task took it).
pub(crate) fn before_poll(id: Id, runtime: u64) -> bool {
    let id = id_u64(id);
    let t = now();
    let found = slots::poll_started(id, t);
    if !on_worker_of(runtime) {
        return found;
    }
    let _ = ME.try_with(|me| {
        if let Some(w) = me.borrow().as_ref().filter(|w| w.tag == runtime) {
            w.task.store(id, Relaxed);
            w.in_poll_since.store(t, Relaxed);
        }
    });
    found
}

pub(crate) fn after_poll(id: Id, runtime: u64) {
    slots::poll_ended(id_u64(id));
    if !on_worker_of(runtime) {
        return;
    }
    let _ = ME.try_with(|me| {
        if let Some(w) = me.borrow().as_ref().filter(|w| w.tag == runtime) {
            w.in_poll_since.store(0, Relaxed);
        }
    });
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
