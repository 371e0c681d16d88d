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

use super::steps::{Reads, State, Then};
use modules::generation;
use per_thread::{PER_THREAD, POOL, SLOTS, WAYS, Warm, current};

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
            let shared = current(&mut state, now)?;
            let warm = state
                .warm
                .get_or_insert_with(|| POOL.lock().pop().unwrap_or_else(|| Warm::new(now)));
            if warm.generation != now {
                // Rules and steps of the old list may describe other code now.
                *warm = Warm::new(now);
            }
            // Frames live above the current sp; nothing below it is needed.
            let (lo, hi) = (sp, stack_hi - 8);
            let mut read_stack = move |addr: u64| -> Result<u64, ()> {
                // Saved slots are 8-aligned on x86_64; refusing odd ones
                // keeps this a plain load.
                if addr < lo || addr > hi || addr & 7 != 0 {
                    return Err(());
                }
                // SAFETY: [lo, hi + 8) lies within this thread's mapped
                // stack (pthread_getattr_np range, above the live sp), and
                // addr is aligned.
                Ok(unsafe { *(addr as *const u64) })
            };
            let mut regs = UnwindRegsX86_64::new(pc, sp, bp);
            let mut frame = FrameAddress::from_instruction_pointer(pc);
            let mut n = 0;
            // Last executable range hit: most frames share one object, so
            // this skips the search.
            let (mut r_lo, mut r_hi) = (1, 0);
            // Registers other than ip/sp/bp are all zero (see `steps`).
            let mut plain = true;
            let mut reads = Reads::default();
            warm.trail.start();
            loop {
                let from = State {
                    ip: regs.ip(),
                    first: !frame.is_return_address(),
                    sp: regs.sp(),
                    bp: regs.bp(),
                };
                if plain && let Some(run) = warm.trail.replay(from, &mut read_stack, &mut ips[n..])
                {
                    n += run.ips;
                    let to = match run.then {
                        Then::At(to) => to,
                        Then::End => break,
                    };
                    // The other registers are zero (`plain`).
                    regs.set_ip(to.ip);
                    regs.set_sp(to.sp);
                    regs.set_bp(to.bp);
                    match FrameAddress::from_return_address(to.ip) {
                        Some(next) if n < ips.len() => frame = next,
                        _ => break,
                    }
                    continue;
                }
                // framehop falls back to frame-pointer steps for unknown
                // pcs; without frame pointers that yields junk.
                let lookup = frame.address_for_lookup();
                if lookup < r_lo || lookup >= r_hi {
                    (r_lo, r_hi) = shared.range_of(lookup)?;
                }
                reads.clear();
                let mut logged = |addr: u64| {
                    let word = read_stack(addr);
                    reads.push(addr, word.ok());
                    word
                };
                let ra = match shared.unwinder.unwind_frame(
                    frame,
                    &mut regs,
                    &mut warm.rules[((lookup / SLOTS) % WAYS as u64) as usize],
                    &mut logged,
                ) {
                    Ok(Some(ra)) => ra,
                    // The end of the stack, or a bad rule: the same from
                    // the same state and words, so the next walk replays it.
                    _ => {
                        if plain {
                            warm.trail.record(from, &reads, Then::End);
                        }
                        break;
                    }
                };
                let Some(next) = FrameAddress::from_return_address(ra) else {
                    break;
                };
                plain = plain && only_ip_sp_bp(&regs);
                if plain {
                    let to = State {
                        ip: ra,
                        first: false,
                        sp: regs.sp(),
                        bp: regs.bp(),
                    };
                    warm.trail.record(from, &reads, Then::At(to));
                }
                ips[n] = ra as usize;
                n += 1;
                if n == ips.len() {
                    break;
                }
                frame = next;
            }
            warm.trail.finish();
            Some(n)
        })
        .ok()
        .flatten()
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
            let mut ips = [0usize; 256];
            walk(&mut ips)
        })
        .join()
        .unwrap();
        let n = walked.expect("every frame of a test thread is in a known object");
        assert!((5..256).contains(&n), "{n} frames");
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
