//! Check options: the grace period and ignore rules.

use std::fmt;
use std::time::Duration;

use crate::check::Guard;

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
    pub(crate) grace: Duration,
    pub(crate) ignore: Vec<Ignore>,
    /// Runtimes to count on when built without hooks (set by the harness).
    pub(crate) runtimes: Vec<tokio::runtime::Handle>,
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl Options {
    /// The defaults: a grace period of 500 ms and no ignore rules.
    ///
    /// ```
    /// let guard = taskleak::Options::new().verify_none();
    /// # guard.check().unwrap();
    /// ```
    pub fn new() -> Self {
        Options {
            grace: DEFAULT_GRACE,
            ignore: Vec::new(),
            runtimes: Vec::new(),
        }
    }

    /// How long the check waits for the scope's tasks to finish before it
    /// reports the survivors. A clean scope never waits.
    ///
    /// ```
    /// use std::time::Duration;
    /// let guard = taskleak::Options::new().grace(Duration::from_secs(2)).verify_none();
    /// # guard.check().unwrap();
    /// ```
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Do not report tasks matching `pattern`, which is one of:
    ///
    /// - a path prefix such as `"hyper::client::pool"`: matches a task when
    ///   a function in its spawn-site backtrace starts with it;
    /// - a file, `"src/metrics.rs"`, or a location, `"src/metrics.rs:42"`:
    ///   matches a task spawned at that file (or line), or with a backtrace
    ///   frame there. A relative path matches at a path-component boundary,
    ///   so `"metrics.rs"` matches `src/metrics.rs` but not `src/xmetrics.rs`.
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
        match Ignore::parse(pattern.as_ref()) {
            Ok(rule) => self.ignore.push(rule),
            Err(e) => panic!("taskleak: {e}"),
        }
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
    /// ```
    /// let guard = taskleak::Options::new().verify_none();
    /// // ... the code under test spawns tasks on a tracked runtime ...
    /// guard.check().unwrap();
    /// ```
    pub fn verify_none(self) -> Guard {
        Guard::open(self)
    }
}

/// One ignore rule, parsed from a pattern string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ignore {
    /// A function path prefix, matched at a `::` boundary.
    Path(String),
    /// A source file, optionally a line in it.
    File { file: String, line: Option<u32> },
}

/// Why an ignore pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadPattern {
    pattern: String,
    why: &'static str,
}

impl fmt::Display for BadPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid ignore pattern {:?}: {}; write a path prefix like \"my_crate::worker\", \
             a file like \"src/worker.rs\" or a location like \"src/worker.rs:42\"",
            self.pattern, self.why
        )
    }
}

impl Ignore {
    pub(crate) fn parse(pattern: &str) -> Result<Ignore, BadPattern> {
        let bad = |why| BadPattern {
            pattern: pattern.to_owned(),
            why,
        };
        let p = pattern.trim();
        if p.is_empty() {
            return Err(bad("it is empty"));
        }
        if p.chars().any(char::is_whitespace) {
            return Err(bad("it contains whitespace"));
        }
        // A file pattern is recognised by its `.rs` (before an optional
        // `:line`); anything else must look like a Rust path.
        let (file, line) = match p.rsplit_once(':') {
            Some((file, line)) if file.ends_with(".rs") => {
                let line = line
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("the part after `.rs:` is not a line number"))?;
                (file, Some(line))
            }
            _ => (p, None),
        };
        if file.ends_with(".rs") {
            return Ok(Ignore::File {
                file: file.replace('\\', "/"),
                line,
            });
        }
        let path_like = p.split("::").all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '<' || c == '>')
        });
        if !path_like {
            return Err(bad("it is neither a `::` path nor a `.rs` file"));
        }
        Ok(Ignore::Path(p.to_owned()))
    }

    /// Does the rule match a location `file:line`?
    pub(crate) fn matches_location(&self, file: &str, line: u32) -> bool {
        match self {
            Ignore::Path(_) => false,
            Ignore::File {
                file: want,
                line: l,
            } => l.is_none_or(|l| l == line) && path_ends_with(file, want),
        }
    }

    /// Does the rule match a function name (hash already stripped)?
    pub(crate) fn matches_function(&self, name: &str) -> bool {
        match self {
            Ignore::File { .. } => false,
            Ignore::Path(prefix) => {
                // `<my_crate::Foo as Trait>::poll` belongs to `my_crate` too.
                let name = name.trim_start_matches('<');
                name.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            }
        }
    }
}

/// `a/b/c.rs` ends with `c.rs` and `b/c.rs`, not with `/c.rs` or `bc.rs`.
fn path_ends_with(path: &str, suffix: &str) -> bool {
    let path = path.replace('\\', "/");
    if suffix.starts_with('/') {
        return path == suffix;
    }
    path == suffix
        || path
            .strip_suffix(suffix)
            .is_some_and(|head| head.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_files_and_locations() {
        assert_eq!(
            Ignore::parse("hyper::client::pool"),
            Ok(Ignore::Path("hyper::client::pool".into()))
        );
        assert_eq!(
            Ignore::parse("src/a.rs"),
            Ok(Ignore::File {
                file: "src/a.rs".into(),
                line: None
            })
        );
        assert_eq!(
            Ignore::parse("a.rs:42"),
            Ok(Ignore::File {
                file: "a.rs".into(),
                line: Some(42)
            })
        );
    }

    #[test]
    fn refuses_bad_patterns_with_the_reason() {
        for (p, why) in [
            ("", "empty"),
            ("  ", "empty"),
            ("a.rs:x", "line number"),
            ("a.rs:0", "line number"),
            ("my crate", "whitespace"),
            ("a::::b", "neither"),
            ("a/b", "neither"),
        ] {
            let err = Ignore::parse(p).unwrap_err().to_string();
            assert!(err.contains(why), "{p:?}: {err}");
            assert!(err.contains("src/worker.rs:42"), "{err}");
        }
    }

    #[test]
    fn file_rules_match_at_component_boundaries() {
        let rule = Ignore::parse("metrics.rs").unwrap();
        assert!(rule.matches_location("src/metrics.rs", 3));
        assert!(rule.matches_location("metrics.rs", 3));
        assert!(!rule.matches_location("src/xmetrics.rs", 3));
        let rule = Ignore::parse("src/metrics.rs:7").unwrap();
        assert!(rule.matches_location("/home/u/p/src/metrics.rs", 7));
        assert!(!rule.matches_location("src/metrics.rs", 8));
    }

    #[test]
    fn path_rules_match_at_segment_boundaries() {
        let rule = Ignore::parse("my_crate::metrics").unwrap();
        assert!(rule.matches_function("my_crate::metrics::flush::{{closure}}"));
        assert!(rule.matches_function("<my_crate::metrics::Pump as core::future::Future>::poll"));
        assert!(rule.matches_function("my_crate::metrics"));
        assert!(!rule.matches_function("my_crate::metrics_v2::run"));
        assert!(!rule.matches_location("src/metrics.rs", 1));
    }

    #[test]
    #[should_panic(expected = "invalid ignore pattern \"a.rs:x\"")]
    fn options_ignore_panics_on_bad_pattern() {
        let _ = Options::new().ignore("a.rs:x");
    }
}
