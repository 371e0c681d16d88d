//! Terminal colour for reports: on when stderr is a terminal and `NO_COLOR`
//! is not set, or when `CLICOLOR_FORCE` asks for it.
//!
//! Colour only ever wraps labels and names, never the `spawned at
//! file:line:col` text or the headline's count, so that a
//! `#[should_panic(expected = "...")]` matches the same way in a terminal
//! and in CI.

use std::ffi::OsString;
use std::fmt::{self, Display};
use std::io::IsTerminal;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Palette {
    pub(crate) on: bool,
}

/// Text with an ANSI style, if the palette is on.
pub(crate) struct Painted<T> {
    text: T,
    code: &'static str,
    on: bool,
}

impl<T: Display> Display for Painted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.on {
            write!(f, "\x1b[{}m{}\x1b[0m", self.code, self.text)
        } else {
            self.text.fmt(f)
        }
    }
}

impl Palette {
    /// Never with `NO_COLOR` set (non-empty); else always with
    /// `CLICOLOR_FORCE` set to anything but `0` or empty (CI logs that
    /// render colour); else if stderr is a terminal, `TERM` is not `dumb`
    /// and `CLICOLOR` is not `0`.
    pub(crate) fn for_stderr() -> Palette {
        Palette::decide(|k| std::env::var_os(k), std::io::stderr().is_terminal())
    }

    fn decide(var: impl Fn(&str) -> Option<OsString>, tty: bool) -> Palette {
        let set = |k: &str| var(k).is_some_and(|v| !v.is_empty() && v != "0");
        let no_color = var("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = var("TERM").is_some_and(|t| t == "dumb");
        let clicolor_off = var("CLICOLOR").is_some_and(|v| v == "0");
        Palette {
            on: !no_color && (set("CLICOLOR_FORCE") || (tty && !dumb && !clicolor_off)),
        }
    }

    fn paint<T: Display>(self, code: &'static str, text: T) -> Painted<T> {
        Painted {
            text,
            code,
            on: self.on,
        }
    }

    pub(crate) fn alarm<T: Display>(self, t: T) -> Painted<T> {
        self.paint("1;31", t)
    }
    pub(crate) fn strong<T: Display>(self, t: T) -> Painted<T> {
        self.paint("1", t)
    }
    pub(crate) fn user<T: Display>(self, t: T) -> Painted<T> {
        self.paint("1;36", t)
    }
    pub(crate) fn dim<T: Display>(self, t: T) -> Painted<T> {
        self.paint("2", t)
    }
    pub(crate) fn warn<T: Display>(self, t: T) -> Painted<T> {
        self.paint("1;33", t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let on = |no_color: Option<&str>, term: Option<&str>, tty| {
            let var = |k: &str| match k {
                "NO_COLOR" => no_color.map(Into::into),
                "TERM" => term.map(Into::into),
                _ => None,
            };
            Palette::decide(var, tty).on
        };
        assert!(on(None, Some("xterm-256color"), true));
        assert!(!on(None, Some("xterm"), false), "not a terminal");
        assert!(!on(Some("1"), Some("xterm"), true), "NO_COLOR set");
        assert!(
            on(Some(""), Some("xterm"), true),
            "NO_COLOR empty counts as unset"
        );
        assert!(!on(None, Some("dumb"), true), "TERM=dumb");
    }

    #[test]
    fn clicolor_force_colours_a_pipe_unless_no_color() {
        let on = |vars: &[(&str, &str)], tty| {
            let var = |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            };
            Palette::decide(var, tty).on
        };
        assert!(on(&[("CLICOLOR_FORCE", "1")], false));
        assert!(on(&[("CLICOLOR_FORCE", "1"), ("TERM", "dumb")], false));
        assert!(!on(&[("CLICOLOR_FORCE", "0")], false));
        assert!(!on(&[("CLICOLOR_FORCE", "")], false));
        assert!(!on(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], true));
        assert!(!on(&[("CLICOLOR", "0")], true));
    }
}
