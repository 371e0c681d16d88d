//! Ignore patterns: a function path prefix (`"my_crate::worker"`), a file
//! (`"src/worker.rs"`) or a line in one (`"src/worker.rs:42"`).
//!
//! A path is accepted as a report prints it, so that a frame can be copied
//! into a rule: generic arguments (`PoolInner<T, K>`, nested, with commas
//! and spaces), qualified paths (`<my::Pool<M> as Trait>::f`), turbofish
//! (`f::<T>`) and closure markers (`{{closure}}`). Generic arguments are not
//! part of the path for matching, so the parsed path leaves them out.

use std::fmt;

/// A parsed ignore pattern.
///
/// ```
/// use taskleak_grammar::{Pattern, parse_pattern};
///
/// assert_eq!(
///     parse_pattern("src/pool.rs:42").unwrap(),
///     Pattern::File { file: "src/pool.rs".into(), line: Some(42) },
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// A function path prefix, generic arguments removed and spaces
    /// normalized (see [`strip_generics`]).
    Path(String),
    /// A source file (`\` written as `/`), and a line in it if given.
    File {
        /// The file, as written, with `/` separators.
        file: String,
        /// The line, numbered from 1.
        line: Option<u32>,
    },
}

/// Why an ignore pattern was refused. `Display` names the pattern, the
/// reason, and the three forms to write instead.
///
/// ```
/// let err = taskleak_grammar::parse_pattern("src/pool.rs:0").unwrap_err();
/// assert_eq!(err.reason(), "lines are numbered from 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
    why: String,
}

impl PatternError {
    /// The reason alone, without the pattern or the valid forms.
    ///
    /// ```
    /// let err = taskleak_grammar::parse_pattern("").unwrap_err();
    /// assert_eq!(err.reason(), "it is empty");
    /// ```
    pub fn reason(&self) -> &str {
        &self.why
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid ignore pattern {:?}: {}; write a path prefix like \"my_crate::worker\", \
             a file like \"src/worker.rs\" or a location like \"src/worker.rs:42\"",
            self.pattern, self.why
        )
    }
}

impl std::error::Error for PatternError {}

/// Parses an ignore pattern: a `.rs` file, optionally with `:line`, or else
/// a `::` path.
///
/// ```
/// use taskleak_grammar::{Pattern, parse_pattern};
///
/// let copied = "hyper_util::client::legacy::pool::PoolInner<T,K>::spawn_idle_interval";
/// assert_eq!(
///     parse_pattern(copied).unwrap(),
///     Pattern::Path("hyper_util::client::legacy::pool::PoolInner::spawn_idle_interval".into()),
/// );
/// assert_eq!(
///     parse_pattern("<my::Pool<M> as my::Trait>::f").unwrap(),
///     Pattern::Path("<my::Pool as my::Trait>::f".into()),
/// );
/// ```
pub fn parse_pattern(pattern: &str) -> Result<Pattern, PatternError> {
    let fail = |why: String| PatternError {
        pattern: pattern.to_owned(),
        why,
    };
    let p = pattern.trim();
    if p.is_empty() {
        return Err(fail("it is empty".into()));
    }
    if let Some(file) = file_pattern(p).map_err(fail)? {
        return Ok(file);
    }
    check_path(p).map_err(fail)?;
    Ok(Pattern::Path(strip_generics(p)))
}

/// `Some` when `p` names a `.rs` file, with an optional `:line`.
fn file_pattern(p: &str) -> Result<Option<Pattern>, String> {
    let file = |f: &str, line| {
        Some(Pattern::File {
            file: f.replace('\\', "/"),
            line,
        })
    };
    if p.ends_with(".rs") {
        return Ok(file(p, None));
    }
    let Some(rs) = p.rfind(".rs:") else {
        return Ok(None);
    };
    let (name, after) = (&p[..rs + 3], &p[rs + 4..]);
    let (line, column) = match after.split_once(':') {
        Some((line, column)) => (line, Some(column)),
        None => (after, None),
    };
    let line = match line.parse::<u32>() {
        Ok(0) => return Err("lines are numbered from 1".into()),
        Ok(n) => n,
        Err(_) => {
            return Err(format!(
                "the part after `.rs:` is not a line number: write \"{name}:42\""
            ));
        }
    };
    if let Some(column) = column {
        return Err(format!(
            "`:{column}` after the line is a column, which rules do not use: write \"{name}:{line}\""
        ));
    }
    Ok(file(name, Some(line)))
}

/// Checks a path: `::`-separated names outside brackets; inside `<..>`,
/// `(..)`, `[..]` and `{..}`, anything balanced.
fn check_path(p: &str) -> Result<(), String> {
    if p.contains(['/', '\\']) {
        return Err(
            "it has a `/` but does not end in `.rs`: a file rule names a `.rs` file, such as \"src/worker.rs\""
                .into(),
        );
    }
    let mut open: Vec<char> = Vec::new();
    let mut segment = Segment::default();
    let mut chars = p.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !open.is_empty() {
            match c {
                '<' | '(' | '[' | '{' => open.push(c),
                // `->` in `Fn() -> T` closes nothing.
                '>' if p[..i].ends_with('-') => {}
                '>' | ')' | ']' | '}' => close(&mut open, c)?,
                c if c.is_control() => return Err("it contains a control character".into()),
                _ => {}
            }
            if open.is_empty() {
                segment.group = true;
            }
            continue;
        }
        match c {
            '<' | '{' | '(' | '[' => {
                open.push(c);
            }
            '>' | ')' | ']' | '}' => close(&mut open, c)?,
            ':' => {
                if chars.next_if(|&(_, c)| c == ':').is_none() {
                    return Err(
                        "a single `:` is not part of a path (a path uses `::`, and `:line` follows only a `.rs` file)"
                            .into(),
                    );
                }
                segment.end(i == 0, false)?;
                segment = Segment::default();
            }
            c if c.is_alphanumeric() || c == '_' => {
                if segment.group {
                    return Err(format!(
                        "`{c}` follows a `>` or `}}` directly: a path continues with `::`"
                    ));
                }
                segment.name = true;
            }
            c if c.is_whitespace() => {
                return Err(
                    "it contains a space outside `<...>`: a path is `::`-separated names such as \"my_crate::worker\""
                        .into(),
                );
            }
            '.' => {
                return Err("`.` is not part of a Rust path, and a file rule ends in `.rs`".into());
            }
            c => return Err(format!("`{c}` cannot appear in a path outside `<...>`")),
        }
    }
    if let Some(c) = open.last() {
        return Err(format!("its `{c}` is never closed"));
    }
    segment.end(false, true)
}

/// What one `::`-separated segment held, outside brackets.
#[derive(Default)]
struct Segment {
    name: bool,
    group: bool,
}

impl Segment {
    fn end(&self, first: bool, last: bool) -> Result<(), String> {
        if self.name || self.group {
            return Ok(());
        }
        Err(if first {
            "it starts with `::`: write the crate's name first, such as \"my_crate::worker\"".into()
        } else if last {
            "it ends with `::`: remove it, a path prefix matches at `::` boundaries anyway".into()
        } else {
            "it has an empty segment (`::::`)".into()
        })
    }
}

fn close(open: &mut Vec<char>, c: char) -> Result<(), String> {
    let want = match c {
        '>' => '<',
        ')' => '(',
        ']' => '[',
        _ => '{',
    };
    match open.pop() {
        Some(o) if o == want => Ok(()),
        Some(o) => Err(format!("its `{o}` is closed by `{c}`")),
        None => Err(format!("its `{c}` has no opening `{want}`")),
    }
}

/// A function path without its generic arguments, spaces normalized:
/// `my::Pool<M>::new` → `my::Pool::new`, `f::<T>` → `f`,
/// `<my::Pool<M> as Trait<X>>::f` → `<my::Pool as Trait>::f`. A `<` that
/// follows a name (or a name and `::`) opens generic arguments; any other
/// `<` opens a qualified path, which is kept.
///
/// Patterns are stored this way; matching a frame's name with the same
/// function makes `my::Pool` match `my::Pool<M>::new`.
///
/// ```
/// assert_eq!(
///     taskleak_grammar::strip_generics("a::B<T, Vec<u8>>::f::<X>::{{closure}}"),
///     "a::B::f::{{closure}}",
/// );
/// ```
pub fn strip_generics(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    while let Some(c) = chars.next() {
        let after_name = out.chars().last().is_some_and(is_name);
        let turbofish =
            out.ends_with("::") && out[..out.len() - 2].chars().last().is_some_and(is_name);
        if c == '<' && (after_name || turbofish) {
            if turbofish {
                out.truncate(out.len() - 2);
            }
            skip_group(&mut chars);
        } else if c.is_whitespace() {
            // One space, and only between two names (`as`, `dyn`, `mut`).
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let next_is_name = chars.peek().is_some_and(|&c| is_name(c) || c == '\'');
            if after_name && next_is_name {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Skips to the `>` that closes a `<` already read, nesting included.
fn skip_group(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    let mut depth = 1usize;
    let mut prev = '<';
    for c in chars.by_ref() {
        match c {
            '<' => depth += 1,
            '>' if prev != '-' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
        prev = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Pattern {
        Pattern::Path(p.into())
    }

    fn file(f: &str, line: Option<u32>) -> Pattern {
        Pattern::File {
            file: f.into(),
            line,
        }
    }

    /// Every pattern a user can write, with what it parses to: the one
    /// table for `Options::ignore`, `#[leak_check(ignore = [..])]`,
    /// `configure!` and the config file.
    #[test]
    fn accepts_what_a_report_prints() {
        for (text, want) in [
            ("my_crate", path("my_crate")),
            ("hyper::client::pool", path("hyper::client::pool")),
            (
                "hyper_util::client::legacy::pool::PoolInner<T,K>::spawn_idle_interval",
                path("hyper_util::client::legacy::pool::PoolInner::spawn_idle_interval"),
            ),
            (
                "hyper_util::client::legacy::pool::PoolInner<T, K>::spawn_idle_interval",
                path("hyper_util::client::legacy::pool::PoolInner::spawn_idle_interval"),
            ),
            ("<my::Pool<M> as Trait>::f", path("<my::Pool as Trait>::f")),
            (
                "<my::Pool<HashMap<K, Vec<V>>> as  core::future::Future>::poll",
                path("<my::Pool as core::future::Future>::poll"),
            ),
            ("my::run::<u8>", path("my::run")),
            ("my::run::{{closure}}", path("my::run::{{closure}}")),
            ("my::f<Box<dyn Fn() -> u8>>::g", path("my::f::g")),
            (
                "<my::S as my::T<&'a mut u8>>::f",
                path("<my::S as my::T>::f"),
            ),
            ("  a::b  ", path("a::b")),
            ("src/a.rs", file("src/a.rs", None)),
            ("a.rs:42", file("a.rs", Some(42))),
            ("C:\\p\\x.rs:7", file("C:/p/x.rs", Some(7))),
            ("my dir/x.rs", file("my dir/x.rs", None)),
        ] {
            assert_eq!(parse_pattern(text), Ok(want), "{text:?}");
        }
    }

    /// Refused patterns and the reason each one's message gives.
    #[test]
    fn refuses_with_the_real_reason() {
        for (text, why) in [
            ("", "it is empty"),
            ("  ", "it is empty"),
            ("a.rs:x", "not a line number: write \"a.rs:42\""),
            ("a.rs:0", "numbered from 1"),
            (
                "src/a.rs:42:9",
                "is a column, which rules do not use: write \"src/a.rs:42\"",
            ),
            ("my crate", "a space outside `<...>`"),
            ("a::::b", "empty segment"),
            ("::a", "starts with `::`"),
            ("a::", "ends with `::`"),
            ("a/b", "does not end in `.rs`"),
            ("a.b", "`.` is not part of a Rust path"),
            ("a:b", "a single `:`"),
            ("a::B<T", "`<` is never closed"),
            ("a::B>", "`>` has no opening `<`"),
            ("a::B<T)", "`<` is closed by `)`"),
            ("a::B<T>x", "follows a `>`"),
            ("a::$b", "`$` cannot appear"),
        ] {
            let err = parse_pattern(text).expect_err(text);
            assert!(err.reason().contains(why), "{text:?}: {err}");
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("invalid ignore pattern {text:?}: ")),
                "{msg}"
            );
            assert!(
                msg.ends_with("a location like \"src/worker.rs:42\""),
                "{msg}"
            );
        }
    }

    #[test]
    fn strips_generics_from_frame_names_as_from_patterns() {
        for (name, want) in [
            (
                "bb8::inner::PoolInner<M>::new",
                "bb8::inner::PoolInner::new",
            ),
            (
                "<F as core::future::Future>::poll",
                "<F as core::future::Future>::poll",
            ),
            ("a::b", "a::b"),
            ("a::B<T>::f::{{closure}}", "a::B::f::{{closure}}"),
            ("a::B<unclosed", "a::B"),
        ] {
            assert_eq!(strip_generics(name), want, "{name}");
        }
    }
}
