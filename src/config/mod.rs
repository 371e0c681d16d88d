//! Check options, and where their defaults come from.
//!
//! A setting given to the check itself (`Options`, `#[leak_check(..)]`)
//! wins over the environment (`TASKLEAK_*`), which wins over the binary's
//! `taskleak::configure!`, which wins over `.config/taskleak.toml`, which
//! wins over the built-in defaults.

pub(crate) mod defaults;
mod duration;
pub(crate) mod env;
pub(crate) mod file;
pub(crate) mod ignore;

use std::time::Duration;

use crate::check::Guard;
pub(crate) use ignore::{Ignore, Origin};

/// How long a check waits, by default, for a test's tasks to finish.
pub const DEFAULT_GRACE: Duration = Duration::from_millis(500);

/// Options for a leak check; finish with [`Options::verify_none`].
///
/// ```
/// use std::time::Duration;
///
/// let guard = taskleak::Options::new()
///     .grace(Duration::from_millis(250))
///     .ignore("my_crate::metrics")      // a function path prefix
///     .ignore("src/telemetry.rs:42")    // a spawn location
///     .verify_none();
/// guard.check().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) grace: Option<Duration>,
    pub(crate) ignore: Vec<Ignore>,
    pub(crate) ignore_current: bool,
    pub(crate) threads: bool,
    /// Runtimes to count on when built without hooks (set by the harness).
    pub(crate) runtimes: Vec<tokio::runtime::Handle>,
    /// The test's `#[should_panic]`, with its `expected` text (set by the
    /// harness).
    pub(crate) should_panic: Option<Option<&'static str>>,
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl Options {
    /// No settings of its own: the grace period comes from
    /// `TASKLEAK_GRACE`, else `taskleak::configure!`, else 500 ms.
    ///
    /// ```
    /// let guard = taskleak::Options::new().verify_none();
    /// # guard.check().unwrap();
    /// ```
    pub fn new() -> Self {
        Options {
            grace: None,
            ignore: Vec::new(),
            ignore_current: false,
            threads: false,
            runtimes: Vec::new(),
            should_panic: None,
        }
    }

    /// How long the check waits for the scope's tasks to finish before it
    /// reports the survivors. A clean scope never waits. Overrides
    /// `TASKLEAK_GRACE` and `configure!`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let guard = taskleak::Options::new().grace(Duration::from_secs(2)).verify_none();
    /// # guard.check().unwrap();
    /// ```
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Do not report tasks matching `pattern`, which is one of:
    ///
    /// - a function path prefix such as `"my_crate::metrics"` or
    ///   `"hyper_util::client::legacy::pool"`: matches a task when one of
    ///   its frames shown as "your frames" is in a function under it, at a
    ///   `::` boundary. Generic arguments are not part of a path:
    ///   `"my::Pool"` matches `my::Pool<M>::new`;
    /// - a file, `"src/metrics.rs"`, or a location, `"src/metrics.rs:42"`:
    ///   matches a task spawned at that file (or line), spawned by a task
    ///   spawned there, or with one of "your frames" there. A relative path
    ///   matches at a path-component boundary, so `"metrics.rs"` matches
    ///   `src/metrics.rs` but not `src/xmetrics.rs`. Prefer a function or a
    ///   file to a line: lines move when code above them changes.
    ///
    /// "Your frames" are the spawn-site frames in your workspace and in
    /// third-party crates; tokio's, std's, libtest's and taskleak's own
    /// frames are never matched, so `"mod.rs"` or `"tokio"` hides nothing.
    ///
    /// Rules add to those of `taskleak::configure!`. A rule that matched
    /// nothing in the whole test binary is pointed out when it exits.
    ///
    /// # Panics
    ///
    /// On a pattern that is neither, such as `""` or `"src/a.rs:x"`.
    ///
    /// ```
    /// let guard = taskleak::Options::new()
    ///     .ignore("my_crate::background")
    ///     .ignore("src/pool.rs:88")
    ///     .verify_none();
    /// # guard.check().unwrap();
    /// ```
    #[track_caller]
    pub fn ignore(mut self, pattern: impl AsRef<str>) -> Self {
        let origin = Origin::Check(std::panic::Location::caller());
        match Ignore::parse(pattern.as_ref(), origin) {
            Ok(rule) => self.ignore.push(rule),
            Err(e) => panic!("taskleak: {e}"),
        }
        self
    }

    /// Tasks already alive when the guard is created are not this test's,
    /// nor are tasks they spawn later (goleak's `IgnoreCurrent`).
    ///
    /// With spawn tracking a scope holds only tasks spawned from it, so this
    /// matters mostly for the counting fallback (no `tokio_unstable`): there
    /// a check otherwise counts every live task of the runtime it sees.
    ///
    /// ```
    /// let guard = taskleak::Options::new().ignore_current().verify_none();
    /// # guard.check().unwrap();
    /// ```
    pub fn ignore_current(mut self) -> Self {
        self.ignore_current = true;
        self
    }

    /// Also report OS threads started during the scope and still running
    /// after the grace period, by name (Linux, from `/proc/self/task`).
    ///
    /// Threads of tracked runtimes and taskleak's own are left out. The
    /// listing is process-wide: with `cargo test`'s parallel test threads,
    /// threads that other tests start at the same time are reported too, so
    /// use it under `cargo nextest run` or `--test-threads=1`.
    ///
    /// A flag, like [`ignore_current`](Options::ignore_current): calling it
    /// turns the check on (`#[leak_check(threads)]` in the attribute).
    ///
    /// ```
    /// let guard = taskleak::Options::new().threads().verify_none();
    /// std::thread::spawn(|| {}).join().unwrap();
    /// guard.check().unwrap();
    /// ```
    pub fn threads(mut self) -> Self {
        self.threads = true;
        self
    }

    /// Counts tasks on `handle` when hooks are unavailable (the harness
    /// passes the runtime it built).
    pub(crate) fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtimes.push(handle);
        self
    }

    /// Opens a leak-check scope on this thread with these options.
    ///
    /// # Panics
    ///
    /// When `TASKLEAK`, `TASKLEAK_GRACE`, `TASKLEAK_BACKTRACE` or the
    /// binary's `taskleak::configure!` holds a value taskleak cannot use;
    /// the message names it and what to write instead.
    ///
    /// ```
    /// let guard = taskleak::Options::new().verify_none();
    /// // ... the code under test spawns tasks on a tracked runtime ...
    /// guard.check().unwrap();
    /// ```
    #[track_caller]
    pub fn verify_none(self) -> Guard {
        defaults::validate();
        crate::suite::checked();
        Guard::open(self)
    }

    /// Every ignore rule that applies: this check's and `configure!`'s.
    pub(crate) fn rules(&self) -> impl Iterator<Item = &Ignore> {
        self.ignore.iter().chain(defaults::ignores())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "invalid ignore pattern \"a.rs:x\"")]
    fn options_ignore_panics_on_bad_pattern() {
        let _ = Options::new().ignore("a.rs:x");
    }
}
