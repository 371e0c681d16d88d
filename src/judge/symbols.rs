//! How the judge learns function names: an input, like the snapshot. A
//! wait that must not load debug info judges from what is cached; the
//! final judgement, and the lookup thread, resolve. Either way the judge
//! itself keeps nothing: the process's cache is `capture::frames`'s, and
//! the one the binary's processes share is [`symcache`]'s.

use std::sync::Arc;

use super::symcache;
use crate::capture::frames;
use crate::task::Frame;

/// The frames behind a code address, if they can be had.
pub(crate) trait Symbols {
    fn frames(&self, ip: usize) -> Option<Arc<[Frame]>>;

    /// A batch of lookups is over: the time to keep what was learnt.
    fn done(&self) {}
}

/// Only addresses looked up before, by this process or by another of
/// this build (the shared cache): never loads debug info, so a check can
/// judge a path rule at once when an earlier process learnt its names.
pub(crate) struct Cached;

impl Symbols for Cached {
    fn frames(&self, ip: usize) -> Option<Arc<[Frame]>> {
        frames::cached(ip).or_else(|| Some(frames::remember(ip, &symcache::get(ip)?, false)))
    }
}

/// Looks addresses up, once per process each: from the cache this
/// binary's processes share, else from debug info (then shared).
pub(crate) struct Resolving;

impl Symbols for Resolving {
    fn frames(&self, ip: usize) -> Option<Arc<[Frame]>> {
        if let Some(known) = frames::cached(ip) {
            return Some(known);
        }
        if let Some(raw) = symcache::get(ip) {
            return Some(frames::remember(ip, &raw, true));
        }
        let raw = frames::look_up(ip);
        // Kept in this process first: a wait peeking meanwhile finds it
        // there, and never counts it as another process's.
        let frames = frames::remember(ip, &raw, true);
        symcache::put(ip, &raw);
        Some(frames)
    }

    fn done(&self) {
        symcache::flush();
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
    symbols.done();
    out
}
