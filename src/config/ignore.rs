//! Ignore rules: which survivors a check does not report. Parsing and
//! matching are pure: which rules a check used is part of its verdict
//! (`judge`), and the run's tally of them, for the stale-rule notice, is
//! kept by `suite::rules`.
//!
//! A rule is matched only against what a report shows as the user's: the
//! task's spawn site, its ancestors' spawn sites, and the frames listed
//! under "your frames" (see [`crate::report`]). Generic arguments are not
//! part of a path: `my::Pool` matches `my::Pool<M>::new`.

use std::borrow::Cow;
use std::fmt;
use std::panic::Location;

use taskleak_grammar::{Pattern, PatternError};

/// One ignore rule, parsed from a pattern string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Ignore {
    kind: Kind,
    pattern: String,
    origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Kind {
    /// A function path prefix, matched at a `::` boundary; kept without
    /// generic arguments, as names are compared.
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
    /// Parses a rule.
    pub(crate) fn parse(pattern: &str, origin: Origin) -> Result<Ignore, BadPattern> {
        let kind = Kind::parse(pattern)?;
        Ok(Ignore {
            kind,
            pattern: pattern.trim().to_owned(),
            origin,
        })
    }

    /// The pattern as written (trimmed).
    pub(crate) fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Where it was written.
    pub(crate) fn origin(&self) -> Origin {
        self.origin
    }

    /// Is this a function-path rule (which needs spawn-site frames)?
    pub(crate) fn is_path(&self) -> bool {
        matches!(self.kind, Kind::Path(_))
    }

    /// Does the rule match a location `file:line`?
    pub(crate) fn matches_location(&self, file: &str, line: u32) -> bool {
        match &self.kind {
            Kind::Path(_) => false,
            Kind::File {
                file: want,
                line: l,
            } => path_ends_with(file, want) && l.is_none_or(|l| l == line),
        }
    }

    /// Is this a `file:line` rule, and `file:line` another line of its
    /// file? (The stale notice then says that lines move.)
    pub(crate) fn same_file_elsewhere(&self, file: &str, line: u32) -> bool {
        match &self.kind {
            Kind::File {
                file: want,
                line: Some(l),
            } => *l != line && path_ends_with(file, want),
            _ => false,
        }
    }

    /// Does the rule match a function name (hash already stripped)?
    /// Generic arguments are left out on both sides.
    #[cfg(test)]
    pub(crate) fn matches_function(&self, name: &str) -> bool {
        self.matches_bare_function(&without_generics(name))
    }

    /// [`Ignore::matches_function`] for a name already without generic
    /// arguments: the judge strips a frame's name once, not once per rule
    /// (a config file may hold 10^5 rules).
    pub(crate) fn matches_bare_function(&self, bare: &str) -> bool {
        match &self.kind {
            Kind::File { .. } => false,
            Kind::Path(prefix) => path_matches(prefix, bare),
        }
    }
}

/// What one check learnt of one rule: the judge returns it, the run
/// keeps the tally (`suite::rules`) for the stale-rule notice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Use {
    /// It matched a task.
    pub(crate) matched: bool,
    /// A path rule met a task without frames (`TASKLEAK_BACKTRACE=short`
    /// or `off`): it could not be judged, so it is never called stale.
    pub(crate) blind: bool,
    /// A `file:line` rule met a task from the same file at another line.
    pub(crate) same_file: bool,
}

impl Use {
    /// Both uses in one.
    pub(crate) fn and(self, other: Use) -> Use {
        Use {
            matched: self.matched || other.matched,
            blind: self.blind || other.blind,
            same_file: self.same_file || other.same_file,
        }
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

impl Kind {
    /// The grammar is `taskleak-grammar`'s, shared with `#[leak_check]`.
    fn parse(pattern: &str) -> Result<Kind, BadPattern> {
        Ok(match taskleak_grammar::parse_pattern(pattern)? {
            Pattern::Path(path) => Kind::Path(without_generics(&path).into_owned()),
            Pattern::File { file, line } => Kind::File { file, line },
        })
    }
}

/// `a/b/c.rs` ends with `c.rs` and `b/c.rs`, not with `/c.rs` or `bc.rs`.
fn path_ends_with(path: &str, suffix: &str) -> bool {
    // Without allocating where there is no `\\`: every rule meets every
    // spawn site.
    let path: Cow<'_, str> = if path.contains('\\') {
        Cow::Owned(path.replace('\\', "/"))
    } else {
        Cow::Borrowed(path)
    };
    let path = path.as_ref();
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
}
