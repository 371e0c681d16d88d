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

use super::super::steps::{Reads, Trail};
use super::Policy;
use super::modules::{Generation, Shared, enumerate_modules};

/// framehop's rule cache is direct-mapped with 509 slots (addr % 509), so two
/// hot addresses that collide evict each other on every walk and each miss
/// re-parses CFI. Picking one of `WAYS` caches by `(addr / 509) % WAYS` makes
/// that an effectively `509 * WAYS`-slot cache (~128 KiB a thread).
pub(super) const WAYS: usize = 4;
pub(super) const SLOTS: u64 = 509;

/// What makes a thread's walks fast, for the module list of one
/// generation: the rule caches, the last walk's steps to replay (see
/// [`super::super::steps`]), and the stacks met so far.
pub(super) struct Warm {
    pub(super) generation: Generation,
    pub(super) rules: Rules,
    pub(super) trail: Trail,
    pub(super) sightings: Sightings,
    /// The words the step being walked reads: kept here, not made afresh
    /// on the stack at every walk, whose copy of a new one into place
    /// stalled on its own stores (`perf annotate`).
    pub(super) reads: Reads,
}

impl Warm {
    pub(super) fn new(generation: Generation) -> Warm {
        Warm {
            generation,
            rules: Rules(None),
            trail: Trail::new(),
            sightings: Sightings::default(),
            reads: Reads::default(),
        }
    }
}

/// framehop's rule caches, made at the first rule parsed: ~100 KiB of
/// fresh memory, whose page faults alone took 0.1-0.25 ms here, in every
/// process (see [`Sightings`]).
pub(super) struct Rules(Option<Box<[CacheX86_64<Policy>; WAYS]>>);

impl Rules {
    /// The rule cache for the frame at `lookup`.
    pub(super) fn of(&mut self, lookup: u64) -> &mut CacheX86_64<Policy> {
        let rules = self
            .0
            .get_or_insert_with(|| Box::new(std::array::from_fn(|_| CacheX86_64::new_in())));
        &mut rules[((lookup / SLOTS) % WAYS as u64) as usize]
    }
}

/// The frames whose unwind rules this thread may parse: those of the
/// stacks the platform unwinder (libgcc, optimised C) walked for it once.
///
/// Parsing a rule costs ~1.6 µs a frame in an optimised build and ~10 µs
/// in a dev build (framehop and gimli unoptimised, with the page faults of
/// reading `.eh_frame` the first time), and pays off only when the frame
/// is walked again: a replayed frame then costs a few ns, against ~0.13 µs
/// a frame for libgcc every time. Most stacks a test suite spawns from are
/// walked once, and under nextest every test is a new process whose first
/// walk parsed every frame of its stack. So a stack's first walk goes to
/// libgcc, and from its second on (a loop) its rules are parsed and its
/// walks replayed. (Waiting for a fourth walk instead cost a suite of
/// 50-spawn tests 11% in a dev build: a loop pays each libgcc walk.)
///
/// Four ways a set, the entry of a set met longest ago making way for a
/// new one: a frame met moves to the front, so the frames every stack
/// shares (the runtime's, libtest's) are the last to go. (Not a count a
/// frame in a direct-mapped table: two frames of one stack that share a
/// place would reset each other at every walk, and a 60-frame stack has
/// such a pair more often than not.)
pub(super) struct Sightings {
    frames: Box<[[u64; WAYS_A_SET]; SETS]>,
}

const SETS: usize = 256;
const WAYS_A_SET: usize = 4;

impl Default for Sightings {
    fn default() -> Self {
        Sightings {
            frames: Box::new([[0; WAYS_A_SET]; SETS]),
        }
    }
}

impl Sightings {
    fn set(addr: u64) -> usize {
        (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % SETS
    }

    /// Whether the rule of the frame at `addr` may be parsed; a frame
    /// found moves to the front of its set.
    #[inline]
    pub(super) fn parse(&mut self, addr: u64) -> bool {
        #[cfg(test)]
        if EAGER.get() {
            return true;
        }
        let ways = &mut self.frames[Self::set(addr)];
        let mut w = 0;
        while w < WAYS_A_SET {
            if ways[w] == addr {
                if w > 0 {
                    ways.copy_within(..w, 1);
                    ways[0] = addr;
                }
                return true;
            }
            w += 1;
        }
        false
    }

    /// libgcc walked a stack whose frames have these lookup addresses:
    /// their rules may be parsed from the next walk on.
    pub(super) fn saw(&mut self, frames: impl Iterator<Item = u64>) {
        for addr in frames {
            if !self.parse(addr) {
                let ways = &mut self.frames[Self::set(addr)];
                ways.copy_within(..WAYS_A_SET - 1, 1);
                ways[0] = addr;
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    static EAGER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Parses every frame's rule at once on this thread (for tests of the
/// walk through unwind rules itself).
#[cfg(test)]
pub(super) fn parse_at_once() {
    EAGER.set(true);
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

/// Makes a thread's module list `list` one that is current at `now` (its
/// own, the newest one, or a new one); false when none is.
///
/// It leaves the list in place rather than handing out a clone: a clone
/// is a locked add and a locked subtract on the list's count at every walk
/// (~13 ns a spawn, measured with `perf annotate`).
// Called by `walk` at every walk: inlined there, as it was when both
// shared a file (another module is another codegen unit).
#[inline]
pub(super) fn make_current(list: &mut Option<Arc<Shared>>, now: Generation) -> bool {
    if let Some(shared) = list.as_ref()
        && shared.generation == Some(now)
    {
        return true;
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
        return false;
    }
    *list = Some(fresh);
    true
}
