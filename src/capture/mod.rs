//! What happens while tests run: tokio's hooks record each task
//! (`hooks`) in the process-wide registry (`registry`), attributed to the
//! test scope it was spawned in (`scope`); `spawn` records what tokio's
//! hooks do not see, `slots` holds each task's poll counters, `threads`
//! lists OS threads, and `frames` turns a survivor's
//! spawn-site addresses into frames. Nothing here judges
//! or prints: checks read what is captured as a snapshot.

/// Whether this build can see spawn sites (tokio's hooks are compiled in:
/// `--cfg tokio_unstable` and tokio 1.46.1 or newer; see build.rs).
pub(crate) const TRACKING: bool = cfg!(taskleak_hooks);

pub(crate) mod census;
pub(crate) mod figures;
pub(crate) mod frames;
pub(crate) mod hooks;
pub(crate) mod registry;
pub(crate) mod scope;
pub(crate) mod slots;
pub(crate) mod spawn;
pub(crate) mod survivors;
pub(crate) mod threads;
pub(crate) mod walk;
