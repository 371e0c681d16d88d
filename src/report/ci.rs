//! A report as GitHub Actions workflow commands (annotations): the text
//! only; `outputs::ci` decides when to print it.

use std::fmt::Write as _;

use super::Leaks;
use super::render::fold;
use crate::util::escape::{command_data as data, command_property as property};

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
