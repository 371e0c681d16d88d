//! How the judge learns function names: an input, like the snapshot. A
//! wait that must not load debug info judges from what is cached; the
//! final judgement, and the lookup thread, resolve. Either way the judge
//! itself keeps nothing: the cache is `capture::frames`'s.

use std::sync::Arc;

use crate::capture::frames;
use crate::task::Frame;

/// The frames behind a code address, if they can be had.
pub(crate) trait Symbols {
    fn frames(&self, ip: usize) -> Option<Arc<[Frame]>>;
}

/// Only addresses looked up before: never loads debug info.
pub(crate) struct Cached;

impl Symbols for Cached {
    fn frames(&self, ip: usize) -> Option<Arc<[Frame]>> {
        frames::cached(ip)
    }
}

/// Looks addresses up (once per process each).
pub(crate) struct Resolving;

impl Symbols for Resolving {
    fn frames(&self, ip: usize) -> Option<Arc<[Frame]>> {
        Some(frames::resolve_one(ip))
    }
}

/// Every frame behind `ips` that `symbols` knows, innermost first.
pub(crate) fn resolve(symbols: &dyn Symbols, ips: &[usize]) -> Vec<Frame> {
    let mut out = Vec::with_capacity(ips.len());
    for &ip in ips {
        if let Some(frames) = symbols.frames(ip) {
            out.extend(frames.iter().cloned());
        }
    }
    out
}
