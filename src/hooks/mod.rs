//! Everything that needs `--cfg tokio_unstable`: the task hooks that feed
//! the registry, poll activity, and task dumps.
//!
//! tokio 1.54 compiles its hook and dump APIs only with that cfg, and says
//! they may change. This folder is the one place that uses them; the
//! functions below are the rest of the crate's only way in, and without the
//! cfg they do nothing, which leaves checks counting tasks instead.

use std::collections::HashMap;

use tokio::runtime::{Builder, Handle};
use tokio::task::Id;

use crate::report::{Activity, Frame};

#[cfg(taskleak_hooks)]
mod activity;
#[cfg(taskleak_taskdump)] // set by build.rs where tokio can dump tasks
mod dump;

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

/// Installs the spawn, poll and terminate hooks on `builder`.
///
/// These replace any `on_task_spawn` / `on_task_terminate` /
/// `on_before_task_poll` / `on_after_task_poll` set earlier on the same
/// builder (tokio keeps one of each).
pub(crate) fn install(builder: &mut Builder) -> &mut Builder {
    #[cfg(taskleak_old_tokio)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            eprintln!(
                "taskleak: warning: built with `--cfg tokio_unstable`, but tokio {} has no \
                 TaskMeta::spawned_at, so checks count live tasks instead of naming each leaked \
                 task's spawn site. tokio 1.46.1 or newer has it: cargo update -p tokio",
                env!("TASKLEAK_TOKIO_VERSION")
            )
        });
    }
    // Stable hooks: know the runtime's own threads, which a check of OS
    // threads reports only for the scope the runtime was built in.
    let owner = crate::scope::current();
    builder
        .on_thread_start(move || crate::threads::runtime_thread_started(owner.clone()))
        .on_thread_stop(crate::threads::runtime_thread_stopped);
    #[cfg(taskleak_hooks)]
    {
        use crate::registry;
        use tokio::runtime::TaskMeta;
        builder
            .on_task_spawn(|meta: &TaskMeta<'_>| {
                // Runs synchronously on the spawning thread before the
                // first poll, so `try_id()` is the spawning task (if any).
                activity::spawned(meta.id());
                LAST_HOOKED.set(Some(meta.id()));
                registry::spawned(meta.id(), meta.spawned_at(), tokio::task::try_id());
            })
            .on_before_task_poll(|meta: &TaskMeta<'_>| activity::before_poll(meta.id()))
            .on_after_task_poll(|meta: &TaskMeta<'_>| activity::after_poll(meta.id()))
            .on_task_terminate(|meta: &TaskMeta<'_>| registry::terminated(meta.id()));
    }
    builder
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
    let probe = handle.spawn(async {});
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

/// Where each task of `handles`' runtimes is suspended: per task, one
/// backtrace (innermost frame first) per tokio leaf future it waits on.
/// `None` when task dumps are not compiled in (the `taskdump` feature).
pub(crate) async fn suspended(handles: &[Handle]) -> Option<HashMap<Id, Vec<Vec<Frame>>>> {
    #[cfg(taskleak_taskdump)]
    return Some(dump::suspended(handles).await);
    #[allow(unreachable_code)]
    {
        let _ = handles;
        None
    }
}
