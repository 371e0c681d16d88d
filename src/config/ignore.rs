//! Ignore rules: which survivors a check does not report, and the
//! registry of rules in force, for the stale-rule notice at exit.
//!
//! Parsing is pure. A rule joins the registry when a check uses it
//! ([`register`]), once per pattern and origin however many checks use it,
//! and every copy marks the same flags: at the end of the test binary a
//! rule that matched nothing can be pointed out (ignore lists rot
//! otherwise), in time linear in the number of distinct rules.
//!
//! A rule is matched only against what a report shows as the user's: the
//! task's spawn site, its ancestors' spawn sites, and the frames listed
//! under "your frames" (see [`crate::report`]). Generic arguments are not
//! part of a path: `my::Pool` matches `my::Pool<M>::new`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use parking_lot::Mutex;
use taskleak_grammar::{Pattern, PatternError};

/// One ignore rule, parsed from a pattern string.
#[derive(Clone, Debug)]
pub(crate) struct Ignore {
    kind: Kind,
    pattern: String,
    origin: Origin,
    flags: Arc<Flags>,
}

/// What the stale-rule notice needs to know about a rule; shared by every
/// copy of it.
#[derive(Debug, Default)]
struct Flags {
    /// It matched a task.
    used: AtomicBool,
    /// A path rule met a task without frames (`TASKLEAK_BACKTRACE=short`
    /// or `off`): it could not be judged, so it is never called stale.
    blind: AtomicBool,
    /// A `file:line` rule met a task from the same file at another line.
    same_file: AtomicBool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// A function path prefix, matched at a `::` boundary.
    Path(String),
    /// A source file, optionally a line in it.
    File { file: String, line: Option<u32> },
}

/// Where a rule was written, for the stale-rule notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// Why an ignore pattern was refused (the grammar crate's words).
pub(crate) type BadPattern = PatternError;

impl Ignore {
    /// Parses a rule; no side effects (see [`register`]).
    pub(crate) fn parse(pattern: &str, origin: Origin) -> Result<Ignore, BadPattern> {
        let kind = Kind::parse(pattern)?;
        Ok(Ignore {
            kind,
            pattern: pattern.trim().to_owned(),
            origin,
            flags: Arc::default(),
        })
    }

    /// Is this a function-path rule (which needs spawn-site frames)?
    pub(crate) fn is_path(&self) -> bool {
        matches!(self.kind, Kind::Path(_))
    }

    /// Does the rule match a location `file:line`?
    pub(crate) fn matches_location(&self, file: &str, line: u32) -> bool {
        let hit = match &self.kind {
            Kind::Path(_) => false,
            Kind::File {
                file: want,
                line: l,
            } => {
                let in_file = path_ends_with(file, want);
                if in_file && l.is_some_and(|l| l != line) {
                    self.flags.same_file.store(true, Relaxed);
                }
                in_file && l.is_none_or(|l| l == line)
            }
        };
        self.mark(hit)
    }

    /// Does the rule match a function name (hash already stripped)?
    /// Generic arguments are left out on both sides.
    pub(crate) fn matches_function(&self, name: &str) -> bool {
        let hit = match &self.kind {
            Kind::File { .. } => false,
            Kind::Path(prefix) => path_matches(&without_generics(prefix), &without_generics(name)),
        };
        self.mark(hit)
    }

    /// Says that the rule met a task it could not judge: a path rule and a
    /// task whose spawn-site frames were not captured.
    pub(crate) fn met_without_frames(&self) {
        if self.is_path() {
            self.flags.blind.store(true, Relaxed);
        }
    }

    fn mark(&self, hit: bool) -> bool {
        if hit {
            self.flags.used.store(true, Relaxed);
        }
        hit
    }
}

/// Does function `name` lie under path `prefix`, at a `::` boundary?
/// `<my_crate::Foo as Trait>::poll` belongs to `my_crate::Foo` too.
fn path_matches(prefix: &str, name: &str) -> bool {
    let name = name
        .trim_start_matches(['<', '&', '*'])
        .trim_start_matches("mut ")
        .trim_start_matches("dyn ");
    name.strip_prefix(prefix).is_some_and(|rest| {
        rest.is_empty()
            || rest.starts_with("::")
            || rest.starts_with(" as ")
            || rest.starts_with('>')
    })
}

/// A path without its generic arguments: `a::Pool<M>::new` is
/// `a::Pool::new`, `<a::Pool<M> as b::Tr<T>>::f` is `<a::Pool as b::Tr>::f`,
/// `a::f::<T>` is `a::f`. A `<` opens generic arguments after a name or
/// `::`; elsewhere it opens a qualified path (`<T as Trait>`), kept.
pub(crate) fn without_generics(path: &str) -> Cow<'_, str> {
    if !path.contains('<') {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    // For each open `<`: does it open generic arguments (dropped)?
    let mut open: Vec<bool> = Vec::new();
    let mut prev = ' ';
    for c in path.chars() {
        let dropping = open.iter().any(|&generic| generic);
        match c {
            '<' => {
                let generic = prev.is_alphanumeric() || prev == '_' || prev == ':';
                if generic && !dropping && out.ends_with("::") {
                    out.truncate(out.len() - 2); // turbofish
                }
                if !generic && !dropping {
                    out.push(c);
                }
                open.push(generic);
            }
            '>' if prev != '-' && !open.is_empty() => {
                let generic = open.pop().unwrap_or(false);
                if !generic && !dropping {
                    out.push(c);
                }
            }
            _ if !dropping => out.push(c),
            _ => {}
        }
        prev = c;
    }
    Cow::Owned(out)
}

/// The registry: every rule some check used, once per (pattern, origin).
struct Registered {
    rules: Vec<(String, Origin, Arc<Flags>)>,
    index: HashMap<(String, Origin), usize>,
}

static REGISTRY: Mutex<Option<Registered>> = Mutex::new(None);

/// Enters `rule` in the registry, or makes it share the flags of the rule
/// already there with the same pattern and origin (a check in a loop, the
/// same test run many times).
pub(crate) fn register(rule: &mut Ignore) {
    let mut reg = REGISTRY.lock();
    let reg = reg.get_or_insert_with(|| Registered {
        rules: Vec::new(),
        index: HashMap::new(),
    });
    let key = (rule.pattern.clone(), rule.origin);
    match reg.index.get(&key) {
        Some(&i) => rule.flags = reg.rules[i].2.clone(),
        None => {
            reg.index.insert(key, reg.rules.len());
            reg.rules
                .push((rule.pattern.clone(), rule.origin, rule.flags.clone()));
        }
    }
}

/// [`register`] for a rule that cannot be changed (`configure!`'s, parsed
/// once, so its flags are the only ones for its key).
pub(crate) fn register_shared(rule: &Ignore) {
    let mut copy = rule.clone();
    register(&mut copy);
}

/// A rule that matched no task, for the notice at exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stale {
    pub(crate) pattern: String,
    pub(crate) origin: String,
    /// A `file:line` rule whose file held a spawn at another line.
    pub(crate) same_file: bool,
}

/// Rules that matched nothing in this process, with where they were
/// written. Rules of `configure!` are left out when `binary_wide` is false
/// (one process per test, as under nextest, cannot tell); so are rules
/// that could not be judged.
pub(crate) fn stale(binary_wide: bool) -> Vec<Stale> {
    let reg = REGISTRY.lock();
    let Some(reg) = reg.as_ref() else {
        return Vec::new();
    };
    reg.rules
        .iter()
        .filter(|(_, origin, flags)| {
            (binary_wide || !matches!(origin, Origin::Configure(_) | Origin::File(_)))
                && !flags.used.load(Relaxed)
                && !flags.blind.load(Relaxed)
        })
        .map(|(pattern, origin, flags)| Stale {
            pattern: pattern.clone(),
            origin: origin.to_string(),
            same_file: flags.same_file.load(Relaxed),
        })
        .collect()
}

/// How many distinct rules are registered.
#[cfg(test)]
fn registered() -> usize {
    REGISTRY.lock().as_ref().map_or(0, |r| r.rules.len())
}

impl Kind {
    /// The grammar is `taskleak-grammar`'s, shared with `#[leak_check]`.
    fn parse(pattern: &str) -> Result<Kind, BadPattern> {
        Ok(match taskleak_grammar::parse_pattern(pattern)? {
            Pattern::Path(path) => Kind::Path(path),
            Pattern::File { file, line } => Kind::File { file, line },
        })
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
            ("a.rs:0", "numbered from 1"),
            ("my crate", "a space"),
            ("a::::b", "empty segment"),
            ("a/b", "does not end in `.rs`"),
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
        assert!(
            r.matches_function("<my_crate::metrics::Pump as core::future::future::Future>::poll")
        );
        assert!(r.matches_function("my_crate::metrics"));
        assert!(!r.matches_function("my_crate::metrics_v2::run"));
        assert!(!r.matches_location("src/metrics.rs", 1));
    }

    #[test]
    fn generic_arguments_are_not_part_of_a_path() {
        let r = rule("my::Pool");
        assert!(r.matches_function("my::Pool<M>::new"));
        assert!(r.matches_function("<my::Pool<M> as my::Trait>::f"));
        assert!(r.matches_function("my::Pool<alloc::vec::Vec<u8>>::new::{{closure}}"));
        assert!(r.matches_function("<&mut my::Pool<M> as core::ops::Drop>::drop"));
        assert!(!r.matches_function("my::Pools<M>::new"));
        assert!(!r.matches_function("core::ptr::drop_in_place<my::Pool<M>>"));
        let r = rule("bb8::inner::PoolInner");
        assert!(r.matches_function("bb8::inner::PoolInner<M>::spawn_replenishing::{{closure}}"));
        let r = rule("bb8::inner::PoolInner<M>::new");
        assert!(r.matches_function("bb8::inner::PoolInner<M>::new"));
        assert!(r.matches_function("bb8::inner::PoolInner<T>::new"));
    }

    #[test]
    fn without_generics_keeps_qualified_paths_and_drops_arguments() {
        for (with, without) in [
            ("a::B", "a::B"),
            ("a::B<T>::f", "a::B::f"),
            (
                "hyper_util::client::legacy::pool::PoolInner<T,K>::spawn_idle_interval",
                "hyper_util::client::legacy::pool::PoolInner::spawn_idle_interval",
            ),
            ("<a::B<T> as c::D<U>>::f", "<a::B as c::D>::f"),
            ("a::f::<T>", "a::f"),
            ("a::B<fn() -> u8>::f", "a::B::f"),
            (
                "<F as core::future::future::Future>::poll",
                "<F as core::future::future::Future>::poll",
            ),
        ] {
            assert_eq!(without_generics(with), without, "{with}");
        }
    }

    #[test]
    fn a_rule_that_never_matched_is_stale_until_it_does() {
        let mut r = Ignore::parse("stale_probe::x", Origin::Configure("here:1")).unwrap();
        register(&mut r);
        let is_stale = |wide| {
            stale(wide).iter().any(|s| {
                s.pattern == "stale_probe::x" && s.origin == "taskleak::configure! at here:1"
            })
        };
        assert!(is_stale(true));
        assert!(!is_stale(false), "configure! rules need the whole binary");
        assert!(r.matches_function("stale_probe::x::run"));
        assert!(!is_stale(true));
    }

    #[test]
    fn parsing_registers_nothing_and_one_rule_used_by_many_checks_is_one_entry() {
        let at = Location::caller();
        let before = registered();
        let first = Ignore::parse("dedup_probe::x", Origin::Check(at)).unwrap();
        assert_eq!(registered(), before, "parsing is pure");
        for _ in 0..100_000 {
            let mut r = first.clone();
            r.flags = Arc::default(); // as a fresh parse would
            register(&mut r);
        }
        assert_eq!(registered(), before + 1);
        let mut again = Ignore::parse("dedup_probe::x", Origin::Check(at)).unwrap();
        register(&mut again);
        assert!(again.matches_function("dedup_probe::x"));
        // The registered copy shares the flag: no longer stale.
        assert!(!stale(false).iter().any(|s| s.pattern == "dedup_probe::x"));
    }

    #[test]
    fn a_path_rule_that_met_no_frames_is_not_stale() {
        let mut r = Ignore::parse("blind_probe::x", Origin::Check(Location::caller())).unwrap();
        register(&mut r);
        r.met_without_frames();
        assert!(!stale(false).iter().any(|s| s.pattern == "blind_probe::x"));
    }

    #[test]
    fn a_line_rule_remembers_a_spawn_elsewhere_in_its_file() {
        let mut r =
            Ignore::parse("src/line_probe.rs:7", Origin::Check(Location::caller())).unwrap();
        register(&mut r);
        assert!(!r.matches_location("src/line_probe.rs", 9));
        let s = stale(false);
        let s = s
            .iter()
            .find(|s| s.pattern == "src/line_probe.rs:7")
            .unwrap();
        assert!(s.same_file);
    }
}
