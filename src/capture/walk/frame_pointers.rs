//! The frame-pointer walk: return addresses at `rbp + 8`, the caller's
//! `rbp` at `rbp`.

use super::MAX_FRAMES;

/// Only reads inside this thread's stack, so a frame without a frame
/// pointer (std is built without them) ends the walk early instead of
/// faulting.
#[inline(always)]
pub(super) fn walk(ips: &mut [usize; MAX_FRAMES]) -> usize {
    let (mut fp, sp): (usize, usize);
    // SAFETY: reads two registers.
    unsafe {
        std::arch::asm!("mov {}, rbp", "mov {}, rsp", out(reg) fp, out(reg) sp);
    }
    let Some((low, top)) = super::stack::bounds() else {
        return 0;
    };
    let mut n = 0;
    while n < MAX_FRAMES && frame_in_stack(fp, sp.max(low), top) {
        // SAFETY: `fp..fp + 16` lies within this thread's stack (checked).
        let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if ret == 0 {
            break;
        }
        ips[n] = ret;
        n += 1;
        if next <= fp {
            break; // the chain must go up the stack
        }
        fp = next;
    }
    n
}

/// Does the 16-byte frame record at `fp` (the caller's `rbp`, then the
/// return address) lie within `[low, top)`, aligned? Checked without
/// overflow: a wild `fp` near `usize::MAX` is refused, not wrapped.
#[inline(always)]
fn frame_in_stack(fp: usize, low: usize, top: usize) -> bool {
    fp >= low && fp % 8 == 0 && fp.checked_add(16).is_some_and(|end| end <= top)
}

#[cfg(test)]
mod tests {
    use super::frame_in_stack;

    #[test]
    fn a_frame_pointer_outside_the_stack_ends_the_walk_without_overflow() {
        let (low, top) = (0x1000, 0x2000);
        assert!(frame_in_stack(0x1000, low, top));
        assert!(frame_in_stack(0x1ff0, low, top));
        assert!(
            !frame_in_stack(0x1ff8, low, top),
            "the record would end past the top"
        );
        assert!(
            !frame_in_stack(0x0ff8, low, top),
            "below the stack's lower bound"
        );
        assert!(!frame_in_stack(0x1004, low, top), "misaligned");
        // Near usize::MAX, `fp + 16` would overflow (a panic in debug, a
        // wrapped bound and a wild read in release).
        assert!(!frame_in_stack(usize::MAX - 7, low, usize::MAX));
        assert!(!frame_in_stack(usize::MAX & !7, 0, usize::MAX));
    }
}
