//! The run-level record: a ledger per test process (what it checked and
//! saw), and the one judgement of a whole run made from all of them —
//! every binary, every nextest process, every CI machine's shard — by
//! `cargo taskleak report`. A fact about the run (a rule that matched
//! nothing, a baseline entry that no longer leaks, a test nobody checked)
//! is decided here, from every ledger, never inside one binary.
//!
//! A ledger is a small tab-separated file, one fact a line, written once
//! by its process at exit (`outputs::ledger`) under
//! `<report dir>/runs/<run>/`: the report directory is
//! `TASKLEAK_REPORT_DIR`, else `target/taskleak`. Reading and judging are
//! here and pure but for reading those files.

pub(crate) mod invocation;
pub(crate) mod load;
pub(crate) mod merge;
pub(crate) mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use invocation::Invocation;

/// The first line of every ledger, with the format's version.
pub(crate) const MAGIC: &str = "taskleak-ledger\t1";

/// What kind of rule: where it was written decides what it applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RuleKind {
    /// `.config/taskleak.toml`: every test binary of the workspace.
    File,
    /// `taskleak::configure!`: the binary it is in.
    Configure,
    /// A check's own (`#[leak_check(ignore)]`, `Options::ignore`): that
    /// check.
    Check,
}

impl RuleKind {
    fn word(self) -> &'static str {
        match self {
            RuleKind::File => "file",
            RuleKind::Configure => "configure",
            RuleKind::Check => "check",
        }
    }
    fn from_word(w: &str) -> Option<RuleKind> {
        Some(match w {
            "file" => RuleKind::File,
            "configure" => RuleKind::Configure,
            "check" => RuleKind::Check,
            _ => return None,
        })
    }
}

/// One rule as one process used it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RuleUse {
    pub(crate) kind: RuleKind,
    pub(crate) pattern: String,
    /// Where it was written (`.config/taskleak.toml:3`, a check's site).
    pub(crate) origin: String,
    pub(crate) matched: bool,
    /// It met a task it could not judge (no frames captured).
    pub(crate) blind: bool,
}

/// What one test process checked and saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ledger {
    /// The run it belongs to (nextest's run id, or cargo's process).
    pub(crate) run: String,
    /// The command that ran the tests (cargo's or nextest's arguments).
    pub(crate) invocation: Invocation,
    pub(crate) package: String,
    pub(crate) binary: String,
    /// This process ran every test of its binary (no name filter, not one
    /// test of a process per test).
    pub(crate) whole: bool,
    /// One process per test (nextest).
    pub(crate) per_test: bool,
    /// Spawn sites were visible (built with `--cfg tokio_unstable`).
    pub(crate) sites: bool,
    /// `TASKLEAK=record`.
    pub(crate) record: bool,
    pub(crate) checked: BTreeSet<String>,
    /// (test, site) → tasks, for leaks that failed or warned.
    pub(crate) leaked: BTreeMap<(String, String), usize>,
    /// Tests whose leaks `TASKLEAK=warn` passed.
    pub(crate) warned: BTreeSet<String>,
    /// (test, site, baseline entry) → tasks, for leaks the baseline knew.
    pub(crate) known: BTreeMap<(String, String, String), usize>,
    /// (test, baseline entry) → (tasks recorded, tasks now), for known
    /// leaks that grew (their tasks are in `leaked`).
    pub(crate) grown: BTreeMap<(String, String), (usize, usize)>,
    pub(crate) rules: Vec<RuleUse>,
    /// The baseline it was judged against, from the workspace root.
    pub(crate) baseline: String,
}

/// A field of a ledger line: tabs, newlines and backslashes escaped, so
/// any test name or path survives the trip.
pub(crate) fn field(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\t' => o.push_str("\\t"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o
}

/// [`field`] undone.
pub(crate) fn unfield(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            o.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => o.push('\t'),
            Some('n') => o.push('\n'),
            Some('r') => o.push('\r'),
            Some(c) => o.push(c),
            None => o.push('\\'),
        }
    }
    o
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

impl Ledger {
    /// The ledger as its file holds it.
    pub(crate) fn to_text(&self) -> String {
        let mut o = String::new();
        let f = field;
        let _ = writeln!(o, "{MAGIC}");
        let _ = writeln!(o, "run\t{}", f(&self.run));
        let _ = write!(o, "invocation");
        for a in &self.invocation.args {
            let _ = write!(o, "\t{}", f(a));
        }
        o.push('\n');
        let _ = writeln!(
            o,
            "cwd\t{}\t{}",
            f(&self.invocation.cwd),
            flag(self.invocation.all_packages)
        );
        let _ = writeln!(o, "binary\t{}\t{}", f(&self.package), f(&self.binary));
        let _ = writeln!(
            o,
            "process\t{}\t{}\t{}\t{}",
            flag(self.whole),
            flag(self.per_test),
            flag(self.sites),
            flag(self.record)
        );
        for t in &self.checked {
            let _ = writeln!(o, "checked\t{}", f(t));
        }
        for ((t, s), n) in &self.leaked {
            let warned = self.warned.contains(t);
            let _ = writeln!(o, "leaked\t{}\t{}\t{n}\t{}", f(t), f(s), flag(warned));
        }
        for ((t, s, e), n) in &self.known {
            let _ = writeln!(o, "known\t{}\t{}\t{}\t{n}", f(t), f(s), f(e));
        }
        for ((t, e), (recorded, now)) in &self.grown {
            let _ = writeln!(o, "grown\t{}\t{}\t{recorded}\t{now}", f(t), f(e));
        }
        let _ = writeln!(o, "baseline\t{}", f(&self.baseline));
        for r in &self.rules {
            let _ = writeln!(
                o,
                "rule\t{}\t{}\t{}\t{}\t{}",
                r.kind.word(),
                flag(r.matched),
                flag(r.blind),
                f(&r.pattern),
                f(&r.origin)
            );
        }
        o.push_str("end\n");
        o
    }

    /// Reads a ledger; `None` for a file that is not one, or was cut
    /// short (no `end` line: its process died while writing).
    pub(crate) fn parse(text: &str) -> Option<Ledger> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut l = Ledger::default();
        let mut ended = false;
        for line in lines {
            let fields: Vec<String> = line.split('\t').map(unfield).collect();
            let get = |i: usize| fields.get(i).cloned().unwrap_or_default();
            let num = |i: usize| get(i).parse::<usize>().unwrap_or(0);
            let on = |i: usize| get(i) == "1";
            match fields[0].as_str() {
                "run" => l.run = get(1),
                "invocation" => l.invocation.args = fields[1..].to_vec(),
                "cwd" => (l.invocation.cwd, l.invocation.all_packages) = (get(1), on(2)),
                "binary" => (l.package, l.binary) = (get(1), get(2)),
                "process" => {
                    (l.whole, l.per_test, l.sites, l.record) = (on(1), on(2), on(3), on(4))
                }
                "checked" => {
                    l.checked.insert(get(1));
                }
                "leaked" => {
                    l.leaked.insert((get(1), get(2)), num(3));
                    if on(4) {
                        l.warned.insert(get(1));
                    }
                }
                "known" => {
                    l.known.insert((get(1), get(2), get(3)), num(4));
                }
                "grown" => {
                    l.grown.insert((get(1), get(2)), (num(3), num(4)));
                }
                "baseline" => l.baseline = get(1),
                "rule" => l.rules.push(RuleUse {
                    kind: RuleKind::from_word(&get(1))?,
                    matched: on(2),
                    blind: on(3),
                    pattern: get(4),
                    origin: get(5),
                }),
                "end" => ended = true,
                _ => {}
            }
        }
        ended.then_some(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_round_trips_whatever_its_names_hold() {
        let mut l = Ledger {
            run: "r1".into(),
            package: "p".into(),
            binary: "client".into(),
            whole: true,
            sites: true,
            ..Ledger::default()
        };
        l.invocation.args = vec!["cargo".into(), "test".into(), "a\tb".into()];
        l.invocation.cwd = "/w".into();
        l.checked.insert("a::b\tc\\n\nd".into());
        l.leaked.insert(("a::b".into(), "src/a.rs:1".into()), 40);
        l.warned.insert("a::b".into());
        l.known.insert(("t".into(), "s:2".into(), "s:1".into()), 2);
        l.grown.insert(("u".into(), "s:9".into()), (1, 40));
        l.baseline = ".config/taskleak-baseline.toml".into();
        l.rules.push(RuleUse {
            kind: RuleKind::File,
            pattern: "my::x".into(),
            origin: ".config/taskleak.toml:3".into(),
            matched: false,
            blind: true,
        });
        let back = Ledger::parse(&l.to_text()).unwrap();
        assert_eq!(back, l);
        // Cut short: no `end`.
        let text = l.to_text();
        assert!(Ledger::parse(text.trim_end_matches("end\n")).is_none());
        assert!(Ledger::parse("something else\n").is_none());
    }
}
