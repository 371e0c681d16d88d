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

#[cfg(tokio_unstable)]
mod activity;
#[cfg(all(
    tokio_unstable,
    feature = "taskdump",
    target_os = "linux",
    any(
        target_arch = "aarch64",
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "s390x"
    )
))]
mod dump;

/// Installs the spawn, poll and terminate hooks on `builder`.
///
/// These replace any `on_task_spawn` / `on_task_terminate` /
/// `on_before_task_poll` / `on_after_task_poll` set earlier on the same
/// builder (tokio keeps one of each).
pub(crate) fn install(builder: &mut Builder) -> &mut Builder {
    #[cfg(tokio_unstable)]
    {
        use crate::registry;
        use tokio::runtime::TaskMeta;
        builder
            .on_task_spawn(|meta: &TaskMeta<'_>| {
                // Runs synchronously on the spawning thread before the
                // first poll, so `try_id()` is the spawning task (if any).
                activity::spawned(meta.id());
                registry::spawned(meta.id(), meta.spawned_at(), tokio::task::try_id());
            })
            .on_before_task_poll(|meta: &TaskMeta<'_>| activity::before_poll(meta.id()))
            .on_after_task_poll(|meta: &TaskMeta<'_>| activity::after_poll(meta.id()))
            .on_task_terminate(|meta: &TaskMeta<'_>| registry::terminated(meta.id()));
    }
    builder
}

/// A task's poll activity, when known.
pub(crate) fn activity(id: Id) -> Option<Activity> {
    #[cfg(tokio_unstable)]
    return activity::get(id);
    #[cfg(not(tokio_unstable))]
    {
        let _ = id;
        None
    }
}

/// Where each task of `handles`' runtimes is suspended: per task, one
/// backtrace (innermost frame first) per tokio leaf future it waits on.
/// `None` when task dumps are not compiled in (the `taskdump` feature).
pub(crate) async fn suspended(handles: &[Handle]) -> Option<HashMap<Id, Vec<Vec<Frame>>>> {
    #[cfg(all(
        tokio_unstable,
        feature = "taskdump",
        target_os = "linux",
        any(
            target_arch = "aarch64",
            target_arch = "x86",
            target_arch = "x86_64",
            target_arch = "s390x"
        )
    ))]
    return Some(dump::suspended(handles).await);
    #[allow(unreachable_code)]
    {
        let _ = handles;
        None
    }
}
