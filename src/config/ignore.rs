//! Ignore rules: which survivors a check does not report.
//!
//! Every rule remembers whether it ever matched, so that at the end of the
//! test binary a rule that matched nothing can be pointed out: ignore lists
//! rot otherwise.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use parking_lot::Mutex;

/// One ignore rule, parsed from a pattern string.
#[derive(Clone, Debug)]
pub(crate) struct Ignore {
    kind: Kind,
    pattern: String,
    origin: Origin,
    used: Arc<AtomicBool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// A function path prefix, matched at a `::` boundary.
    Path(String),
    /// A source file, optionally a line in it.
    File { file: String, line: Option<u32> },
}

/// Where a rule was written, for the stale-rule notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `Options::ignore` or `#[leak_check(ignore = ..)]`.
    Check(&'static Location<'static>),
    /// `taskleak::configure!`, at `file:line`.
    Configure(&'static str),
    /// The config file, at `path:line`.
    File(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Check(at) => write!(f, "{at}"),
            Origin::Configure(at) => write!(f, "taskleak::configure! at {at}"),
            Origin::File(at) => write!(f, "{at}"),
        }
    }
}

/// Every rule made in this process (clones share the `used` flag).
static RULES: Mutex<Vec<Ignore>> = Mutex::new(Vec::new());

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
    pub(crate) fn parse(pattern: &str, origin: Origin) -> Result<Ignore, BadPattern> {
        let kind = Kind::parse(pattern)?;
        let rule = Ignore {
            kind,
            pattern: pattern.trim().to_owned(),
            origin,
            used: Arc::default(),
        };
        RULES.lock().push(rule.clone());
        crate::gate::arm_stale_notice();
        Ok(rule)
    }

    /// Does the rule match a location `file:line`?
    pub(crate) fn matches_location(&self, file: &str, line: u32) -> bool {
        let hit = match &self.kind {
            Kind::Path(_) => false,
            Kind::File {
                file: want,
                line: l,
            } => l.is_none_or(|l| l == line) && path_ends_with(file, want),
        };
        self.mark(hit)
    }

    /// Does the rule match a function name (hash already stripped)?
    pub(crate) fn matches_function(&self, name: &str) -> bool {
        let hit = match &self.kind {
            Kind::File { .. } => false,
            Kind::Path(prefix) => {
                // `<my_crate::Foo as Trait>::poll` belongs to `my_crate` too.
                let name = name.trim_start_matches('<');
                name.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            }
        };
        self.mark(hit)
    }

    fn mark(&self, hit: bool) -> bool {
        if hit {
            self.used.store(true, Relaxed);
        }
        hit
    }
}

/// Rules that matched nothing in this process, once each, with where they
/// were written. Rules of `configure!` are left out when `binary_wide` is
/// false (one process per test, as under nextest, cannot tell).
pub(crate) fn stale(binary_wide: bool) -> Vec<(String, String)> {
    let rules = RULES.lock();
    let mut out: Vec<(String, String)> = Vec::new();
    for r in rules.iter() {
        if !binary_wide && matches!(r.origin, Origin::Configure(_) | Origin::File(_)) {
            continue;
        }
        let key = (r.pattern.clone(), r.origin.to_string());
        let used = rules
            .iter()
            .any(|o| o.pattern == r.pattern && o.origin == r.origin && o.used.load(Relaxed));
        if !used && !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

impl Kind {
    fn parse(pattern: &str) -> Result<Kind, BadPattern> {
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
            return Ok(Kind::File {
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
        Ok(Kind::Path(p.to_owned()))
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

    fn rule(p: &str) -> Ignore {
        Ignore::parse(p, Origin::Configure("tests")).unwrap()
    }

    #[test]
    fn parses_paths_files_and_locations() {
        assert_eq!(
            Kind::parse("hyper::client::pool"),
            Ok(Kind::Path("hyper::client::pool".into()))
        );
        assert_eq!(
            Kind::parse("src/a.rs"),
            Ok(Kind::File {
                file: "src/a.rs".into(),
                line: None
            })
        );
        assert_eq!(
            Kind::parse("a.rs:42"),
            Ok(Kind::File {
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
            let err = Kind::parse(p).unwrap_err().to_string();
            assert!(err.contains(why), "{p:?}: {err}");
            assert!(err.contains("src/worker.rs:42"), "{err}");
        }
    }

    #[test]
    fn file_rules_match_at_component_boundaries() {
        let r = rule("metrics.rs");
        assert!(r.matches_location("src/metrics.rs", 3));
        assert!(r.matches_location("metrics.rs", 3));
        assert!(!r.matches_location("src/xmetrics.rs", 3));
        let r = rule("src/metrics.rs:7");
        assert!(r.matches_location("/home/u/p/src/metrics.rs", 7));
        assert!(!r.matches_location("src/metrics.rs", 8));
    }

    #[test]
    fn path_rules_match_at_segment_boundaries() {
        let r = rule("my_crate::metrics");
        assert!(r.matches_function("my_crate::metrics::flush::{{closure}}"));
        assert!(r.matches_function("<my_crate::metrics::Pump as core::future::Future>::poll"));
        assert!(r.matches_function("my_crate::metrics"));
        assert!(!r.matches_function("my_crate::metrics_v2::run"));
        assert!(!r.matches_location("src/metrics.rs", 1));
    }

    #[test]
    fn a_rule_that_never_matched_is_stale_until_it_does() {
        let r = Ignore::parse("stale_probe::x", Origin::Configure("here:1")).unwrap();
        let is_stale = |wide| {
            stale(wide)
                .iter()
                .any(|(p, o)| p == "stale_probe::x" && o == "taskleak::configure! at here:1")
        };
        assert!(is_stale(true));
        assert!(!is_stale(false), "configure! rules need the whole binary");
        assert!(r.matches_function("stale_probe::x::run"));
        assert!(!is_stale(true));
    }
}
