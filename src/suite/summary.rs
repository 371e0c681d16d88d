//! The suite summary: a binary's (or a whole run's) leaks grouped by spawn
//! site, most tests first, so that one helper behind 200 failures reads as
//! one line to fix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

pub(crate) use super::entry::{Entry, State};
use crate::util::escape::{Term, markdown_code};
use crate::util::plural;

/// Test names listed per site before "… and N more".
const NAMES_SHOWN: usize = 6;

/// One spawn site and the tests that leaked from it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Group<'a> {
    pub(crate) site: &'a str,
    pub(crate) tests: Vec<&'a str>,
    /// Tasks from the site, in all its tests.
    pub(crate) tasks: usize,
}

pub(crate) struct Summary {
    /// Tests that ran under a leak check.
    checked: usize,
    /// Show each site's tasks (the run report), not only its tests.
    show_tasks: bool,
    entries: Vec<Entry>,
    baseline: PathBuf,
}

impl Summary {
    pub(crate) fn new(checked: usize, mut entries: Vec<Entry>, baseline: PathBuf) -> Summary {
        entries.sort();
        entries.dedup();
        // As the user would type it from where tests run (the package).
        let baseline = std::env::current_dir()
            .ok()
            .and_then(|cwd| baseline.strip_prefix(cwd).ok().map(PathBuf::from))
            .unwrap_or(baseline);
        Summary {
            checked,
            show_tasks: false,
            entries,
            baseline,
        }
    }

    /// Each site's line also says how many tasks leaked from it, where a
    /// test leaked more than one.
    pub(crate) fn with_tasks(mut self) -> Summary {
        self.show_tasks = true;
        self
    }

    pub(crate) fn checked(&self) -> usize {
        self.checked
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// " beyond the baseline" where a baseline had a say: it listed a
    /// leak of this run, or one it no longer sees.
    fn beyond(&self) -> &'static str {
        let baselined = self.entries.iter().any(|e| e.state >= State::Known);
        if baselined {
            " beyond the baseline"
        } else {
            ""
        }
    }

    /// Anything to say beyond "all clean"?
    pub(crate) fn worth_showing(&self) -> bool {
        !self.entries.is_empty()
    }

    /// Sites of the entries in `state`, most tests first (then by site).
    pub(crate) fn groups(&self, state: State) -> Vec<Group<'_>> {
        let mut by_site: BTreeMap<&str, (BTreeSet<&str>, usize)> = BTreeMap::new();
        for e in self.entries.iter().filter(|e| e.state == state) {
            let slot = by_site.entry(&e.site).or_default();
            slot.0.insert(&e.test);
            slot.1 += e.count;
        }
        let mut groups: Vec<Group<'_>> = by_site
            .into_iter()
            .map(|(site, (tests, tasks))| Group {
                site,
                tests: tests.into_iter().collect(),
                tasks,
            })
            .collect();
        groups.sort_by(|a, b| {
            let by_site = site_order(a.site).cmp(&site_order(b.site));
            b.tests.len().cmp(&a.tests.len()).then(by_site)
        });
        groups
    }

    /// The entries in `state`.
    pub(crate) fn in_state(&self, state: State) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.state == state).collect()
    }

    /// Distinct tests with an entry in `state`.
    pub(crate) fn tests(&self, state: State) -> usize {
        let tests: BTreeSet<&str> = self
            .in_state(state)
            .into_iter()
            .map(|e| e.test.as_str())
            .collect();
        tests.len()
    }

    /// The summary for a terminal, printed after libtest's result.
    pub(crate) fn text(&self) -> String {
        let mut o = String::new();
        let leaked = self.groups(State::Leaked);
        let warned = self.groups(State::Warned);
        // The first of the two that has leaks heads the summary.
        let (head, state, passed) = match leaked.is_empty() {
            false => (&leaked, State::Leaked, ""),
            true => (&warned, State::Warned, "; TASKLEAK=warn passed them"),
        };
        if head.is_empty() {
            let _ = writeln!(o, "taskleak summary: no leaks{}", self.beyond());
        } else {
            let _ = writeln!(
                o,
                "taskleak summary: {} leaked tasks, from {}{passed}{}",
                plural(self.tests(state), "test"),
                plural(head.len(), "spawn site"),
                if head.len() > 1 {
                    " (most tests first: fixing the first line fixes the most tests)"
                } else {
                    ""
                }
            );
        }
        for g in head {
            group_line(&mut o, g, self.show_tasks);
        }
        if !leaked.is_empty() && !warned.is_empty() {
            let _ = writeln!(
                o,
                "  warned: {} leaked, and TASKLEAK=warn passed them:",
                plural(self.tests(State::Warned), "test")
            );
            for g in &warned {
                group_line(&mut o, g, self.show_tasks);
            }
        }
        let known = self.groups(State::Known);
        if !known.is_empty() {
            let _ = writeln!(
                o,
                "  known: {} leaked as the baseline ({}) lists, and passed:",
                plural(self.tests(State::Known), "test"),
                Term(self.baseline.display())
            );
            for g in &known {
                group_line(&mut o, g, self.show_tasks);
            }
        }
        for g in self.groups(State::Moved) {
            let _ = writeln!(
                o,
                "  known leak moved: {} ({}); re-record with TASKLEAK=record to update {}",
                Term(g.site),
                names(&g.tests, |t| Term(t).to_string()),
                Term(self.baseline.display())
            );
        }
        for e in self.in_state(State::Grown) {
            let _ = writeln!(
                o,
                "  grown: {} leaked {} from {}; the baseline ({}) records {}: it failed",
                Term(&e.test),
                plural(e.count, "task"),
                Term(&e.site),
                Term(self.baseline.display()),
                e.recorded.unwrap_or(0)
            );
        }
        for e in self.in_state(State::Fewer) {
            let _ = writeln!(
                o,
                "  fewer: {} leaked {} from {}, the baseline records {}; re-record \
                 (TASKLEAK=record, or cargo taskleak baseline) to tighten it",
                Term(&e.test),
                plural(e.count, "task"),
                Term(&e.site),
                e.recorded.unwrap_or(0)
            );
        }
        let fixed = self.in_state(State::Fixed);
        if !fixed.is_empty() {
            let _ = writeln!(
                o,
                "  fixed: {} in the baseline no longer leaked; delete {} from {} \
                 (or re-record with TASKLEAK=record):",
                plural(fixed.len(), "entry"),
                if fixed.len() == 1 { "it" } else { "them" },
                Term(self.baseline.display())
            );
            for e in fixed {
                let _ = writeln!(o, "    {}  {}", Term(&e.test), Term(&e.site));
            }
        }
        let _ = write!(
            o,
            "  {} ran under a leak check; a test not counted here (a plain #[tokio::test], \
             or a wrapper macro that emits one) is not checked.",
            plural(self.checked, "test")
        );
        o
    }

    /// The summary as Markdown, for `$GITHUB_STEP_SUMMARY` and the report
    /// directory.
    pub(crate) fn markdown(&self, what: &str) -> String {
        let mut o = String::new();
        let _ = match (self.tests(State::Leaked), self.tests(State::Warned)) {
            (0, 0) => writeln!(o, "### taskleak: no leaks{} ({what})\n", self.beyond()),
            (0, n) => writeln!(
                o,
                "### taskleak: {} leaked tasks, passed under TASKLEAK=warn ({what})\n",
                plural(n, "test")
            ),
            (n, _) => writeln!(
                o,
                "### taskleak: {} leaked tasks ({what})\n",
                plural(n, "test")
            ),
        };
        for (state, title) in [
            (State::Leaked, "failed"),
            (State::Warned, "passed (TASKLEAK=warn)"),
            (State::Known, "known (in the baseline, passed)"),
        ] {
            let groups = self.groups(state);
            if groups.is_empty() {
                continue;
            }
            let _ = writeln!(o, "| spawn site | tests {title} | names |");
            let _ = writeln!(o, "|---|---:|---|");
            for g in groups {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} |",
                    markdown_code(g.site),
                    g.tests.len(),
                    names(&g.tests, markdown_code)
                );
            }
            o.push('\n');
        }
        for g in self.groups(State::Moved) {
            let _ = writeln!(
                o,
                "Known leak moved: {} ({}); re-record with `TASKLEAK=record` to update {}\n",
                markdown_code(g.site),
                names(&g.tests, markdown_code),
                markdown_code(&self.baseline.display().to_string())
            );
        }
        // Known leaks whose count changed.
        for (state, head, tail) in [
            (State::Grown, "Grown", ""),
            (State::Fewer, "Fewer", " (re-record to tighten)"),
        ] {
            for e in self.in_state(state) {
                let _ = writeln!(
                    o,
                    "{head}: {} leaked {} from {}, the baseline records {}{tail}\n",
                    markdown_code(&e.test),
                    plural(e.count, "task"),
                    markdown_code(&e.site),
                    e.recorded.unwrap_or(0)
                );
            }
        }
        let fixed = self.in_state(State::Fixed);
        if !fixed.is_empty() {
            let _ = writeln!(
                o,
                "Fixed (remove from {}): {}\n",
                markdown_code(&self.baseline.display().to_string()),
                fixed
                    .iter()
                    .map(|e| format!("{} at {}", markdown_code(&e.test), markdown_code(&e.site)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(
            o,
            "{} ran under a leak check.\n",
            plural(self.checked, "test")
        );
        o
    }
}

fn group_line(o: &mut String, g: &Group<'_>, show_tasks: bool) {
    // Tasks where a test leaked more than one from the site.
    let tasks = if show_tasks && g.tasks > g.tests.len() {
        format!("  ({})", plural(g.tasks, "task"))
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "  {:>9}  {}{tasks}\n             {}",
        plural(g.tests.len(), "test"),
        Term(g.site),
        names(&g.tests, |t| Term(t).to_string())
    );
}

/// Up to `NAMES_SHOWN` names, then how many more.
/// `file:line` in reading order: by file, then line as a number (`:12`
/// before `:133`, `:41` before `:133`); anything else by its text.
fn site_order(site: &str) -> (&str, u64, &str) {
    match site
        .rsplit_once(':')
        .map(|(file, line)| (file, line.parse()))
    {
        Some((file, Ok(line))) => (file, line, ""),
        _ => (site, 0, site),
    }
}

pub(crate) fn names(tests: &[&str], show: impl Fn(&str) -> String) -> String {
    let mut shown: Vec<String> = tests.iter().take(NAMES_SHOWN).map(|t| show(t)).collect();
    if tests.len() > NAMES_SHOWN {
        shown.push(format!("… and {} more", tests.len() - NAMES_SHOWN));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Summary {
        let mut entries = Vec::new();
        for i in 0..9 {
            entries.push(Entry::leaked(&format!("client_{i}"), "tests/support.rs:42"));
        }
        entries.push(Entry::leaked("server_a", "src/server.rs:88"));
        entries.push(Entry::leaked("server_b", "src/server.rs:88"));
        entries.push(Entry::leaked("client_0", "src/server.rs:88"));
        entries.push(Entry::leaked("odd", "src/odd.rs:7"));
        entries.push(Entry::known("old", "src/old.rs:3"));
        entries.push(Entry::fixed("gone", "src/gone.rs:5"));
        Summary::new(20, entries, PathBuf::from(".config/taskleak-baseline.toml"))
    }

    #[test]
    fn groups_by_site_most_tests_first() {
        let s = sample();
        let groups = s.groups(State::Leaked);
        let shape: Vec<(&str, usize)> = groups.iter().map(|g| (g.site, g.tests.len())).collect();
        assert_eq!(
            shape,
            [
                ("tests/support.rs:42", 9),
                ("src/server.rs:88", 3),
                ("src/odd.rs:7", 1)
            ]
        );
        assert_eq!(s.tests(State::Leaked), 12);
        assert_eq!(s.tests(State::Known), 1);
    }

    /// Sites of equal count read by file, then line as a number.
    #[test]
    fn sites_of_equal_count_are_in_line_order() {
        let entries = [
            "src/a.rs:41",
            "src/a.rs:133",
            "src/a.rs:12",
            "src/a.rs:138",
            "src/0.rs:9",
        ]
        .iter()
        .enumerate()
        .map(|(i, site)| Entry::leaked(&format!("t{i}"), site))
        .collect();
        let s = Summary::new(5, entries, PathBuf::from("b.toml"));
        let sites: Vec<&str> = s.groups(State::Leaked).iter().map(|g| g.site).collect();
        assert_eq!(
            sites,
            [
                "src/0.rs:9",
                "src/a.rs:12",
                "src/a.rs:41",
                "src/a.rs:133",
                "src/a.rs:138"
            ]
        );
    }

    /// Without a baseline entry in play, "beyond the baseline" would speak
    /// of a file that may not exist.
    #[test]
    fn no_leaks_speaks_of_a_baseline_only_where_one_had_a_say() {
        let none = Summary::new(3, vec![Entry::fixed("t", "src/a.rs:1")], PathBuf::from("b"));
        assert!(
            none.text()
                .starts_with("taskleak summary: no leaks beyond the baseline\n")
        );
        let clean = Summary::new(3, Vec::new(), PathBuf::from("b"));
        assert!(
            clean.text().starts_with("taskleak summary: no leaks\n"),
            "{}",
            clean.text()
        );
        assert!(
            clean
                .markdown("x")
                .starts_with("### taskleak: no leaks (x)")
        );
    }

    #[test]
    fn text_cuts_long_name_lists_and_counts_checked_tests() {
        let text = sample().text();
        assert!(
            text.starts_with("taskleak summary: 12 tests leaked tasks, from 3 spawn sites"),
            "{text}"
        );
        assert!(
            text.contains(
                "    9 tests  tests/support.rs:42\n             client_0, client_1, client_2, \
                 client_3, client_4, client_5, … and 3 more\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  known: 1 test leaked as the baseline"),
            "{text}"
        );
        assert!(text.contains("    gone  src/gone.rs:5\n"), "{text}");
        assert!(text.contains("20 tests ran under a leak check"), "{text}");
        let md = sample().markdown("binary `x`");
        assert!(
            md.contains("| `tests/support.rs:42` | 9 | `client_0`,"),
            "{md}"
        );
        assert!(md.contains("Fixed (remove from"), "{md}");
    }

    /// A file name with a newline keeps the text summary's lines and the
    /// Markdown table's rows whole.
    #[test]
    fn a_site_with_a_newline_breaks_no_line_and_no_row() {
        let evil = "x\n::error file=evil.rs,line=1::INJECTED|`:3";
        let entries = vec![
            Entry::leaked("a", evil),
            Entry::leaked("b|`c\n::warning::w", "src/a.rs:1"),
            Entry::fixed("d", evil),
        ];
        let s = Summary::new(2, entries, PathBuf::from("b.toml"));
        let text = s.text();
        assert!(text.contains("INJECTED"), "{text}");
        assert!(
            text.lines().all(|l| !l.trim_start().starts_with("::")),
            "{text}"
        );
        let md = s.markdown("this run");
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 4, "{md}");
        assert!(
            md.lines().all(|l| !l.trim_start().starts_with("::")),
            "{md}"
        );
        for row in rows {
            // Three cells: four unescaped `|`.
            let bars = row
                .match_indices('|')
                .filter(|(i, _)| !row[..*i].ends_with('\\'));
            assert_eq!(bars.count(), 4, "{row}");
        }
    }
}
