//! The unwind-table walk: each frame's `.eh_frame` rule (DWARF CFI, in
//! every normal build) applied by `framehop`, without the platform
//! unwinder's per-frame lookup and interpretation.
//!
//! - The loaded objects are listed with `dl_iterate_phdr`; framehop reads
//!   their `.eh_frame_hdr` and `.eh_frame` in memory, no file is read. The
//!   list is tagged with the loader's counters of loads and unloads
//!   (`dlpi_adds`, `dlpi_subs`), read again at every walk: after a
//!   `dlopen` or `dlclose` the list is rebuilt before it is used, so the
//!   walk never reads the tables of an object that is gone.
//! - The unwinder is shared, read-only; each thread has its own rule cache
//!   and the steps of its last walk (replayed where the stack is unchanged,
//!   see `steps`), so threads never contend. Both go back to a pool when
//!   their thread ends: libtest starts a thread per test, and the next
//!   test's thread starts warm. They belong to one module list: a thread
//!   that finds the list changed starts them afresh.
//! - Every stack read is checked against this thread's stack, so a bad rule
//!   ends the walk instead of faulting.
//! - Why a list checked at the start of a walk stays valid during it: the
//!   walk looks up only the return addresses on its own stack, and the
//!   objects holding those cannot be unloaded while the frames exist. An
//!   object loaded or unloaded meanwhile by another thread holds none of
//!   them, so a stale entry for it is never read.

use std::cell::RefCell;
use std::ffi::{CStr, c_int, c_void};
use std::ops::Deref;
use std::sync::Arc;

use parking_lot::Mutex;

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};

use super::steps::{Reads, State, Then, Trail};
use framehop::{
    ExplicitModuleSectionInfo, FrameAddress, Module, MustNotAllocateDuringUnwind, Unwinder,
};

type Policy = MustNotAllocateDuringUnwind;

/// Bytes of a loaded object (its `.eh_frame_hdr`, its `.eh_frame`): not
/// `&'static [u8]`, since the object can be unloaded. Read only through a
/// [`Shared`] whose [`Generation`] is the loader's current one.
#[derive(Clone, Copy)]
struct Mapped {
    ptr: *const u8,
    len: usize,
}

// SAFETY: read-only memory of a loaded object; reads from any thread are
// fine while it stays mapped, which `walk` checks before using it.
unsafe impl Send for Mapped {}
// SAFETY: as above.
unsafe impl Sync for Mapped {}

impl Default for Mapped {
    /// Empty (framehop's default for a section not given).
    fn default() -> Self {
        Mapped {
            ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(),
            len: 0,
        }
    }
}

impl Deref for Mapped {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: built by `add_object` over a mapped range of an object
        // that was loaded then; only reached from `walk` through a
        // `Shared` whose generation matched the loader's at the walk's
        // start, so that object is still loaded (see the module docs).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// glibc's and musl's counters of objects loaded and unloaded so far.
type Generation = (u64, u64);

struct Shared {
    unwinder: UnwinderX86_64<Mapped, Policy>,
    /// Sorted, disjoint executable ranges of modules that have CFI.
    text: Vec<(u64, u64)>,
    /// The loader's counters when the list was made.
    generation: Option<Generation>,
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

/// What makes a thread's walks fast, for the module list of one
/// generation: the rule caches, and the last walk's steps to replay (see
/// [`super::steps`]).
struct Warm {
    generation: Generation,
    rules: Box<[CacheX86_64<Policy>; WAYS]>,
    trail: Trail,
}

impl Warm {
    fn new(generation: Generation) -> Warm {
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
static POOL: Mutex<Vec<Warm>> = Mutex::new(Vec::new());

/// A thread's caches and module list; the caches go back to the pool when
/// the thread ends.
struct PerThread {
    warm: Option<Warm>,
    shared: Option<Arc<Shared>>,
}

impl Drop for PerThread {
    fn drop(&mut self) {
        if let Some(warm) = self.warm.take() {
            POOL.lock().push(warm);
        }
    }
}

thread_local! {
    static PER_THREAD: RefCell<PerThread> = const {
        RefCell::new(PerThread { warm: None, shared: None })
    };
}

/// The loader's counters now; `None` where the C library has no such
/// fields (then the walk leaves every frame to the platform unwinder).
/// Costs one `dl_iterate_phdr` call stopped at the first object: ~15 ns,
/// ~30 ns with two threads asking at once (glibc takes a lock).
fn generation() -> Option<Generation> {
    let mut out: Option<Generation> = None;
    // SAFETY: the callback runs during this call only, gets `out` back as
    // its data pointer, and stops the iteration at the first object.
    unsafe {
        libc::dl_iterate_phdr(Some(first_generation), (&raw mut out).cast());
    }
    out
}

unsafe extern "C" fn first_generation(
    info: *mut libc::dl_phdr_info,
    size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: dl_iterate_phdr passes a valid info of `size` bytes; data is
    // the `Option<Generation>` of `generation`.
    unsafe { *data.cast::<Option<Generation>>() = generation_of(&*info, size) };
    1 // one object is enough: the counters are process-wide
}

/// The counters in `info`, if the C library's struct (`size` bytes) has them.
fn generation_of(info: &libc::dl_phdr_info, size: usize) -> Option<Generation> {
    let has = size >= std::mem::offset_of!(libc::dl_phdr_info, dlpi_subs) + size_of::<u64>();
    has.then_some((info.dlpi_adds, info.dlpi_subs))
}

/// A module list that is current at `now`: this thread's, the newest one,
/// or a new one.
fn current(state: &mut PerThread, now: Generation) -> Option<Arc<Shared>> {
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

/// Every loaded object with a CFI index, and the loader's counters, read
/// in one `dl_iterate_phdr` call (under the loader's lock, so they agree).
fn enumerate_modules() -> Shared {
    let mut shared = Shared {
        unwinder: UnwinderX86_64::new(),
        text: Vec::new(),
        generation: None,
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
    size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: dl_iterate_phdr passes a valid info; data is our `Shared`.
    let (info, shared) = unsafe { (&*info, &mut *data.cast::<Shared>()) };
    if shared.generation.is_none() {
        shared.generation = generation_of(info, size);
    }
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
    // PT_GNU_EH_FRAME is mapped for as long as the object is loaded.
    let hdr = Mapped {
        ptr: (base + hdr_svma) as *const u8,
        len: hdr_ph.p_memsz as usize,
    };
    let Some(eh_svma) = eh_frame_svma(&hdr, hdr_svma) else {
        return 0;
    };
    // .eh_frame's size is not recorded in the program headers; the rest of
    // its PT_LOAD is mapped, and framehop only reads FDEs via the hdr table.
    let Some(seg) = loads().find(|p| p.p_vaddr <= eh_svma && eh_svma < p.p_vaddr + p.p_memsz)
    else {
        return 0;
    };
    let eh_len = seg.p_vaddr + seg.p_memsz - eh_svma;
    // Within a mapped PT_LOAD of the object, mapped while it is loaded.
    let eh_frame = Mapped {
        ptr: (base + eh_svma) as *const u8,
        len: eh_len as usize,
    };

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

    /// Walks here with both walkers: `None` when `walk` gave up.
    #[inline(never)]
    fn both() -> (Option<Vec<usize>>, Vec<usize>) {
        let mut fast = [0usize; 48];
        let n = walk(&mut fast);
        let mut slow = vec![0usize; 128];
        let m = crate::walk::platform(&mut slow);
        slow.truncate(m);
        (n.map(|n| fast[..n].to_vec()), slow)
    }

    /// From the caller of `both` on, the two walks list the same return
    /// addresses (`both`'s own differ: two call sites).
    fn agree((fast, slow): (Option<Vec<usize>>, Vec<usize>)) {
        let fast = fast.expect("every frame here is in a known object");
        let k = slow
            .iter()
            .position(|&ip| ip == fast[1])
            .expect("the walk's frames in the platform's");
        let len = (fast.len() - 1).min(slow.len() - k);
        assert!(len >= 3, "{len} common frames");
        assert_eq!(fast[1..1 + len], slow[k..k + len]);
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

    /// The generation of this thread's module list.
    fn list_generation() -> Option<Generation> {
        PER_THREAD.with(|c| c.borrow().shared.as_ref().and_then(|s| s.generation))
    }

    type Handler =
        extern "C" fn(*mut c_void, *const std::ffi::c_char, *mut *const std::ffi::c_char);

    /// Called by libexpat from inside `XML_Parse`: walks from there.
    extern "C" fn on_element(
        user: *mut c_void,
        _name: *const std::ffi::c_char,
        _attrs: *mut *const std::ffi::c_char,
    ) {
        let walks = both();
        // SAFETY: `user` is the test's `Option<(Option<Vec<usize>>, Vec<usize>)>`.
        unsafe { *user.cast::<Option<(Option<Vec<usize>>, Vec<usize>)>>() = Some(walks) };
    }

    /// A library loaded after the first walk is walked through with its
    /// own tables (the list is rebuilt, not frozen), and after it is
    /// unloaded the list is rebuilt again before any walk reads it.
    #[test]
    fn walks_through_a_library_loaded_later_and_forgets_it_when_unloaded() {
        agree(both());
        let first = generation().expect("glibc counts loads");
        // SAFETY: dlopen/dlsym/dlclose of a system library by name; the
        // symbols are cast to their C signatures (expat.h); the parser is
        // freed before the library is closed.
        unsafe {
            let lib = libc::dlopen(c"libexpat.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            if lib.is_null() {
                eprintln!("skipped: libexpat.so.1 is not installed");
                return;
            }
            assert_ne!(generation(), Some(first), "a load is counted");
            let sym = |name: &CStr| {
                let f = libc::dlsym(lib, name.as_ptr());
                assert!(!f.is_null(), "{name:?}");
                f
            };
            let create: extern "C" fn(*const std::ffi::c_char) -> *mut c_void =
                std::mem::transmute(sym(c"XML_ParserCreate"));
            let set_user: extern "C" fn(*mut c_void, *mut c_void) =
                std::mem::transmute(sym(c"XML_SetUserData"));
            let set_start: extern "C" fn(*mut c_void, Handler) =
                std::mem::transmute(sym(c"XML_SetStartElementHandler"));
            let parse: extern "C" fn(*mut c_void, *const std::ffi::c_char, c_int, c_int) -> c_int =
                std::mem::transmute(sym(c"XML_Parse"));
            let free: extern "C" fn(*mut c_void) = std::mem::transmute(sym(c"XML_ParserFree"));

            let parser = create(std::ptr::null());
            assert!(!parser.is_null());
            let mut seen: Option<(Option<Vec<usize>>, Vec<usize>)> = None;
            set_user(parser, (&raw mut seen).cast());
            set_start(parser, on_element);
            let xml = b"<a/>";
            assert_eq!(parse(parser, xml.as_ptr().cast(), xml.len() as c_int, 1), 1);
            free(parser);
            // Inside libexpat's frames: walked with its own tables (not
            // left to the platform unwinder), and the same frames.
            agree(seen.expect("the handler ran"));
            assert_eq!(list_generation(), generation(), "the list was rebuilt");

            let loaded = generation();
            assert_eq!(libc::dlclose(lib), 0);
            assert_ne!(generation(), loaded, "an unload is counted");
        }
        agree(both());
        assert_eq!(list_generation(), generation(), "rebuilt after the unload");
    }
}
