//! Everything that needs `--cfg tokio_unstable`: the task hooks that feed
//! the registry, poll activity, and task dumps.
//!
//! tokio 1.54 compiles its hook and dump APIs only with that cfg, and says
//! they may change. This folder is the one place that uses them; the
//! functions below are the rest of the crate's only way in, and without the
//! cfg they do nothing, which leaves checks counting tasks instead.

use std::collections::HashMap;

use tokio::runtime::Handle;
use tokio::task::Id;

#[cfg(taskleak_taskdump)]
use crate::task::NotDumped;
pub(crate) use crate::task::Stuck;
use crate::task::{Activity, Frame};

#[cfg(taskleak_hooks)]
mod activity;
#[cfg(taskleak_taskdump)] // set by build.rs where tokio can dump tasks
mod dump;
mod install;

pub(crate) use install::{Installed, Ours, install, switched_off, thread_hooks_set};

/// The last task whose terminate hook ran on one runtime (0: none yet). A
/// task that panics under `unhandled_panic = "shutdown_runtime"` ends after
/// the shutdown cancelled all others: this names it.
pub(crate) type Ends = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// What tells runtimes apart: tokio's runtime id where the build has it
/// (tokio 1.49, or any tokio with `tokio_unstable`).
#[cfg(taskleak_runtime_id)]
pub(crate) type RuntimeKey = tokio::runtime::Id;
/// Older tokio without `tokio_unstable` has no runtime id. The runtimes a
/// check can see there are the one `#[leak_check]` built and the current
/// one, which are the same runtime or differ in flavor or worker count.
#[cfg(not(taskleak_runtime_id))]
pub(crate) type RuntimeKey = (tokio::runtime::RuntimeFlavor, usize);

pub(crate) fn runtime_key(handle: &Handle) -> RuntimeKey {
    #[cfg(taskleak_runtime_id)]
    return handle.id();
    #[cfg(not(taskleak_runtime_id))]
    return (handle.runtime_flavor(), handle.metrics().num_workers());
}

thread_local! {
    /// The last task whose spawn hook ran on this thread: a spawn followed
    /// by a look here tells whether the runtime is tracked.
    static LAST_HOOKED: std::cell::Cell<Option<Id>> = const { std::cell::Cell::new(None) };
}

/// Whether `handle`'s runtime runs taskleak's hooks, found out by spawning
/// an empty task and seeing whether the spawn hook ran; `None` when this
/// runtime was probed before (each is probed once).
pub(crate) fn first_probe(handle: &Handle) -> Option<bool> {
    use parking_lot::Mutex;
    static PROBED: Mutex<Vec<RuntimeKey>> = Mutex::new(Vec::new());
    {
        let mut probed = PROBED.lock();
        if probed.contains(&runtime_key(handle)) {
            return None;
        }
        probed.push(runtime_key(handle));
    }
    // taskleak's own task: never recorded, so no check (an outer one on
    // this thread included) reports or counts it.
    let probe = crate::capture::registry::unrecorded(|| handle.spawn(async {}));
    Some(LAST_HOOKED.with(|last| last.get()) == Some(probe.id()))
}

/// Blocking-pool threads of `handle`'s runtime busy running a closure
/// (tokio's worker threads are not counted). `None` without the cfg.
///
/// Not the queue depth: a multi-thread runtime starts its workers through
/// the blocking pool, so right after `build()` the queue holds them.
pub(crate) fn busy_blocking(handle: &Handle) -> Option<usize> {
    #[cfg(taskleak_hooks)]
    {
        let m = handle.metrics();
        Some(
            m.num_blocking_threads()
                .saturating_sub(m.num_idle_blocking_threads()),
        )
    }
    #[cfg(not(taskleak_hooks))]
    {
        let _ = handle;
        None
    }
}

/// Whether the task lives on a current-thread runtime (or a
/// `LocalRuntime`): one that runs its tasks only on the thread inside its
/// `block_on`. A multi-thread runtime always has threads of its own; a
/// runtime without any is a current-thread one. `false` when unknown.
pub(crate) fn on_current_thread_runtime(id: Id) -> bool {
    #[cfg(taskleak_hooks)]
    {
        use tokio::runtime::RuntimeFlavor::MultiThread;
        activity::runtime_tag(id).is_some_and(|tag| {
            activity::handle_of(tag).is_none_or(|h| h.runtime_flavor() != MultiThread)
        })
    }
    #[cfg(not(taskleak_hooks))]
    {
        let _ = id;
        false
    }
}

/// Every tracked runtime that has threads (see `activity::runtimes`).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))] // growth's figures
pub(crate) fn runtimes() -> Vec<Handle> {
    #[cfg(taskleak_hooks)]
    return activity::runtimes();
    #[cfg(not(taskleak_hooks))]
    Vec::new()
}

/// A task's poll activity, when known.
pub(crate) fn activity(id: Id) -> Option<Activity> {
    #[cfg(taskleak_hooks)]
    return activity::get(id);
    #[cfg(not(taskleak_hooks))]
    {
        let _ = id;
        None
    }
}

/// Where each of `tasks` is suspended, from task dumps of the
/// multi-thread runtimes they live on, taken from this thread; or why a
/// task has no dump. `None` when task dumps are not compiled in (the
/// `taskdump` feature).
///
/// Only `owned` runtimes are dumped: those `#[leak_check]` built, which it
/// shuts down with a bound after a failed check. tokio 1.54's dump barrier
/// does not undo the arrival of a worker that timed out waiting for the
/// others (250 ms: a worker descheduled on a loaded machine is enough), so
/// a later dump can leave a worker waiting forever, and dropping that
/// runtime never returns. A user's runtime is never put at that risk.
///
/// Current-thread runtimes are left to [`stuck_here`]: tokio dumps one only
/// from the thread inside its `block_on`.
pub(crate) fn stuck_elsewhere(tasks: &[Id], owned: &[Handle]) -> Option<HashMap<Id, Stuck>> {
    #[cfg(taskleak_taskdump)]
    {
        use tokio::runtime::RuntimeFlavor::MultiThread;
        let home: Vec<(Id, Option<u64>, Option<Handle>)> = tasks
            .iter()
            .map(|&id| {
                let tag = activity::runtime_tag(id);
                (id, tag, tag.and_then(activity::handle_of))
            })
            .collect();
        let mut dumped: Vec<(tokio::runtime::Id, Result<dump::Traces, String>)> = Vec::new();
        let is_owned = |h: &Handle| owned.iter().any(|o| o.id() == h.id());
        for h in owned {
            if h.runtime_flavor() == MultiThread && !dumped.iter().any(|(id, _)| *id == h.id()) {
                dumped.push((h.id(), dump::of_multi_thread(h)));
            }
        }
        let out = home
            .into_iter()
            .map(|(id, tag, handle)| {
                let found = dumped
                    .iter()
                    .find_map(|(_, d)| d.as_ref().ok().and_then(|t| t.get(&id)));
                let stuck = match (found, tag, handle) {
                    (Some(traces), _, _) => Stuck::At(traces.clone()),
                    (None, _, Some(h)) if h.runtime_flavor() == MultiThread && !is_owned(&h) => {
                        Stuck::NotDumped(NotDumped::NotOwned)
                    }
                    (None, _, Some(h)) if h.runtime_flavor() == MultiThread => {
                        match dumped.iter().find(|(rt, _)| *rt == h.id()) {
                            Some((_, Err(why))) => {
                                Stuck::NotDumped(NotDumped::Skipped(why.clone()))
                            }
                            _ => Stuck::NotDumped(NotDumped::Ended),
                        }
                    }
                    // Runtimes without threads of their own are current-thread.
                    (None, Some(_), _) => Stuck::NotDumped(NotDumped::CurrentThread),
                    // Its slot is freed when it ends, which it may have
                    // done while the report was being put together.
                    (None, None, _) if crate::capture::registry::get(id).is_none() => {
                        Stuck::NotDumped(NotDumped::Ended)
                    }
                    (None, None, _) => Stuck::NotDumped(NotDumped::UnknownRuntime),
                };
                (id, stuck)
            })
            .collect();
        Some(out)
    }
    #[cfg(not(taskleak_taskdump))]
    {
        let _ = (tasks, owned);
        None
    }
}

/// A task dump of the current-thread runtime this thread is inside, if any.
pub(crate) fn stuck_here() -> Option<HashMap<Id, Vec<Vec<Frame>>>> {
    #[cfg(taskleak_taskdump)]
    return dump::of_this_thread();
    #[cfg(not(taskleak_taskdump))]
    None
}
