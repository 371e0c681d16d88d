//! The unwind-table walk: each frame's `.eh_frame` rule (DWARF CFI, in
//! every normal build) applied by `framehop`, without the platform
//! unwinder's per-frame lookup and interpretation.
//!
//! - The loaded objects, and the loader's counters that date their list:
//!   `modules`.
//! - Each thread's rule caches and last walk, and their pool: `per_thread`.
//! - Every stack read is checked against this thread's stack, so a bad rule
//!   ends the walk instead of faulting.

mod modules;
mod per_thread;

use framehop::x86_64::UnwindRegsX86_64;
use framehop::{FrameAddress, MustNotAllocateDuringUnwind, Unwinder};

use super::steps::{ReadStack, State, Then};
use modules::Shared;
use modules::generation;
use per_thread::{PER_THREAD, POOL, PerThread, Warm, make_current};

type Policy = MustNotAllocateDuringUnwind;

/// Fills `ips` with the return addresses of the calling stack, innermost
/// first (`ips[0]` returns into `walk`'s caller), and returns how many.
///
/// Stops at the end of the stack, at an unwind error, or when `ips` is
/// full. `None`: the walk met code outside the objects with a CFI index,
/// or cannot run here (off the thread's normal stack, reentrant, during
/// thread-local teardown, or while objects are being loaded or unloaded);
/// the caller asks the platform unwinder.
/// (Where a known object's rule cannot be parsed, framehop steps by frame
/// pointer instead; reads stay in bounds, so at worst a few frames are
/// junk.)
#[inline(never)]
pub(super) fn walk(ips: &mut [usize]) -> Option<usize> {
    let (pc, sp, bp): (u64, u64, u64);
    // SAFETY: only copies rip/rsp/rbp into output registers; touches no
    // memory, stack or flags. All three are read at one point so they
    // describe the same frame state for the CFI row of `pc`.
    unsafe {
        std::arch::asm!(
            "lea {pc}, [rip]",
            "mov {sp}, rsp",
            "mov {bp}, rbp",
            pc = out(reg) pc,
            sp = out(reg) sp,
            bp = out(reg) bp,
            options(nomem, nostack, preserves_flags),
        );
    }
    if ips.is_empty() {
        return Some(0);
    }
    let (stack_lo, stack_hi) = super::stack::bounds()?;
    let (stack_lo, stack_hi) = (stack_lo as u64, stack_hi as u64);
    if sp < stack_lo || sp >= stack_hi {
        return None;
    }
    let now = generation()?;
    PER_THREAD
        .try_with(|cell| {
            let mut state = cell.try_borrow_mut().ok()?;
            let PerThread { warm, shared } = &mut *state;
            let warm =
                warm.get_or_insert_with(|| POOL.lock().pop().unwrap_or_else(|| Warm::new(now)));
            if warm.generation != now {
                // Rules and steps of the old list may describe other code now.
                *warm = Warm::new(now);
            }
            let start = Start {
                pc,
                sp,
                bp,
                hi: stack_hi - 8,
            };
            // The module list is needed only to parse a rule: a thread
            // whose walks all replay or go to libgcc never lists them.
            let mut listed = shared.as_ref().is_some_and(|s| s.generation == Some(now));
            loop {
                let modules = shared.as_deref().filter(|_| listed);
                match steps(warm, modules, start, ips) {
                    Steps::Walked(n) => return Some(n),
                    Steps::NeedModules if !listed => {
                        if !make_current(shared, now) {
                            return None;
                        }
                        listed = true;
                    }
                    Steps::NeedModules | Steps::Unknown => return None,
                    Steps::Cold => {
                        #[cfg(test)]
                        COLD_WALKS.set(COLD_WALKS.get() + 1);
                        let n = libgcc_above(sp, ips);
                        let frames = ips[..n].iter().map(|&ip| ip as u64 - 1);
                        warm.sightings.saw(std::iter::once(pc).chain(frames));
                        return Some(n);
                    }
                }
            }
        })
        .ok()
        .flatten()
}

#[cfg(test)]
thread_local! {
    /// Walks this thread left to libgcc at a cold frame.
    static COLD_WALKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Where a walk starts: `walk`'s own registers, and the top of the stack.
#[derive(Clone, Copy)]
struct Start {
    pc: u64,
    sp: u64,
    bp: u64,
    /// The highest stack address a read may touch.
    hi: u64,
}

/// Reads of this thread's stack from `lo` (the walk's sp) to `hi` (8
/// below its top), refused elsewhere.
struct Bounded {
    lo: u64,
    hi: u64,
}

impl ReadStack for Bounded {
    #[inline(always)]
    fn read(&mut self, addr: u64) -> Result<u64, ()> {
        // Saved slots are 8-aligned on x86_64; refusing odd ones
        // keeps this a plain load.
        if addr < self.lo || addr > self.hi || addr & 7 != 0 {
            return Err(());
        }
        // SAFETY: [lo, hi + 8) lies within this thread's mapped
        // stack (pthread_getattr_np range, above the live sp), and
        // addr is aligned.
        Ok(unsafe { *(addr as *const u64) })
    }
}

/// How a walk through unwind rules ended.
enum Steps {
    /// This many return addresses.
    Walked(usize),
    /// At a frame of a stack not walked before (see
    /// [`per_thread::Sightings`]): libgcc walks this stack.
    Cold,
    /// At a rule to parse, without the module list (given the list, the
    /// walk is made again: once a process and module list).
    NeedModules,
    /// At code outside the objects with a CFI index.
    Unknown,
}

/// The walk through unwind rules, replaying the last walk's steps where
/// they read the same (see `steps`).
#[inline(always)]
fn steps(warm: &mut Warm, modules: Option<&Shared>, start: Start, ips: &mut [usize]) -> Steps {
    // Frames live above the current sp; nothing below it is needed.
    let mut read_stack = Bounded {
        lo: start.sp,
        hi: start.hi,
    };
    let mut regs = UnwindRegsX86_64::new(start.pc, start.sp, start.bp);
    let mut frame = FrameAddress::from_instruction_pointer(start.pc);
    let mut n = 0;
    // Last executable range hit: most frames share one object, so
    // this skips the search.
    let (mut r_lo, mut r_hi) = (1, 0);
    // Registers other than ip/sp/bp are all zero (see `steps`).
    let mut plain = true;
    let Warm {
        rules,
        trail,
        sightings,
        reads,
        ..
    } = warm;
    trail.start();
    let ended = loop {
        let from = State {
            ip: regs.ip(),
            first: !frame.is_return_address(),
            sp: regs.sp(),
            bp: regs.bp(),
        };
        if plain && let Some(run) = trail.replay(from, &mut read_stack, &mut ips[n..]) {
            n += run.ips;
            let to = match run.then {
                Then::At(to) => to,
                Then::End => break Steps::Walked(n),
            };
            // The other registers are zero (`plain`).
            regs.set_ip(to.ip);
            regs.set_sp(to.sp);
            regs.set_bp(to.bp);
            match FrameAddress::from_return_address(to.ip) {
                Some(next) if n < ips.len() => frame = next,
                _ => break Steps::Walked(n),
            }
            continue;
        }
        let lookup = frame.address_for_lookup();
        if !sightings.parse(lookup) {
            break Steps::Cold;
        }
        let Some(modules) = modules else {
            break Steps::NeedModules;
        };
        // framehop falls back to frame-pointer steps for unknown
        // pcs; without frame pointers that yields junk.
        if lookup < r_lo || lookup >= r_hi {
            match modules.range_of(lookup) {
                Some(range) => (r_lo, r_hi) = range,
                None => break Steps::Unknown,
            }
        }
        reads.clear();
        let mut logged = |addr: u64| {
            let word = read_stack.read(addr);
            reads.push(addr, word.ok());
            word
        };
        let ra =
            match modules
                .unwinder
                .unwind_frame(frame, &mut regs, rules.of(lookup), &mut logged)
            {
                Ok(Some(ra)) => ra,
                // The end of the stack, or a bad rule: the same from
                // the same state and words, so the next walk replays it.
                _ => {
                    if plain {
                        trail.record(from, reads, Then::End);
                    }
                    break Steps::Walked(n);
                }
            };
        let Some(next) = FrameAddress::from_return_address(ra) else {
            break Steps::Walked(n);
        };
        plain = plain && only_ip_sp_bp(&regs);
        if plain {
            let (sp, bp) = sp_bp(&regs);
            let to = State {
                ip: ra,
                first: false,
                sp,
                bp,
            };
            trail.record(from, reads, Then::At(to));
        }
        ips[n] = ra as usize;
        n += 1;
        if n == ips.len() {
            break Steps::Walked(n);
        }
        frame = next;
    };
    // (A walk cut short keeps the steps it made: each replays on its own.)
    trail.finish();
    ended
}

/// libgcc's walk (through `backtrace`) of the frames above the one whose
/// stack pointer was `sp` (`walk`'s): the same return addresses the walk
/// through unwind rules gives, from `walk`'s caller's on.
#[inline(never)]
fn libgcc_above(sp: u64, ips: &mut [usize]) -> usize {
    let (mut n, mut first) = (0, true);
    let mut push = |frame: &backtrace::Frame| {
        if frame.ip().is_null() {
            return false; // libgcc's end-of-stack pseudo-frame
        }
        // libgcc gives a frame's own stack pointer (the CFA of the frame
        // it called): the walker's frames are at or below `sp`.
        if (frame.sp() as u64) <= sp {
            return true;
        }
        // An unwinder that gives the frame's CFA instead keeps `walk`'s.
        if std::mem::take(&mut first)
            && std::ptr::eq(frame.symbol_address(), walk as *const std::ffi::c_void)
        {
            return true;
        }
        ips[n] = frame.ip() as usize;
        n += 1;
        n < ips.len()
    };
    // SAFETY: libgcc's unwinder is thread-safe on Linux (see `platform`).
    unsafe { backtrace::trace_unsynchronized(&mut push) };
    n
}

/// `regs`' sp and bp, each read on its own: framehop's rule has just
/// stored them 8 bytes at a time, and one 16-byte load of both, as the
/// compiler merges them, waits for those stores to leave the store buffer
/// (~12 ns a walked step in `perf annotate`).
#[inline(always)]
fn sp_bp(regs: &UnwindRegsX86_64) -> (u64, u64) {
    (
        std::hint::black_box(regs.sp()),
        std::hint::black_box(regs.bp()),
    )
}

/// Whether every register but ip, sp and bp is zero, as the walk starts
/// them: steps are recorded and replayed only then (see `steps`).
fn only_ip_sp_bp(regs: &UnwindRegsX86_64) -> bool {
    use framehop::x86_64::Reg::*;
    [
        RAX, RDX, RCX, RBX, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
    ]
    .iter()
    .all(|&r| regs.get(r) == 0)
}

#[cfg(test)]
mod tests {
    use super::super::steps::Trail;
    use super::*;

    /// The walk itself succeeds (no fallback to the platform unwinder)
    /// down to the thread's start.
    #[test]
    fn walks_a_whole_thread_without_falling_back() {
        let walked = std::thread::spawn(|| {
            per_thread::parse_at_once();
            let mut ips = [0usize; 256];
            walk(&mut ips)
        })
        .join()
        .unwrap();
        let n = walked.expect("every frame of a test thread is in a known object");
        assert!((5..256).contains(&n), "{n} frames");
    }

    /// Walks from one call site `times` times: the return addresses of
    /// each walk, and how many of them libgcc made.
    #[inline(never)]
    fn walks_from_one_place(times: usize) -> (Vec<Vec<usize>>, usize) {
        let cold = COLD_WALKS.get();
        let mut out = Vec::new();
        for _ in 0..times {
            let mut ips = [0usize; 96];
            let n = walk(std::hint::black_box(&mut ips)).expect("known frames");
            out.push(ips[..n].to_vec());
        }
        (out, COLD_WALKS.get() - cold)
    }

    /// A stack met for the first time is walked by libgcc, then through
    /// unwind rules: the same return addresses either way, from `walk`'s
    /// caller on.
    #[test]
    fn a_cold_walk_lists_what_a_warm_walk_does() {
        std::thread::spawn(|| {
            let (walks, cold) = walks_from_one_place(4);
            assert_eq!(cold, 1, "libgcc walks");
            assert!(walks[0].len() > 5, "{} frames", walks[0].len());
            for w in &walks[1..] {
                assert_eq!(w, &walks[0]);
            }
        })
        .join()
        .unwrap();
    }

    /// Forgets this thread's last walk: the next walk replays nothing.
    fn forget_the_last_walk() {
        PER_THREAD.with(|c| {
            if let Some(warm) = &mut c.borrow_mut().warm {
                warm.trail = Trail::new();
            }
        });
    }

    /// Walks from `leaf`, reached through `path` (0 or 1) and `depth`
    /// more frames: once replaying the last walk, once from scratch.
    #[inline(never)]
    fn replayed_and_fresh(path: u8, depth: usize) -> (Vec<usize>, Vec<usize>, usize) {
        #[inline(never)]
        fn via_a(depth: usize) -> (Vec<usize>, Vec<usize>, usize) {
            std::hint::black_box(nest(std::hint::black_box(depth)))
        }
        #[inline(never)]
        fn via_b(depth: usize) -> (Vec<usize>, Vec<usize>, usize) {
            std::hint::black_box(nest(std::hint::black_box(depth)))
        }
        #[inline(never)]
        fn nest(depth: usize) -> (Vec<usize>, Vec<usize>, usize) {
            if depth == 0 {
                return std::hint::black_box(leaf());
            }
            std::hint::black_box(nest(std::hint::black_box(depth - 1)))
        }
        #[inline(never)]
        fn leaf() -> (Vec<usize>, Vec<usize>, usize) {
            let mut out = [Vec::new(), Vec::new()];
            let mut replayed = 0;
            // One call site for both walks, so they see the same frames.
            for (i, slot) in out.iter_mut().enumerate() {
                if i == 1 {
                    forget_the_last_walk();
                }
                let before = super::super::steps::replayed();
                let mut ips = [0usize; 96];
                let n = walk(std::hint::black_box(&mut ips)).expect("known frames");
                if i == 0 {
                    replayed = super::super::steps::replayed() - before;
                }
                *slot = ips[..n].to_vec();
            }
            let [a, b] = out;
            (a, b, replayed)
        }
        match path {
            0 => via_a(depth),
            _ => via_b(depth),
        }
    }

    /// A walk that replays steps of the last one lists exactly the frames
    /// a walk from scratch does, whether the last walk came the same way,
    /// through another caller at the same depth (same stack addresses,
    /// other return addresses), or from deeper or shallower.
    #[test]
    fn a_replayed_walk_is_the_walk() {
        per_thread::parse_at_once();
        let _ = replayed_and_fresh(0, 4);
        let mut replayed = 0;
        for (path, depth) in [
            (0, 4),
            (1, 4),
            (0, 4),
            (1, 9),
            (1, 2),
            (0, 2),
            (0, 9),
            (1, 9),
        ] {
            let (again, fresh, k) = replayed_and_fresh(path, depth);
            assert_eq!(again, fresh, "path {path}, depth {depth}");
            replayed += k;
        }
        assert!(replayed > 20, "steps were replayed: {replayed}");
    }
}
