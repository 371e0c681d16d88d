//! The spawn-site backtrace: return addresses walked at the spawn hook,
//! resolved to symbols only for a report.
//!
//! Three walkers, the cheapest the build allows:
//!
//! - frame pointers (`-C force-frame-pointers=yes` on Linux x86_64, see
//!   `build.rs`): follow the saved-`rbp` chain, ~5 ns a frame;
//! - otherwise on Linux x86_64, `.eh_frame` unwind rules through `framehop`,
//!   with a per-thread rule cache, ~11 ns a frame once warm; a frame walked
//!   before from the same place, over the same stack words, is replayed
//!   from its record instead (`steps`), a few ns;
//! - elsewhere, or where that walk meets code it does not know, the
//!   platform unwinder (`backtrace`), ~135 ns a frame.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

#[cfg(all(
    target_os = "linux",
    target_arch = "x86_64",
    not(taskleak_frame_pointers)
))]
mod eh_frame;
#[cfg(taskleak_frame_pointers)]
mod frame_pointers;
#[cfg(all(
    target_os = "linux",
    target_arch = "x86_64",
    not(taskleak_frame_pointers)
))]
mod steps;
// The stack bounds serve the two Linux x86_64 walkers only.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod stack;

/// Frames walked at a spawn, at most: enough to get through a library's
/// layers (a connection pool reached through a client's) down to the
/// runtime's frames at the bottom of the stack.
pub(crate) const MAX_FRAMES: usize = 192;

/// Of a longer walk, the frames kept: the innermost (the spawn call and the
/// code around it) and the outermost above the stack's end. The user's code
/// that started it all lies just above the runtime's or libtest's own
/// frames at the bottom, so a deep library in between is what is dropped.
const KEEP_INNER: usize = 24;
const KEEP_OUTER: usize = 56;

/// Whether spawn hooks walk the stack (`TASKLEAK_BACKTRACE=short` turns
/// this off and keeps spawn sites and chains only).
pub(crate) static CAPTURE_FRAMES: AtomicBool = AtomicBool::new(true);

/// Whether spawn hooks walk the stack only for spawn sites outside the
/// user's workspace (a dependency spawning for the user), where the spawn
/// site alone does not say where the task came from; a rule that needs
/// frames still gets them everywhere (see [`capture`]'s `force`).
///
/// Off: the report of a task spawned from the workspace then shows no
/// backtrace, which loses the calls that led to a helper's spawn (five of
/// the crate's tests assert those frames). The benchmarks measure it.
pub(crate) static ONLY_OUTSIDE_WORKSPACE: AtomicBool = AtomicBool::new(false);

/// Is `site` in the user's workspace? Remembered for the last site seen
/// on this thread: a spawn loop asks about one site over and over, and
/// the answer needs a string scan.
fn site_in_workspace(site: &'static Location<'static>) -> bool {
    thread_local! {
        static LAST: Cell<(usize, bool)> = const { Cell::new((0, false)) };
    }
    let key = std::ptr::from_ref(site) as usize;
    let known = LAST.try_with(Cell::get).ok().filter(|(k, _)| *k == key);
    if let Some((_, yours)) = known {
        return yours;
    }
    let yours = crate::task::frame::in_workspace(site.file());
    let _ = LAST.try_with(|last| last.set((key, yours)));
    yours
}

/// The return addresses walked at one spawn, innermost first, shared by
/// the tasks spawned from the same stack: a spawn loop walks the same
/// return addresses each time, and one copy of them then serves every
/// task of the batch (an allocation, a copy and a free fewer a task, and
/// less memory per live task). Empty, it holds nothing and costs nothing.
#[derive(Clone, Default)]
pub(crate) struct Stack(Option<Arc<[usize]>>);

impl std::ops::Deref for Stack {
    type Target = [usize];

    fn deref(&self) -> &[usize] {
        self.0.as_deref().unwrap_or(&[])
    }
}

/// Walks at most [`MAX_FRAMES`] frames, innermost first, and keeps the
/// innermost and outermost of them (see [`KEEP_INNER`]); empty when capture
/// is off, or when only spawns outside the workspace are walked and `site`
/// is inside it, unless `force`d (an ignore rule needs the frames).
#[inline(never)]
pub(crate) fn capture(force: bool, site: &'static Location<'static>) -> Stack {
    let only_outside = ONLY_OUTSIDE_WORKSPACE.load(Relaxed);
    if !walks(force, CAPTURE_FRAMES.load(Relaxed), only_outside, || {
        site_in_workspace(site)
    }) {
        return Stack::default();
    }
    thread_local! {
        /// Where a walk writes, so that a spawn does not zero 1.5 KiB of
        /// stack for it.
        static IPS: RefCell<[usize; MAX_FRAMES]> = const { RefCell::new([0; MAX_FRAMES]) };
    }
    let on_stack = || {
        let mut ips = [0usize; MAX_FRAMES];
        let n = walk(&mut ips);
        shared(keep_ends(&mut ips[..n]))
    };
    IPS.try_with(|ips| match ips.try_borrow_mut() {
        Ok(mut ips) => {
            let n = walk(&mut ips);
            shared(keep_ends(&mut ips[..n]))
        }
        Err(_) => on_stack(), // (a walk cannot spawn; never, in practice)
    })
    .unwrap_or_else(|_| on_stack()) // during thread-local teardown
}

/// `kept` as a [`Stack`]: this thread's last one when it holds the same
/// addresses, else a new one, remembered for the next spawn.
fn shared(kept: &[usize]) -> Stack {
    thread_local! {
        static LAST: RefCell<Stack> = RefCell::new(Stack::default());
    }
    if kept.is_empty() {
        return Stack::default();
    }
    let new = || Stack(Some(Arc::from(kept)));
    LAST.try_with(|last| {
        let Ok(mut last) = last.try_borrow_mut() else {
            return new();
        };
        if **last != *kept {
            *last = new();
        }
        last.clone()
    })
    .unwrap_or_else(|_| new()) // during thread-local teardown
}

/// Whether a spawn walks the stack: `force`d by a rule that needs frames,
/// or capture on, and the site outside the workspace if only those are.
fn walks(force: bool, on: bool, only_outside: bool, in_workspace: impl FnOnce() -> bool) -> bool {
    force || (on && !(only_outside && in_workspace()))
}

/// All of `ips` when short enough, else its two ends, moved together.
fn keep_ends(ips: &mut [usize]) -> &[usize] {
    let n = ips.len();
    if n <= KEEP_INNER + KEEP_OUTER {
        return ips;
    }
    ips.copy_within(n - KEEP_OUTER.., KEEP_INNER);
    &ips[..KEEP_INNER + KEEP_OUTER]
}

#[cfg(taskleak_frame_pointers)]
fn walk(ips: &mut [usize; MAX_FRAMES]) -> usize {
    frame_pointers::walk(ips)
}

#[cfg(all(
    target_os = "linux",
    target_arch = "x86_64",
    not(taskleak_frame_pointers)
))]
fn walk(ips: &mut [usize; MAX_FRAMES]) -> usize {
    match eh_frame::walk(ips) {
        Some(n) => n,
        // Code outside the objects loaded at the first walk (a later
        // dlopen): the platform unwinder finds those too.
        None => platform(ips),
    }
}

#[cfg(not(any(
    taskleak_frame_pointers,
    all(target_os = "linux", target_arch = "x86_64")
)))]
fn walk(ips: &mut [usize; MAX_FRAMES]) -> usize {
    platform(ips)
}

/// The platform unwinder, through `backtrace` (the tests compare every
/// walker with it).
#[cfg(any(not(taskleak_frame_pointers), test))]
fn platform(ips: &mut [usize]) -> usize {
    let mut n = 0;
    let mut push = |frame: &backtrace::Frame| {
        if frame.ip().is_null() {
            return false; // libgcc's end-of-stack pseudo-frame
        }
        ips[n] = frame.ip() as usize;
        n += 1;
        n < ips.len()
    };
    // libgcc's unwinder is thread-safe on Linux, so skip backtrace's
    // process-wide lock, which serialises spawns on every worker.
    #[cfg(target_os = "linux")]
    // SAFETY: see above; no other unwinder state is shared.
    unsafe {
        backtrace::trace_unsynchronized(&mut push)
    };
    #[cfg(not(target_os = "linux"))]
    backtrace::trace(&mut push);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// Calls `f` `depth` frames deeper.
    #[inline(never)]
    fn nest(depth: usize, f: &mut dyn FnMut() -> Vec<usize>) -> Vec<usize> {
        if depth == 0 {
            f()
        } else {
            black_box(nest(black_box(depth - 1), f))
        }
    }

    fn names(ip: usize) -> Vec<String> {
        let mut out = Vec::new();
        backtrace::resolve((ip - 1) as *mut std::ffi::c_void, |s| {
            out.push(s.name().map_or("?".into(), |n| format!("{n:#}")));
        });
        out
    }

    /// The walker in use and the platform unwinder agree frame for frame,
    /// from `nest`'s frames down to the end of the walk.
    #[test]
    fn a_deep_walk_keeps_both_ends() {
        let mut ips: Vec<usize> = (1..=150).collect();
        let kept = keep_ends(&mut ips);
        assert_eq!(kept.len(), KEEP_INNER + KEEP_OUTER);
        assert_eq!(kept[0], 1);
        assert_eq!(kept[KEEP_INNER - 1], KEEP_INNER);
        assert_eq!(kept[KEEP_INNER], 150 - KEEP_OUTER + 1);
        assert_eq!(*kept.last().unwrap(), 150);
        let short: Vec<usize> = (1..=10).collect();
        assert_eq!(keep_ends(&mut short.clone()), &short[..]);
    }

    /// A rule's need for frames wins; otherwise capture must be on, and a
    /// spawn site in the workspace is skipped only when asked.
    #[test]
    fn which_spawns_walk_the_stack() {
        let yes = || true;
        let no = || false;
        assert!(walks(true, false, true, yes));
        assert!(walks(true, true, true, yes));
        assert!(!walks(false, false, false, no));
        assert!(walks(false, true, false, yes));
        assert!(!walks(false, true, true, yes));
        assert!(walks(false, true, true, no));
    }

    /// This crate's own sources are a workspace (relative paths), and the
    /// answer is the same when remembered.
    #[test]
    fn a_spawn_site_here_is_in_the_workspace() {
        let site = Location::caller();
        assert!(site_in_workspace(site));
        assert!(site_in_workspace(site));
    }

    /// Consecutive spawns from one stack share its addresses; another
    /// stack gets its own, and nothing is allocated for an empty one.
    #[test]
    fn one_stack_is_shared_by_the_spawns_that_walk_it() {
        let a = shared(&[1, 2, 3]);
        let b = shared(&[1, 2, 3]);
        assert!(Arc::ptr_eq(a.0.as_ref().unwrap(), b.0.as_ref().unwrap()));
        let c = shared(&[1, 2, 4]);
        assert_eq!(&*c, &[1, 2, 4]);
        assert!(!Arc::ptr_eq(a.0.as_ref().unwrap(), c.0.as_ref().unwrap()));
        assert_eq!(&*a, &[1, 2, 3]);
        assert!(shared(&[]).0.is_none());
    }

    /// A spawn 100 calls deep still reaches the frames below the calls.
    #[test]
    fn capture_reaches_below_a_deep_stack() {
        #[inline(never)]
        fn bottom_marker() -> Vec<usize> {
            nest(100, &mut || capture(true, Location::caller()).to_vec())
        }
        let ips = bottom_marker();
        let reached = ips
            .iter()
            .any(|ip| names(*ip).iter().any(|n| n.contains("bottom_marker")));
        assert!(reached, "{} frames", ips.len());
    }

    #[test]
    fn the_walk_matches_the_platform_unwinder() {
        for depth in [3, 12, 40] {
            let mut both = || {
                let mut fast = [0usize; MAX_FRAMES];
                let n = walk(&mut fast);
                let mut slow = vec![0usize; MAX_FRAMES + 8];
                let m = platform(&mut slow);
                slow.truncate(m);
                // Align past the first frame inside `nest`: each walker's
                // own leading frames differ, and so does that frame's call
                // site when this closure is inlined into it.
                let in_nest = |ip: &usize| names(*ip).iter().any(|n| n.contains("nest"));
                let a = 1 + fast[..n]
                    .iter()
                    .position(in_nest)
                    .expect("nest in the walk");
                let b = 1 + slow.iter().position(in_nest).expect("nest in libgcc's");
                let mut len = (n - a).min(slow.len() - b);
                if cfg!(taskleak_frame_pointers) {
                    // std and libtest are built without frame pointers:
                    // only our own frames have a chain to follow.
                    len = len.min(depth);
                }
                assert!(
                    len >= depth.min(MAX_FRAMES - a) - 1,
                    "depth {depth}: {len} common frames"
                );
                assert_eq!(&fast[a..a + len], &slow[b..b + len], "depth {depth}");
                Vec::new()
            };
            nest(depth, &mut both);
        }
    }
}
