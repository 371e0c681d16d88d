//! A report as GitHub Actions workflow commands (annotations): the text
//! only; `outputs::ci` decides when to print it.

use std::fmt::Write as _;

use super::Leaks;
use super::render::fold;

/// One `::error file=..,line=..,col=..,title=..::message` line (or
/// `::warning`, as `level` says) per group of identical survivors.
pub(crate) fn annotations(leaks: &Leaks, level: &str) -> String {
    let mut out = String::new();
    let test = leaks.test.as_deref().unwrap_or("a test");
    for group in fold(&leaks.tasks) {
        let site = group[0].spawned_at;
        let n = group.len();
        let what = if n == 1 {
            "1 task".to_string()
        } else {
            format!("{n} tasks")
        };
        let message = format!(
            "{what} spawned here still running {}ms after the test body of {test}",
            leaks.grace.as_millis()
        );
        let _ = writeln!(
            out,
            "::{level} file={},line={},col={},title={}::{}",
            property(site.file()),
            site.line(),
            site.column(),
            property(&format!("taskleak: {what} leaked")),
            data(&message),
        );
    }
    out
}

/// Escaping of workflow-command data and property values (as in
/// `@actions/core`'s `escapeData` / `escapeProperty`).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(data("a:b\r\n"), "a:b%0D%0A");
    }
}
