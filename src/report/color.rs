//! Terminal colour for reports: on when stderr is a terminal and `NO_COLOR`
//! is not set.
//!
//! Colour only ever wraps labels and names, never the `spawned at
//! file:line:col` text or the headline's count, so that a
//! `#[should_panic(expected = "...")]` matches the same way in a terminal
//! and in CI.

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
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Palette {
            on: !no_color && !dumb && std::io::stderr().is_terminal(),
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
