//! Turning captured return addresses into frames: debug info looked up
//! once per address per process, for survivors only (the hot path keeps
//! raw addresses).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use crate::task::Frame;

static RESOLVED: LazyLock<Mutex<HashMap<usize, Arc<[Frame]>>>> = LazyLock::new(Default::default);

/// Addresses resolved in this process for a judgement that needed them
/// (from debug info, or from the cache a binary's processes share), for
/// the test that proves a passing check looks up no symbols. A wait's
/// peek into the shared cache is not counted: it is what lets a process
/// judge at once what an earlier one looked up.
static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

/// Addresses looked up in debug info (or a symbol table) by this process:
/// the expensive part, which a shared cache spares later processes.
static DEBUG_INFO: AtomicUsize = AtomicUsize::new(0);

/// One frame as the symbolizer gave it, before paths are made relative
/// (what a cache shared between processes keeps: the workspace root is
/// each process's own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Raw {
    pub(crate) function: String,
    pub(crate) file: Option<PathBuf>,
    pub(crate) line: Option<u32>,
}

/// The frames behind `ip` if this process resolved it before.
pub(crate) fn cached(ip: usize) -> Option<Arc<[Frame]>> {
    RESOLVED.lock().get(&ip).cloned()
}

/// Keeps the frames of `ip` for the rest of the process and returns them;
/// `counted`: as a lookup of this process (see [`lookups`]).
pub(crate) fn remember(ip: usize, raw: &[Raw], counted: bool) -> Arc<[Frame]> {
    let frames: Arc<[Frame]> = raw
        .iter()
        .map(|r| Frame::new(r.function.clone(), r.file.as_deref(), r.line))
        .collect();
    let mut resolved = RESOLVED.lock();
    if let Some(known) = resolved.get(&ip) {
        return known.clone();
    }
    if counted {
        LOOKUPS.fetch_add(1, Relaxed);
    }
    resolved.insert(ip, frames.clone());
    frames
}

/// The frames behind one address, from debug info (the first lookup in
/// a process loads it: ~0.5 s in a large debug binary). Not cached here.
pub(crate) fn look_up(ip: usize) -> Vec<Raw> {
    DEBUG_INFO.fetch_add(1, Relaxed);
    if let Some(frame) = in_c_library(ip) {
        return vec![frame];
    }
    let mut frames = Vec::new();
    backtrace::resolve(ip as *mut std::ffi::c_void, |sym| {
        let function = sym
            .name()
            .map(|n| format!("{n:#}"))
            .unwrap_or_else(|| format!("{ip:#x}"));
        frames.push(Raw {
            function,
            file: sym.filename().map(PathBuf::from),
            line: sym.lineno(),
        });
    });
    frames
}

/// The frames behind one address, from the process-wide cache or else
/// from debug info.
#[cfg(test)]
pub(crate) fn resolve_one(ip: usize) -> Arc<[Frame]> {
    match cached(ip) {
        Some(known) => known,
        None => remember(ip, &look_up(ip), true),
    }
}

/// C libraries of the system, whose code is never a Rust crate's: a frame
/// in one is the runtime's (`Frame::is_user` is false whatever its debug
/// info says), so it is never shown or matched. Their debug info can be
/// costly (libc6-dbg's is compressed: ~0.4 s to inflate in a debug
/// build), so such a frame is named from the dynamic symbol table alone.
const C_LIBRARIES: &[&str] = &[
    "libc.so",
    "libm.so",
    "libgcc_s.so",
    "libpthread.so",
    "libdl.so",
    "librt.so",
    "ld-linux",
];

/// A runtime frame for `ip` when it lies in one of [`C_LIBRARIES`].
#[cfg(target_os = "linux")]
fn in_c_library(ip: usize) -> Option<Raw> {
    use std::ffi::CStr;
    // The call instruction, as backtrace looks it up (a return address
    // may be the first byte of the next function).
    let at = ip.checked_sub(1)?;
    // SAFETY: Dl_info is plain pointers, for which zero is a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the loader's tables and fills `info`.
    if unsafe { libc::dladdr(at as *const libc::c_void, &mut info) } == 0
        || info.dli_fname.is_null()
    {
        return None;
    }
    // SAFETY: dladdr's strings live as long as the object stays loaded,
    // and are copied out here at once.
    let object = unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy();
    let name = object.rsplit('/').next().unwrap_or(&object);
    if !C_LIBRARIES.iter().any(|lib| name.starts_with(lib)) {
        return None;
    }
    let function = match info.dli_sname.is_null() {
        // SAFETY: as above.
        false => unsafe { CStr::from_ptr(info.dli_sname) }
            .to_string_lossy()
            .into_owned(),
        true => format!("{ip:#x}"),
    };
    Some(Raw {
        function,
        file: None,
        line: None,
    })
}

#[cfg(not(target_os = "linux"))]
fn in_c_library(_: usize) -> Option<Raw> {
    None
}

/// How many addresses were resolved in this process.
pub(crate) fn lookups() -> usize {
    LOOKUPS.load(Relaxed)
}

/// How many addresses this process looked up in debug info itself.
pub(crate) fn debug_info_lookups() -> usize {
    DEBUG_INFO.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_this_functions_own_frame() {
        let mut ips = Vec::new();
        backtrace::trace(|f| {
            ips.push(f.ip() as usize);
            ips.len() < 8
        });
        let frames: Vec<Frame> = ips
            .iter()
            .flat_map(|&ip| resolve_one(ip).to_vec())
            .collect();
        assert!(
            frames.iter().any(
                |f| f.function().ends_with("resolves_this_functions_own_frame")
                    && f.file().is_some_and(|p| p.ends_with("frames.rs"))
            ),
            "{frames:#?}"
        );
    }

    /// A frame in the C library is the runtime's, named without its debug
    /// info, and never the user's.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_c_library_frame_is_the_runtimes() {
        // A return address inside libc: one byte past the start of a
        // function it exports.
        // SAFETY: dlsym with a NUL-terminated name only reads the loader's tables.
        let getpid = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"getpid".as_ptr()) };
        assert!(!getpid.is_null());
        let ip = getpid as usize + 1;
        let raw = in_c_library(ip).expect("getpid lies in libc");
        assert!(raw.file.is_none(), "{raw:?}");
        let frame = remember(ip, &[raw], true);
        assert!(frame.iter().all(|f| !f.is_user()), "{frame:?}");
    }
}
