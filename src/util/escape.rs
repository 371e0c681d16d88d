//! Text that taskleak did not write (file names, function, test and
//! thread names, paths) escaped for where it is shown, so that it can
//! never be read as something else there:
//!
//! - [`Term`]: a terminal or a CI log (stderr, stdout). Control characters
//!   are shown escaped (`\n`, `\u{1b}`), so a file name cannot start a new
//!   line that the GitHub Actions runner reads as a workflow command
//!   (`::error …`), nor move the cursor or change colours.
//! - [`markdown_code`]: a code span in a Markdown table cell (the step
//!   summary): no newline ends the row, no `|` ends the cell, no backtick
//!   ends the span.
//! - [`command_data`] and [`command_property`]: the message and the
//!   `file=`, `title=` values of a workflow command.

use std::fmt::{self, Display, Formatter, Write as _};

/// `text` as it is shown in a terminal or a log: control characters (and
/// the Unicode line separators and bidirectional overrides, which reorder
/// what a reader sees) escaped as in a Rust string literal.
///
/// ```ignore
/// eprintln!("spawned at {}", Term(location));
/// ```
#[derive(Clone, Copy, Debug)]
pub(crate) struct Term<T>(pub(crate) T);

impl<T: Display> Display for Term<T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(Escaping(f), "{}", self.0)
    }
}

/// Writes what it is given with control characters escaped.
struct Escaping<'a, 'b>(&'a mut Formatter<'b>);

impl fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(needs_escape) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", c as u32)?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// Would this character, printed as it is, change what a reader sees
/// around it?
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as a Markdown code span that keeps a table row whole: control
/// characters escaped as [`Term`] does, `|` escaped (GitHub's tables split
/// cells on it even inside code), and a fence longer than any run of
/// backticks inside.
pub(crate) fn markdown_code(text: &str) -> String {
    let shown = Term(text).to_string().replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in shown.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space inside its
    // fence (which Markdown strips).
    let pad = if shown.starts_with('`') || shown.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{shown}{pad}{fence}")
}

/// The message of a workflow command (`::error …::message`), escaped as
/// `@actions/core`'s `escapeData` does: it stays on one line.
pub(crate) fn command_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property of a workflow command (`file=`, `title=`), escaped as
/// `@actions/core`'s `escapeProperty` does: also no `:` (which ends the
/// properties) and no `,` (which separates them).
pub(crate) fn command_property(s: &str) -> String {
    command_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "x\n::error file=evil.rs,line=1::INJECTED";

    #[test]
    fn term_keeps_text_on_its_line() {
        assert_eq!(
            Term(EVIL).to_string(),
            "x\\n::error file=evil.rs,line=1::INJECTED"
        );
        assert_eq!(
            Term("a\r\tb\u{1b}[31mc\u{7f}\u{85}\u{2028}\u{202e}").to_string(),
            "a\\r\\tb\\u{1b}[31mc\\u{7f}\\u{85}\\u{2028}\\u{202e}"
        );
        assert_eq!(
            Term("src/lib.rs:12:5 → é").to_string(),
            "src/lib.rs:12:5 → é"
        );
        // Through Display, with the caller's arguments.
        assert_eq!(
            Term(format_args!("{}:{}", "a\nb", 3)).to_string(),
            "a\\nb:3"
        );
    }

    #[test]
    fn markdown_code_spans_keep_the_table_row() {
        assert_eq!(markdown_code("src/a.rs:3"), "`src/a.rs:3`");
        assert_eq!(
            markdown_code(EVIL),
            "`x\\n::error file=evil.rs,line=1::INJECTED`"
        );
        assert_eq!(markdown_code("a|b"), "`a\\|b`");
        assert_eq!(markdown_code("a`b``c"), "```a`b``c```");
        assert_eq!(markdown_code("`a"), "`` `a ``");
    }

    #[test]
    fn workflow_command_escapes() {
        assert_eq!(command_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(command_data("a:b\r\n"), "a:b%0D%0A");
        assert!(!command_data(EVIL).contains('\n'));
    }
}
