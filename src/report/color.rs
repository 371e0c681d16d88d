//! Terminal colour for reports: on when stderr is a terminal and `NO_COLOR`
//! is not set.
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
    /// Colour if stderr is a terminal, `NO_COLOR` is unset or empty, and
    /// `TERM` is not `dumb`.
    pub(crate) fn for_stderr() -> Palette {
        Palette::decide(
            std::env::var_os("NO_COLOR"),
            std::env::var_os("TERM"),
            std::io::stderr().is_terminal(),
        )
    }

    fn decide(no_color: Option<OsString>, term: Option<OsString>, tty: bool) -> Palette {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        let dumb = term.is_some_and(|t| t == "dumb");
        Palette {
            on: tty && !no_color && !dumb,
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
            Palette::decide(no_color.map(Into::into), term.map(Into::into), tty).on
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
}
