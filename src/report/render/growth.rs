//! The text of a growth check's report: the growing sites with their
//! numbers, then the newest of their tasks as a leak report's entries.

use std::fmt::{self, Formatter};

use super::{MAX_ENTRIES_SHOWN, dump_hint, entry, fold, tree};
use crate::report::color::Palette;
use crate::report::{Growth, Leaks};
use crate::util::escape::Term;
use crate::util::plural;

pub(super) fn growth(f: &mut Formatter<'_>, p: Palette, leaks: &Leaks, g: &Growth) -> fmt::Result {
    write!(f, "{} ", p.alarm("taskleak:"))?;
    let what = plural(g.sites.len(), "spawn site");
    if let Some((baseline, now)) = g.watch {
        writeln!(
            f,
            "watch: live tracked tasks went from {baseline} after warm-up to {now} over {} \
             (a round is a sample); growing the most:",
            plural(g.rounds as usize, "sample"),
        )?;
    } else {
        if let Some(test) = &leaks.test {
            write!(f, "test `{}`: ", p.strong(Term(test)))?;
        }
        writeln!(
            f,
            "{what} grew with the work: live tasks rose with the rounds ({}, after waiting up to \
             {} for them to end)",
            plural(g.rounds as usize, "round"),
            crate::util::human(leaks.grace)
        )?;
    }
    writeln!(f)?;
    for s in &g.sites {
        writeln!(f, "  {}", p.strong(Term(s.line())))?;
    }
    if !g.runtime.is_empty() {
        writeln!(f)?;
        writeln!(
            f,
            "  {}",
            p.strong("the runtimes over the run (tokio-metrics):")
        )?;
        for line in &g.runtime {
            writeln!(f, "    {}", Term(line))?;
        }
    }
    let groups = fold(&leaks.tasks);
    if !groups.is_empty() {
        writeln!(f)?;
        writeln!(f, "  the newest of these tasks, still running:")?;
    }
    for (i, group) in groups.iter().enumerate().take(MAX_ENTRIES_SHOWN) {
        writeln!(f)?;
        entry(f, p, i + 1, group, leaks)?;
    }
    tree(f, p, &groups)?;
    dump_hint(f, p, leaks)?;
    writeln!(f)?;
    write!(
        f,
        "  Each round left tasks from these sites running: a task per request or connection \
         that never ends (a handler waiting on a peer that is gone, a subscription nobody \
         drops). A pool or a fixed set of workers rises to its bound and stays there, which \
         passes."
    )
}
