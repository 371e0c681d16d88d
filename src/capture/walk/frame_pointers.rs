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
    let Some((_, top)) = super::stack::bounds() else {
        return 0;
    };
    let mut n = 0;
    while n < MAX_FRAMES && fp >= sp && fp + 16 <= top && fp % 8 == 0 {
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
