//! Which kind of task a record describes: what the report says of it and
//! whether a task dump can show it.

/// What kind of task a record is, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An async task, seen by tokio's spawn hook.
    #[cfg_attr(not(taskleak_hooks), allow(dead_code))] // only the hooks make these
    Task,
    /// A `spawn_blocking` closure, recorded by `taskleak::spawn_blocking`.
    Blocking,
    /// A `LocalSet` task, recorded by `taskleak::spawn_local`.
    Local,
}
