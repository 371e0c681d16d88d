//! This thread's stack, so that walkers read only inside it: a bad unwind
//! rule or a frame without a frame pointer ends a walk instead of faulting.

/// `[low, high)` of this thread's stack, looked up once per thread; `None`
/// if the thread cannot say (or during thread-local teardown).
pub(super) fn bounds() -> Option<(usize, usize)> {
    thread_local! {
        static BOUNDS: Option<(usize, usize)> = lookup();
    }
    BOUNDS.try_with(|b| *b).ok().flatten()
}

fn lookup() -> Option<(usize, usize)> {
    // SAFETY: standard pthread calls on the current thread, with
    // out-pointers to locals; the attr is destroyed after use.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            return None;
        }
        Some((addr as usize, (addr as usize).checked_add(size)?))
    }
}
