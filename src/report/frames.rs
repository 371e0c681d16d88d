//! Turning captured return addresses into the frames a user wants to read.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use crate::task::Frame;

impl Frame {
    /// Is this the user's code, not tokio's, std's, the harness' or ours?
    pub(crate) fn is_user(&self) -> bool {
        is_user_function(&self.function)
    }
}

/// Crates whose frames are plumbing between the user's code and a spawn.
const PLUMBING: &[&str] = &[
    "std",
    "core",
    "alloc",
    "test",
    "tokio",
    "tokio_util",
    "tokio_stream",
    "taskleak",
    "taskleak_macros",
    "backtrace",
    "parking_lot",
    "parking_lot_core",
    "futures",
    "futures_core",
    "futures_util",
    "futures_executor",
    "tracing",
    "tracing_futures",
];

/// `crate::path::fn`, `<crate::Type as Trait>::fn`: the crate is the first
/// segment. Generic parameters (`<F as Future>::poll`), bare C symbols
/// (`main`, `clone3`) and plumbing crates are not the user's.
pub(crate) fn is_user_function(name: &str) -> bool {
    let name = name
        .trim_start_matches(['<', '&', '*'])
        .trim_start_matches("mut ")
        .trim_start_matches("dyn ");
    let Some((root, _)) = name.split_once("::") else {
        return false;
    };
    let is_crate_name = root
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !root.is_empty();
    is_crate_name && !PLUMBING.contains(&root)
}

static RESOLVED: LazyLock<Mutex<HashMap<usize, Arc<[Frame]>>>> = LazyLock::new(Default::default);

/// Every frame behind `ips` (an address with inlined calls gives several),
/// innermost first. Addresses resolve once per process.
pub(crate) fn resolve(ips: &[usize]) -> Vec<Frame> {
    let mut out = Vec::with_capacity(ips.len());
    for &ip in ips {
        let known = RESOLVED.lock().get(&ip).cloned();
        let frames = known.unwrap_or_else(|| {
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
        });
        out.extend(frames.iter().cloned());
    }
    out
}

/// The user's frames of a resolved backtrace, innermost (the spawn call)
/// first, with repeats of one line (an async fn and its closure) merged.
pub(crate) fn user_frames(all: &[Frame]) -> Vec<Frame> {
    let mut out: Vec<Frame> = Vec::new();
    for f in all.iter().filter(|f| f.is_user()) {
        let repeat = out
            .last()
            .is_some_and(|last| last.file == f.file && last.line == f.line);
        if !repeat {
            out.push(f.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plumbing_and_c_frames_are_not_the_users() {
        for name in [
            "tokio::runtime::task::harness::Harness<T,S>::poll",
            "<core::pin::Pin<P> as core::future::future::Future>::poll",
            "<F as core::future::future::Future>::poll",
            "std::sys::backtrace::__rust_begin_short_backtrace",
            "test::run_test::{{closure}}",
            "taskleak::registry::spawned",
            "main",
            "clone3",
            "0x7f00deadbeef",
        ] {
            assert!(!is_user_function(name), "{name}");
        }
        for name in [
            "leaky_server::main::{{closure}}",
            "<my_app::Server as core::future::future::Future>::poll",
            "spawn_sites::helper",
        ] {
            assert!(is_user_function(name), "{name}");
        }
    }

    #[test]
    fn resolves_this_functions_own_frame() {
        let mut ips = Vec::new();
        backtrace::trace(|f| {
            ips.push(f.ip() as usize);
            ips.len() < 8
        });
        let frames = resolve(&ips);
        assert!(
            frames.iter().any(
                |f| f.function().ends_with("resolves_this_functions_own_frame")
                    && f.file().is_some_and(|p| p.ends_with("frames.rs"))
            ),
            "{frames:#?}"
        );
    }
}
