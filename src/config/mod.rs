//! Settings as values: a check's [`Options`], the layers of the
//! environment, `configure!` and the config file, one merge, one error
//! type, and the ignore rules (parsed and matched, purely). Nothing here
//! checks, prints or keeps run state.
//!
//! A setting given to the check itself (`Options`, `#[leak_check(..)]`)
//! wins over the environment (`TASKLEAK_*`), which wins over the binary's
//! `taskleak::configure!`, which wins over `.config/taskleak.toml`, which
//! wins over the built-in defaults (`layer`).

pub(crate) mod cargo;
pub(crate) mod configure;
mod duration;
pub(crate) mod env;
pub(crate) mod error;
pub(crate) mod file;
pub(crate) mod ignore;
pub(crate) mod layer;
mod sources;
pub(crate) mod values;

use std::time::Duration;

pub(crate) use ignore::{BadPattern, Ignore, Origin};
pub(crate) use layer::{Layer, Rules, Settings};
pub(crate) use sources::{base, places, validate, workspace};
pub(crate) use values::{Backtraces, Mode};

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
    /// `TASKLEAK_GRACE`, else `taskleak::configure!`, else
    /// `.config/taskleak.toml`, else 500 ms; their ignore rules apply too.
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
    pub fn ignore(self, pattern: impl AsRef<str>) -> Self {
        match self.try_ignore(pattern) {
            Ok(options) => options,
            Err(e) => panic!("taskleak: {e}"),
        }
    }

    /// [`Options::ignore`] for a pattern that may be bad, such as one read
    /// from a file of the user's: the error says what is wrong with it and
    /// what to write instead.
    ///
    /// ```
    /// let err = taskleak::Options::new().try_ignore("src/a.rs:x").unwrap_err();
    /// assert!(err.to_string().contains("invalid ignore pattern \"src/a.rs:x\""));
    /// let guard = taskleak::Options::new().try_ignore("my_crate::metrics")?.verify_none();
    /// # guard.check().unwrap();
    /// # Ok::<(), taskleak::PatternError>(())
    /// ```
    #[track_caller]
    pub fn try_ignore(mut self, pattern: impl AsRef<str>) -> Result<Self, BadPattern> {
        let origin = Origin::Check(std::panic::Location::caller());
        self.ignore.push(Ignore::parse(pattern.as_ref(), origin)?);
        Ok(self)
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

    /// This check's own layer of settings.
    pub(crate) fn layer(&self) -> Layer {
        Layer {
            grace: self.grace,
            ignore: self.ignore.clone(),
            ..Layer::default()
        }
    }

    /// The settings this check runs with: its own over the process's.
    #[track_caller]
    pub(crate) fn settings(&self) -> Settings {
        Settings::resolve(self.layer(), base())
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
