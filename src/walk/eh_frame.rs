//! The unwind-table walk: each frame's `.eh_frame` rule (DWARF CFI, in
//! every normal build) applied by `framehop`, without the platform
//! unwinder's per-frame lookup and interpretation.
//!
//! - The loaded objects are listed once (`dl_iterate_phdr`); framehop reads
//!   their `.eh_frame_hdr` and `.eh_frame` in memory, no file is read.
//! - The unwinder is shared, read-only; each thread has its own rule cache,
//!   so threads never contend and a warm walk does not allocate. Caches go
//!   back to a pool when their thread ends: libtest starts a thread per
//!   test, and the next test's thread starts warm.
//! - Every stack read is checked against this thread's stack, so a bad rule
//!   ends the walk instead of faulting.
//! - A frame in an object loaded after the first walk (a later `dlopen`)
//!   is unknown here: the caller falls back to the platform unwinder. An
//!   object unloaded since (`dlclose`) is never on a live stack; its table
//!   is only read if another object is later mapped at its addresses.

use std::cell::RefCell;
use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;

use parking_lot::Mutex;

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{
    ExplicitModuleSectionInfo, FrameAddress, Module, MustNotAllocateDuringUnwind, Unwinder,
};

type Policy = MustNotAllocateDuringUnwind;

struct Shared {
    unwinder: UnwinderX86_64<&'static [u8], Policy>,
    /// Sorted, disjoint executable ranges of modules that have CFI.
    text: Vec<(u64, u64)>,
}

impl Shared {
    /// The executable range containing `addr`, if any.
    fn range_of(&self, addr: u64) -> Option<(u64, u64)> {
        let i = self.text.partition_point(|&(start, _)| start <= addr);
        let r = *self.text.get(i.checked_sub(1)?)?;
        (addr < r.1).then_some(r)
    }
}

/// framehop's rule cache is direct-mapped with 509 slots (addr % 509), so two
/// hot addresses that collide evict each other on every walk and each miss
/// re-parses CFI. Picking one of `WAYS` caches by `(addr / 509) % WAYS` makes
/// that an effectively `509 * WAYS`-slot cache (~128 KiB a thread).
const WAYS: usize = 4;
const SLOTS: u64 = 509;

type Caches = Box<[CacheX86_64<Policy>; WAYS]>;

static SHARED: OnceLock<Shared> = OnceLock::new();
/// Caches of threads that ended, warm, for the next threads to take.
static POOL: Mutex<Vec<Caches>> = Mutex::new(Vec::new());

/// A thread's caches; back to the pool when the thread ends.
struct PerThread(Option<Caches>);

impl Drop for PerThread {
    fn drop(&mut self) {
        if let Some(caches) = self.0.take() {
            POOL.lock().push(caches);
        }
    }
}

thread_local! {
    static PER_THREAD: RefCell<PerThread> = const { RefCell::new(PerThread(None)) };
}

/// Fills `ips` with the return addresses of the calling stack, innermost
/// first (`ips[0]` returns into `walk`'s caller), and returns how many.
///
/// Stops at the end of the stack, at an unwind error, or when `ips` is
/// full. `None`: the walk met code outside the objects known at the first
/// walk, or cannot run here (off the thread's normal stack, reentrant, or
/// during thread-local teardown); the caller asks the platform unwinder.
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
    let shared = SHARED.get_or_init(enumerate_modules);
    PER_THREAD
        .try_with(|cell| {
            let mut state = cell.try_borrow_mut().ok()?;
            let caches = state.0.get_or_insert_with(|| {
                POOL.lock()
                    .pop()
                    .unwrap_or_else(|| Box::new(std::array::from_fn(|_| CacheX86_64::new_in())))
            });
            // Frames live above the current sp; nothing below it is needed.
            let (lo, hi) = (sp, stack_hi - 8);
            let mut read_stack = |addr: u64| -> Result<u64, ()> {
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
            loop {
                // framehop falls back to frame-pointer steps for unknown
                // pcs; without frame pointers that yields junk.
                let lookup = frame.address_for_lookup();
                if lookup < r_lo || lookup >= r_hi {
                    (r_lo, r_hi) = shared.range_of(lookup)?;
                }
                let ra = match shared.unwinder.unwind_frame(
                    frame,
                    &mut regs,
                    &mut caches[((lookup / SLOTS) % WAYS as u64) as usize],
                    &mut read_stack,
                ) {
                    Ok(Some(ra)) => ra,
                    _ => break, // the end of the stack, or a bad rule
                };
                let Some(next) = FrameAddress::from_return_address(ra) else {
                    break;
                };
                ips[n] = ra as usize;
                n += 1;
                if n == ips.len() {
                    break;
                }
                frame = next;
            }
            Some(n)
        })
        .ok()
        .flatten()
}

fn enumerate_modules() -> Shared {
    let mut shared = Shared {
        unwinder: UnwinderX86_64::new(),
        text: Vec::new(),
    };
    // SAFETY: the callback only runs during this call and gets `shared`
    // back as its data pointer.
    unsafe {
        libc::dl_iterate_phdr(Some(add_object), (&raw mut shared).cast());
    }
    shared.text.sort_unstable();
    shared
}

unsafe extern "C" fn add_object(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: dl_iterate_phdr passes a valid info; data is our `Shared`.
    let (info, shared) = unsafe { (&*info, &mut *data.cast::<Shared>()) };
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: the loader guarantees dlpi_phnum entries at dlpi_phdr.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let base = info.dlpi_addr;
    let loads = || phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD);

    let Some(hdr_ph) = phdrs.iter().find(|p| p.p_type == libc::PT_GNU_EH_FRAME) else {
        return 0; // No CFI index: its frames are unknown here (see `walk`).
    };
    let (mut t_start, mut t_end) = (u64::MAX, 0);
    for p in loads().filter(|p| p.p_flags & libc::PF_X != 0) {
        t_start = t_start.min(p.p_vaddr);
        t_end = t_end.max(p.p_vaddr + p.p_memsz);
    }
    if t_start >= t_end || hdr_ph.p_memsz < 8 {
        return 0;
    }
    let hdr_svma = hdr_ph.p_vaddr;
    // SAFETY: PT_GNU_EH_FRAME is mapped for as long as the object is loaded.
    let hdr: &'static [u8] = unsafe {
        std::slice::from_raw_parts((base + hdr_svma) as *const u8, hdr_ph.p_memsz as usize)
    };
    let Some(eh_svma) = eh_frame_svma(hdr, hdr_svma) else {
        return 0;
    };
    // .eh_frame's size is not recorded in the program headers; the rest of
    // its PT_LOAD is mapped, and framehop only reads FDEs via the hdr table.
    let Some(seg) = loads().find(|p| p.p_vaddr <= eh_svma && eh_svma < p.p_vaddr + p.p_memsz)
    else {
        return 0;
    };
    let eh_len = seg.p_vaddr + seg.p_memsz - eh_svma;
    // SAFETY: within a mapped PT_LOAD of a loaded object.
    let eh_frame: &'static [u8] =
        unsafe { std::slice::from_raw_parts((base + eh_svma) as *const u8, eh_len as usize) };

    let name = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: dlpi_name is a NUL-terminated string owned by the loader.
        unsafe { CStr::from_ptr(info.dlpi_name) }
            .to_string_lossy()
            .into_owned()
    };
    let section_info = ExplicitModuleSectionInfo {
        base_svma: 0, // ELF: SVMAs are p_vaddr values, AVMA = dlpi_addr + SVMA.
        text_svma: Some(t_start..t_end),
        eh_frame_svma: Some(eh_svma..eh_svma + eh_len),
        eh_frame: Some(eh_frame),
        eh_frame_hdr_svma: Some(hdr_svma..hdr_svma + hdr_ph.p_memsz),
        eh_frame_hdr: Some(hdr),
        ..Default::default()
    };
    let range = base + t_start..base + t_end;
    shared.text.push((range.start, range.end));
    shared
        .unwinder
        .add_module(Module::new(name, range, base, section_info));
    0
}

/// Decodes `eh_frame_ptr` from an `.eh_frame_hdr` (LSB `.eh_frame_hdr`
/// format) into the SVMA of `.eh_frame`.
fn eh_frame_svma(hdr: &[u8], hdr_svma: u64) -> Option<u64> {
    const DW_EH_PE_OMIT: u8 = 0xff;
    let (version, enc) = (hdr[0], hdr[1]);
    if version != 1 || enc == DW_EH_PE_OMIT {
        return None;
    }
    let field = hdr.get(4..)?;
    let bytes = |n: usize| field.get(..n);
    let raw: i64 = match enc & 0x0f {
        0x00 | 0x04 | 0x0c => i64::from_le_bytes(bytes(8)?.try_into().ok()?),
        0x03 => u32::from_le_bytes(bytes(4)?.try_into().ok()?).into(),
        0x0b => i32::from_le_bytes(bytes(4)?.try_into().ok()?).into(),
        0x02 => u16::from_le_bytes(bytes(2)?.try_into().ok()?).into(),
        0x0a => i16::from_le_bytes(bytes(2)?.try_into().ok()?).into(),
        _ => return None,
    };
    match enc & 0x70 {
        0x00 => Some(raw as u64),
        0x10 => (hdr_svma + 4).checked_add_signed(raw), // pcrel: from the field
        0x30 => hdr_svma.checked_add_signed(raw),       // datarel: from hdr start
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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
}
