//! Symbol lookups for the ignore rules, off the check's thread, while it
//! waits; stopped when the wait ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use crate::capture::registry;
use crate::config::Rules;
use crate::config::ignore::Use;
use crate::judge::rules;
use crate::judge::symbols::{Resolving, Symbols};

/// How long a check waits for its tasks before it looks up symbols to
/// see whether the rules in force ignore the ones left (a path rule needs
/// function names): tasks that end on their own within it, the usual case
/// in a passing test, cost no debug info (~0.5 s and tens of MB the first
/// time in a large debug binary). Symbols already looked up are used at
/// once; and once the process has loaded debug info, the lookups start at
/// once too (a few new addresses cost about a millisecond, off the check's
/// thread), so that a task a path rule ignores, spawned through other
/// generic instances in each test (a pool's reaper), does not hold every
/// test for this long.
pub(super) const SETTLE: Duration = Duration::from_millis(100);

/// While symbols are looked up for the rules, how often the wait looks
/// whether they are in.
pub(super) const LOOKUP_POLL: Duration = Duration::from_millis(5);

/// Looks up, on a thread of its own, the symbols the rules need to judge
/// `undecided` (survivors their spawn sites do not decide): the check keeps
/// waiting for its tasks meanwhile (the first lookup in a large debug
/// binary takes ~0.5 s), and judges them from the cache when it is done.
/// Only each task's frames up to the first that a rule matches. `None`
/// when nothing needed looking up, or it was looked up here (no thread to
/// spare). `done` runs on that thread when the lookups are in.
///
/// The lookups stop (between two addresses) once `stop` is set: the check
/// that wanted them is over, and a check that needs symbols for its report
/// does not wait behind them.
pub(super) fn look_up_in_background(
    undecided: Vec<Arc<registry::TaskRecord>>,
    rules: Rules,
    stop: Arc<AtomicBool>,
    done: impl FnOnce() + Send + 'static,
) -> Option<std::thread::JoinHandle<()>> {
    if undecided.is_empty() {
        return None;
    }
    let look_up = move || {
        let mut uses = vec![Use::default(); rules.iter().count()];
        let symbols = Unless(&stop);
        for r in &undecided {
            if stop.load(Relaxed) {
                return;
            }
            rules::by_frames(r, &rules, &symbols, &mut uses);
        }
    };
    let thread = {
        let look_up = look_up.clone();
        move || {
            look_up();
            done();
        }
    };
    match std::thread::Builder::new()
        .name("taskleak-symbols".into())
        .spawn(thread)
    {
        Ok(thread) => Some(thread),
        // Looked up here instead; the caller judges at once.
        Err(_) => {
            look_up();
            None
        }
    }
}

/// Symbols looked up until `.0` is set, then none.
struct Unless<'a>(&'a AtomicBool);

impl Symbols for Unless<'_> {
    fn frames(&self, ip: usize) -> Option<Arc<[crate::task::Frame]>> {
        if self.0.load(Relaxed) {
            return None;
        }
        Resolving.frames(ip)
    }

    fn done(&self) {
        Resolving.done();
    }
}

/// Set when dropped: the wait is over.
#[derive(Default)]
pub(super) struct Stop(pub(super) Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
}
