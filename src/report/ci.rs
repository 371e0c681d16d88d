//! A report as GitHub Actions workflow commands (annotations): the text
//! only; `outputs::ci` decides when to print it.

use std::fmt::Write as _;

use super::render::fold;
use super::{LeakedTask, Leaks};
use crate::util::escape::{command_data as data, command_property as property};

/// Where an annotation points: the line the summary files the leak under
/// (`judge::site::place` decides), with a column when it is a spawn site.
pub(crate) struct Place {
    /// Relative to the workspace root.
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) column: Option<u32>,
    /// The task's own spawn site (else a line of the user's that led to it).
    pub(crate) own: bool,
}

/// One `::error file=..,line=..,col=..,title=..::message` line (or
/// `::warning`, as `level` says) per group of identical survivors, at the
/// place `place` gives for it.
pub(crate) fn annotations(
    leaks: &Leaks,
    level: &str,
    place: &dyn Fn(&LeakedTask) -> Place,
) -> String {
    let mut out = String::new();
    if let Some(g) = leaks.growth() {
        for s in &g.sites {
            let Some(task) = leaks.tasks.iter().rev().find(|t| t.spawned_at == s.site) else {
                continue;
            };
            // At the growing site itself (`judge::site::place_growing`,
            // which outputs passes as `place` for a growth report).
            let title = "taskleak: live tasks grow with the rounds";
            line(&mut out, level, &place(task), title, &s.line());
        }
        return out;
    }
    let test = leaks.test.as_deref().unwrap_or("a test");
    for group in fold(&leaks.tasks) {
        let task = group[0];
        let at = place(task);
        let n = group.len();
        let what = if n == 1 {
            "1 task".to_string()
        } else {
            format!("{n} tasks")
        };
        let spawned = if at.own {
            "spawned here".to_owned()
        } else {
            let site = task.spawned_at;
            let file = crate::task::frame::relative(std::path::Path::new(site.file()));
            format!("spawned from here (at {file}:{})", site.line())
        };
        let message = format!(
            "{what} {spawned} still running {}ms after the test body of {test}",
            leaks.grace.as_millis()
        );
        line(
            &mut out,
            level,
            &at,
            &format!("taskleak: {what} leaked"),
            &message,
        );
    }
    out
}

/// One workflow command: `::<level> file=..,line=..[,col=..],title=..::message`.
fn line(out: &mut String, level: &str, at: &Place, title: &str, message: &str) {
    let column = at.column.map(|c| format!(",col={c}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "::{level} file={},line={}{column},title={}::{}",
        property(&at.file),
        at.line,
        property(title),
        data(message),
    );
}
