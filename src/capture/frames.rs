//! Turning captured return addresses into frames: debug info looked up
//! once per address per process, for survivors only (the hot path keeps
//! raw addresses).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use crate::task::Frame;

static RESOLVED: LazyLock<Mutex<HashMap<usize, Arc<[Frame]>>>> = LazyLock::new(Default::default);

/// Addresses looked up in debug info so far (cache misses), for the test
/// that proves a passing check loads no symbols.
static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

/// The frames behind one address, from the process-wide cache or else
/// from debug info (the first lookup in a process loads it: ~0.5 s in a
/// large debug binary).
pub(crate) fn resolve_one(ip: usize) -> Arc<[Frame]> {
    if let Some(known) = RESOLVED.lock().get(&ip) {
        return known.clone();
    }
    LOOKUPS.fetch_add(1, Relaxed);
    let mut frames = Vec::new();
    backtrace::resolve(ip as *mut std::ffi::c_void, |sym| {
        let function = sym
            .name()
            .map(|n| format!("{n:#}"))
            .unwrap_or_else(|| format!("{ip:#x}"));
        frames.push(Frame::new(function, sym.filename(), sym.lineno()));
    });
    let frames: Arc<[Frame]> = frames.into();
    RESOLVED.lock().insert(ip, frames.clone());
    frames
}

/// The frames behind `ip` if it was resolved before (no lookup).
pub(crate) fn cached(ip: usize) -> Option<Arc<[Frame]>> {
    RESOLVED.lock().get(&ip).cloned()
}

/// How many addresses were looked up in debug info in this process.
pub(crate) fn lookups() -> usize {
    LOOKUPS.load(Relaxed)
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
}
