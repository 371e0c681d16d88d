//! The loaded objects with a CFI index, listed for the walk, and the
//! loader's counters of loads and unloads that date the list.
//!
//! The loaded objects are listed with `dl_iterate_phdr`; framehop reads
//! their `.eh_frame_hdr` and `.eh_frame` in memory, no file is read. The
//! list is tagged with the loader's counters of loads and unloads
//! (`dlpi_adds`, `dlpi_subs`), read again at every walk: after a
//! `dlopen` or `dlclose` the list is rebuilt before it is used, so the
//! walk never reads the tables of an object that is gone.
//!
//! Why a list checked at the start of a walk stays valid during it: the
//! walk looks up only the return addresses on its own stack, and the
//! objects holding those cannot be unloaded while the frames exist. An
//! object loaded or unloaded meanwhile by another thread holds none of
//! them, so a stale entry for it is never read.

use std::ffi::{CStr, c_int, c_void};
use std::ops::Deref;

use framehop::x86_64::UnwinderX86_64;
use framehop::{ExplicitModuleSectionInfo, Module, Unwinder};

use super::Policy;

/// Bytes of a loaded object (its `.eh_frame_hdr`, its `.eh_frame`): not
/// `&'static [u8]`, since the object can be unloaded. Read only through a
/// [`Shared`] whose [`Generation`] is the loader's current one.
#[derive(Clone, Copy)]
pub(super) struct Mapped {
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
pub(super) type Generation = (u64, u64);

pub(super) struct Shared {
    pub(super) unwinder: UnwinderX86_64<Mapped, Policy>,
    /// Sorted, disjoint executable ranges of modules that have CFI.
    text: Vec<(u64, u64)>,
    /// The loader's counters when the list was made.
    pub(super) generation: Option<Generation>,
}

impl Shared {
    /// The executable range containing `addr`, if any.
    // Called by `walk` at each new object: inlined there, as it was when both
    // shared a file (another module is another codegen unit).
    #[inline]
    pub(super) fn range_of(&self, addr: u64) -> Option<(u64, u64)> {
        let i = self.text.partition_point(|&(start, _)| start <= addr);
        let r = *self.text.get(i.checked_sub(1)?)?;
        (addr < r.1).then_some(r)
    }
}

/// The loader's counters now; `None` where the C library has no such
/// fields (then the walk leaves every frame to the platform unwinder).
/// Costs one `dl_iterate_phdr` call stopped at the first object: ~15 ns,
/// ~30 ns with two threads asking at once (glibc takes a lock).
// Called by `walk` at every walk: inlined there, as it was when both
// shared a file (another module is another codegen unit).
#[inline]
pub(super) fn generation() -> Option<Generation> {
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

/// Every loaded object with a CFI index, and the loader's counters, read
/// in one `dl_iterate_phdr` call (under the loader's lock, so they agree).
pub(super) fn enumerate_modules() -> Shared {
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

    use super::super::{per_thread::PER_THREAD, walk};

    /// Walks here with both walkers: `None` when `walk` gave up.
    #[inline(never)]
    fn both() -> (Option<Vec<usize>>, Vec<usize>) {
        let mut fast = [0usize; 48];
        let n = walk(&mut fast);
        let mut slow = vec![0usize; 128];
        let m = super::super::super::platform(&mut slow);
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
        super::super::per_thread::parse_at_once();
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
