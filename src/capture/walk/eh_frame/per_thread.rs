//! Each thread's state for the walk (its rule caches, the steps of its
//! last walk, the module list it uses), and the pool the caches go back
//! to.
//!
//! The unwinder is shared, read-only; each thread has its own rule cache
//! and the steps of its last walk (replayed where the stack is unchanged,
//! see `steps`), so threads never contend. Both go back to a pool when
//! their thread ends: libtest starts a thread per test, and the next
//! test's thread starts warm. They belong to one module list: a thread
//! that finds the list changed starts them afresh.

use std::cell::RefCell;
use std::sync::Arc;

use parking_lot::Mutex;

use framehop::x86_64::CacheX86_64;

use super::super::steps::Trail;
use super::Policy;
use super::modules::{Generation, Shared, enumerate_modules};

/// framehop's rule cache is direct-mapped with 509 slots (addr % 509), so two
/// hot addresses that collide evict each other on every walk and each miss
/// re-parses CFI. Picking one of `WAYS` caches by `(addr / 509) % WAYS` makes
/// that an effectively `509 * WAYS`-slot cache (~128 KiB a thread).
pub(super) const WAYS: usize = 4;
pub(super) const SLOTS: u64 = 509;

/// What makes a thread's walks fast, for the module list of one
/// generation: the rule caches, and the last walk's steps to replay (see
/// [`super::super::steps`]).
pub(super) struct Warm {
    pub(super) generation: Generation,
    pub(super) rules: Box<[CacheX86_64<Policy>; WAYS]>,
    pub(super) trail: Trail,
}

impl Warm {
    pub(super) fn new(generation: Generation) -> Warm {
        Warm {
            generation,
            rules: Box::new(std::array::from_fn(|_| CacheX86_64::new_in())),
            trail: Trail::new(),
        }
    }
}

/// The newest module list; threads keep a clone and compare generations.
static SHARED: Mutex<Option<Arc<Shared>>> = Mutex::new(None);
/// Caches of threads that ended, warm, for the next threads to take.
pub(super) static POOL: Mutex<Vec<Warm>> = Mutex::new(Vec::new());

/// A thread's caches and module list; the caches go back to the pool when
/// the thread ends.
pub(super) struct PerThread {
    pub(super) warm: Option<Warm>,
    pub(super) shared: Option<Arc<Shared>>,
}

impl Drop for PerThread {
    fn drop(&mut self) {
        if let Some(warm) = self.warm.take() {
            POOL.lock().push(warm);
        }
    }
}

thread_local! {
    pub(super) static PER_THREAD: RefCell<PerThread> = const {
        RefCell::new(PerThread { warm: None, shared: None })
    };
}

/// A module list that is current at `now`: this thread's, the newest one,
/// or a new one.
// Called by `walk` at every walk: inlined there, as it was when both
// shared a file (another module is another codegen unit).
#[inline]
pub(super) fn current(state: &mut PerThread, now: Generation) -> Option<Arc<Shared>> {
    if let Some(shared) = &state.shared
        && shared.generation == Some(now)
    {
        return Some(shared.clone());
    }
    let fresh = {
        let mut newest = SHARED.lock();
        match &*newest {
            Some(s) if s.generation == Some(now) => s.clone(),
            _ => {
                let s = Arc::new(enumerate_modules());
                *newest = Some(s.clone());
                s
            }
        }
    };
    // Objects may have changed again while listing: then use none.
    if fresh.generation != Some(now) {
        return None;
    }
    state.shared = Some(fresh.clone());
    Some(fresh)
}
