//! The tokio task hooks that feed the registry.
//!
//! Everything here needs `--cfg tokio_unstable`: tokio 1.54 compiles its
//! hook API only then, and says it may change. Keeping it in this one module
//! is what lets the rest of the crate build (and count) without the cfg.

use tokio::runtime::{Builder, TaskMeta};

use crate::registry;

/// Installs the spawn and terminate hooks on `builder`.
///
/// These replace any `on_task_spawn` / `on_task_terminate` set earlier on
/// the same builder (tokio keeps one of each).
pub(crate) fn install(builder: &mut Builder) -> &mut Builder {
    builder
        .on_task_spawn(|meta: &TaskMeta<'_>| {
            // Runs synchronously on the spawning thread before the first
            // poll, so `try_id()` is the spawning task (if any).
            registry::spawned(meta.id(), meta.spawned_at(), tokio::task::try_id());
        })
        .on_task_terminate(|meta: &TaskMeta<'_>| registry::terminated(meta.id()))
}
