//! What happens while tests run: tokio's hooks record each task
//! (`hooks`) in the process-wide registry (`registry`), attributed to the
//! test scope it was spawned in (`scope`); `spawn` records what tokio's
//! hooks do not see, and `threads` lists OS threads. Nothing here judges
//! or prints: checks read what is captured as a snapshot.

pub(crate) mod hooks;
pub(crate) mod registry;
pub(crate) mod scope;
pub(crate) mod spawn;
pub(crate) mod threads;
