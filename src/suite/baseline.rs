//! The baseline: leaks a team knows about, as (test, spawn site), in
//! `.config/taskleak-baseline.toml` beside the config file, a table per
//! package and test binary (test names repeat across binaries:
//! `tests/client.rs` and `tests/server.rs` may both have `get_set`, and
//! binary names across the members of a workspace: `a/tests/integration.rs`
//! and `b/tests/integration.rs`). A check passes a leak the baseline lists
//! for its test; `TASKLEAK=record` writes it.
//!
//! ```toml
//! [leaks.my-package.client]
//! "get_after_set" = ["tests/support/mod.rs:42"]
//! ```
//!
//! A table of the older format, `[leaks.<test binary>]`, still applies to
//! the binaries of that name in every package; recording moves the tests
//! that ran out of it into their package's table.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use toml::de::{DeTable, DeValue};

use crate::config::file::Places;
pub(crate) use crate::task::Grown;

pub(crate) const FILE_NAME: &str = "taskleak-baseline.toml";

/// The baseline beside the config file, read at the first use.
static CURRENT: LazyLock<Result<Baseline, String>> =
    LazyLock::new(|| Baseline::load(&path(crate::config::places())));

/// The baseline of this run, or why it could not be read.
pub(crate) fn current() -> Result<&'static Baseline, &'static str> {
    CURRENT.as_ref().map_err(String::as_str)
}

pub(crate) fn path(places: &Places) -> PathBuf {
    places.dir.join(FILE_NAME)
}

/// A test binary: its package (empty when unknown: the older tables,
/// keyed by binary alone) and its name.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Binary {
    pub(crate) package: String,
    pub(crate) name: String,
}

impl Binary {
    pub(crate) fn new(package: &str, name: &str) -> Binary {
        Binary {
            package: package.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The tables that apply to it: its own, and the older format's.
    fn tables(&self) -> impl Iterator<Item = Binary> {
        let old = Binary::new("", &self.name);
        let own = (!self.package.is_empty()).then(|| self.clone());
        own.into_iter().chain(std::iter::once(old))
    }
}

/// Tests of one binary, each with the spawn sites (`file:line`) it may
/// leak from and how many tasks from each (`None`: any number, an entry
/// of the format before counts).
type Tests = BTreeMap<String, BTreeMap<String, Option<usize>>>;

/// Known leaks: per test binary and test, the spawn sites it may leak
/// from.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Baseline {
    leaks: BTreeMap<Binary, Tests>,
}

impl Baseline {
    /// Reads the baseline at `path`; no file is an empty baseline.
    pub(crate) fn load(path: &Path) -> Result<Baseline, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Baseline::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Baseline::default()),
            Err(e) => Err(format!("taskleak: cannot read {}: {e}", path.display())),
        }
    }

    pub(crate) fn parse(text: &str, name: &str) -> Result<Baseline, String> {
        let line = |offset: usize| text.get(..offset).map_or(0, |h| h.matches('\n').count()) + 1;
        let fix = "fix it, or delete it and re-record with TASKLEAK=record";
        let table = DeTable::parse(text).map_err(|e| {
            let at = e
                .span()
                .map_or(String::new(), |s| format!(":{}", line(s.start)));
            format!(
                "taskleak: {name}{at}: not valid TOML ({}); {fix}",
                e.message().trim()
            )
        })?;
        let mut out = Baseline::default();
        for (key, value) in table.get_ref().iter() {
            let at = line(key.span().start);
            let DeValue::Table(binaries) = value.get_ref() else {
                return Err(format!(
                    "taskleak: {name}:{at}: expected only [leaks.<package>.<test binary>] tables; {fix}"
                ));
            };
            if &**key.get_ref() != "leaks" {
                return Err(format!(
                    "taskleak: {name}:{at}: unknown table [{}]; the baseline has only \
                     [leaks.<package>.<test binary>] tables; {fix}",
                    key.get_ref()
                ));
            }
            for (first, value) in binaries.iter() {
                let at = line(first.span().start);
                let DeValue::Table(inner) = value.get_ref() else {
                    return Err(format!(
                        "taskleak: {name}:{at}: expected a table [leaks.{}]; {fix}",
                        first.get_ref()
                    ));
                };
                for (key, value) in inner.iter() {
                    match value.get_ref() {
                        // `[leaks.<package>.<binary>]`
                        DeValue::Table(tests) => {
                            let binary = Binary::new(first.get_ref(), key.get_ref());
                            for (test, sites) in tests.iter() {
                                let at = (name, line(test.span().start));
                                out.add(binary.clone(), test.get_ref(), sites.get_ref(), at)?;
                            }
                        }
                        // `[leaks.<binary>]`, the older format.
                        sites => {
                            let binary = Binary::new("", first.get_ref());
                            let at = (name, line(key.span().start));
                            out.add(binary, key.get_ref(), sites, at)?;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// One test's entry, `"test" = { "file.rs:line" = count, ... }` (or
    /// the older `["file.rs:line", ...]`), at line `at`.
    fn add(
        &mut self,
        binary: Binary,
        test: &str,
        sites: &DeValue<'_>,
        (name, at): (&str, usize),
    ) -> Result<(), String> {
        let bad = || {
            format!(
                "taskleak: {name}:{at}: write a test's known leaks as \
                 \"test name\" = {{ \"file.rs:line\" = tasks, ... }}; fix it, or delete it and \
                 re-record with TASKLEAK=record"
            )
        };
        let map = self
            .leaks
            .entry(binary)
            .or_default()
            .entry(test.to_owned())
            .or_default();
        match sites {
            DeValue::Array(sites) => {
                for s in sites.iter() {
                    map.insert(s.get_ref().as_str().ok_or_else(bad)?.to_owned(), None);
                }
            }
            DeValue::Table(sites) => {
                for (site, count) in sites.iter() {
                    let count = match count.get_ref() {
                        DeValue::Integer(i) => {
                            usize::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
                        }
                        _ => None,
                    };
                    let count = count.filter(|c| *c > 0).ok_or_else(bad)?;
                    map.insert(site.get_ref().to_string(), Some(count));
                }
            }
            _ => return Err(bad()),
        }
        Ok(())
    }

    /// The sites listed for `binary`'s `test`, from every table that
    /// applies to it, with the tasks each knows.
    fn listed(&self, binary: &Binary, test: &str) -> BTreeMap<&String, Option<usize>> {
        let mut out: BTreeMap<&String, Option<usize>> = BTreeMap::new();
        for (site, count) in binary
            .tables()
            .filter_map(|t| self.leaks.get(&t)?.get(test))
            .flatten()
        {
            // Listed twice (an older table and its package's): the larger.
            let c = out.entry(site).or_insert(*count);
            *c = match (*c, *count) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        out
    }

    /// Which entry of `binary`'s `test` each leak (by site) is: the entry
    /// at that `file:line`, else an entry of the same file that no other
    /// leak of this check is (the spawn call moved: lines above it were
    /// edited); `None` for a leak the baseline does not list, and for
    /// every leak of an entry that now has more tasks than it records
    /// (those are returned as [`Grown`]).
    pub(crate) fn classify(
        &self,
        binary: &Binary,
        test: &str,
        sites: &[String],
    ) -> (Vec<Option<String>>, Vec<Grown>) {
        let counts = self.listed(binary, test);
        let listed: Vec<&String> = counts.keys().copied().collect();
        let exact: HashSet<&str> = listed.iter().map(|l| l.as_str()).collect();
        let mut out: Vec<Option<String>> = sites
            .iter()
            .map(|s| exact.contains(s.as_str()).then(|| s.clone()))
            .collect();
        fn file(site: &str) -> &str {
            site.rsplit_once(':').map_or(site, |(f, _)| f)
        }
        // Entries some leak of this check already is, and the entry each
        // site was given: linear in the leaks (a test may leak 10^5 tasks
        // from one site).
        let mut used: HashSet<String> = out.iter().flatten().cloned().collect();
        let mut given: HashMap<&str, String> = HashMap::new();
        for (i, s) in sites.iter().enumerate() {
            if out[i].is_some() {
                continue;
            }
            // Tasks of one site (a server and the tasks it spawned) share it.
            if let Some(entry) = given.get(s.as_str()) {
                out[i] = Some(entry.clone());
                continue;
            }
            let moved = listed
                .iter()
                .find(|l| file(l) == file(s) && !used.contains(l.as_str()));
            if let Some(l) = moved {
                used.insert(l.to_string());
                given.insert(s, l.to_string());
                out[i] = Some(l.to_string());
            }
        }
        // More tasks than an entry records: all of them are the new leak
        // (which of them is "the known one" cannot be told).
        let mut now: HashMap<&str, usize> = HashMap::new();
        for entry in out.iter().flatten() {
            *now.entry(entry.as_str()).or_default() += 1;
        }
        let mut grown: Vec<Grown> = now
            .into_iter()
            .filter_map(|(entry, now)| {
                let known = counts.get(&entry.to_string()).copied().flatten()?;
                (now > known).then(|| Grown {
                    entry: entry.to_owned(),
                    known,
                    now,
                })
            })
            .collect();
        grown.sort_by(|a, b| a.entry.cmp(&b.entry));
        if !grown.is_empty() {
            let over: HashSet<&str> = grown.iter().map(|g| g.entry.as_str()).collect();
            for e in &mut out {
                if e.as_deref().is_some_and(|e| over.contains(e)) {
                    *e = None;
                }
            }
        }
        (out, grown)
    }

    /// `binary`'s entries for the tests in `checked` become exactly the
    /// leaks in `leaked` (tasks per test and site), in its package's table
    /// (the older format's table of that binary name loses them); other
    /// tests' entries (other binaries, other nextest processes) stay.
    pub(crate) fn replace(
        &mut self,
        binary: &Binary,
        checked: &BTreeSet<String>,
        leaked: &BTreeMap<(String, String), usize>,
    ) {
        for table in binary.tables() {
            if let Some(known) = self.leaks.get_mut(&table) {
                for test in checked {
                    known.remove(test);
                }
            }
        }
        let known = self.leaks.entry(binary.clone()).or_default();
        for ((test, site), n) in leaked {
            known
                .entry(test.clone())
                .or_default()
                .insert(site.clone(), Some(*n));
        }
    }

    /// Every (test, site, tasks) of `binary`'s own table: what a run of it
    /// can call fixed. An older table's entries are not: the binaries of
    /// that name in other packages may be the ones that leak them.
    pub(crate) fn entries(&self, binary: &Binary) -> Vec<(&str, &str, Option<usize>)> {
        let tests = self.leaks.get(binary).into_iter().flatten();
        tests
            .flat_map(|(t, sites)| sites.iter().map(move |(s, n)| (t.as_str(), s.as_str(), *n)))
            .collect()
    }

    /// The file's text, sorted so that re-recording the same leaks changes
    /// nothing.
    pub(crate) fn to_toml(&self) -> String {
        let mut o = String::from(
            "# Known task leaks, written by `TASKLEAK=record cargo test` (taskleak).\n\
             # A leak listed here for its test passes, up to the number of tasks\n\
             # recorded from its spawn site, and is counted as known in the\n\
             # summary; a leak not listed, or more tasks than listed, fails. Remove\n\
             # an entry once its leak is fixed (the summary lists those), or\n\
             # re-record. A table per package and test binary.\n",
        );
        let key = |name: &str| {
            let bare = name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if bare && !name.is_empty() {
                name.to_owned()
            } else {
                crate::util::quote(name)
            }
        };
        for (binary, tests) in &self.leaks {
            if tests.values().all(BTreeMap::is_empty) {
                continue;
            }
            let _ = if binary.package.is_empty() {
                writeln!(o, "\n[leaks.{}]", key(&binary.name))
            } else {
                writeln!(
                    o,
                    "\n[leaks.{}.{}]",
                    key(&binary.package),
                    key(&binary.name)
                )
            };
            for (test, sites) in tests.iter().filter(|(_, s)| !s.is_empty()) {
                let q = crate::util::quote;
                // Counted entries as a table; an entry still without a
                // count (the older format) keeps its list.
                let line = if sites.values().all(Option::is_some) {
                    let sites: Vec<String> = sites
                        .iter()
                        .map(|(s, n)| format!("{} = {}", q(s), n.unwrap_or(1)))
                        .collect();
                    format!("{} = {{ {} }}", q(test), sites.join(", "))
                } else {
                    let sites: Vec<String> = sites.keys().map(|s| q(s)).collect();
                    format!("{} = [{}]", q(test), sites.join(", "))
                };
                let _ = writeln!(o, "{line}");
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_lists() {
        let mut b = Baseline::default();
        let client = b.leaks.entry(Binary::new("p", "client")).or_default();
        client
            .entry("a::b \"q\"".into())
            .or_default()
            .insert("src/x.rs:3".into(), Some(2));
        client.entry("c".into()).or_default().extend([
            ("src/y.rs:1".to_string(), None),
            ("src/y.rs:2".to_string(), None),
        ]);
        b.leaks
            .entry(Binary::new("p", "odd name"))
            .or_default()
            .entry("c".into())
            .or_default()
            .insert("src/z.rs:9".into(), Some(1));
        let text = b.to_toml();
        assert!(
            text.contains("\n[leaks.p.client]\n\"a::b \\\"q\\\"\" = { \"src/x.rs:3\" = 2 }\n"),
            "{text}"
        );
        // An entry of the format before counts keeps its list.
        assert!(
            text.contains("\"c\" = [\"src/y.rs:1\", \"src/y.rs:2\"]\n"),
            "{text}"
        );
        assert!(text.contains("\n[leaks.p.\"odd name\"]\n"), "{text}");
        let back = Baseline::parse(&text, "f").unwrap();
        assert_eq!(back, b);
        let one = |b: &str, t: &str, s: &str| {
            back.classify(&Binary::new("p", b), t, &[s.to_string()]).0[0].clone()
        };
        assert_eq!(
            one("client", "c", "src/y.rs:2").as_deref(),
            Some("src/y.rs:2")
        );
        assert_eq!(one("client", "c", "src/w.rs:3"), None);
        // The same test name in another binary is another test.
        assert_eq!(one("odd name", "c", "src/y.rs:2"), None);
        assert_eq!(back.entries(&Binary::new("p", "client")).len(), 3);
    }

    #[test]
    fn a_moved_spawn_call_is_still_known_a_second_one_is_not() {
        let mut b = Baseline::default();
        b.leaks
            .entry(Binary::new("p", "x"))
            .or_default()
            .entry("t".into())
            .or_default()
            .insert("tests/a.rs:10".into(), None);
        let sites = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let known = |s: &str| Some(s.to_string());
        assert_eq!(
            b.classify(
                &Binary::new("p", "x"),
                "t",
                &sites(&["tests/a.rs:10", "tests/a.rs:10"])
            )
            .0,
            [known("tests/a.rs:10"), known("tests/a.rs:10")]
        );
        // Lines above it were edited: the same entry.
        assert_eq!(
            b.classify(
                &Binary::new("p", "x"),
                "t",
                &sites(&["tests/a.rs:14", "tests/a.rs:14"])
            )
            .0,
            [known("tests/a.rs:10"), known("tests/a.rs:10")]
        );
        // The listed leak, and a new one in the same file.
        assert_eq!(
            b.classify(
                &Binary::new("p", "x"),
                "t",
                &sites(&["tests/a.rs:10", "tests/a.rs:30"])
            )
            .0,
            [known("tests/a.rs:10"), None]
        );
        assert_eq!(
            b.classify(&Binary::new("p", "x"), "t", &sites(&["tests/b.rs:10"]))
                .0,
            [None]
        );
        assert_eq!(
            b.classify(&Binary::new("p", "x"), "u", &sites(&["tests/a.rs:10"]))
                .0,
            [None]
        );
        assert_eq!(
            b.classify(&Binary::new("p", "y"), "t", &sites(&["tests/a.rs:10"]))
                .0,
            [None]
        );
    }

    /// Two members of a workspace, each with `tests/integration.rs` and a
    /// test `basic`: a table each. A table of the older format, keyed by
    /// the binary alone, applies to both, until recording moves the tests
    /// that ran out of it.
    #[test]
    fn tables_are_per_package_and_the_older_ones_still_apply() {
        let (a, b) = (
            Binary::new("a", "integration"),
            Binary::new("b", "integration"),
        );
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let leak = |s: &str| BTreeMap::from([(("basic".to_string(), s.to_string()), 1)]);
        let mut bl = Baseline::default();
        bl.replace(&a, &set(&["basic"]), &leak("a/tests/integration.rs:5"));
        bl.replace(&b, &set(&["basic"]), &leak("b/tests/integration.rs:5"));
        let text = bl.to_toml();
        assert!(
            text.contains(
                "\n[leaks.a.integration]\n\"basic\" = { \"a/tests/integration.rs:5\" = 1 }\n"
            ) && text.contains(
                "\n[leaks.b.integration]\n\"basic\" = { \"b/tests/integration.rs:5\" = 1 }\n"
            ),
            "{text}"
        );
        let back = Baseline::parse(&text, "f").unwrap();
        assert_eq!(back, bl);
        assert_eq!(
            back.entries(&a),
            [("basic", "a/tests/integration.rs:5", Some(1))]
        );

        let old = "[leaks.integration]\nbasic = [\"a/tests/integration.rs:5\"]\n";
        let mut bl = Baseline::parse(old, "f").unwrap();
        let site = ["a/tests/integration.rs:5".to_string()];
        assert_eq!(bl.classify(&a, "basic", &site).0, [Some(site[0].clone())]);
        bl.replace(&a, &set(&["basic"]), &leak(&site[0]));
        let text = bl.to_toml();
        assert!(!text.contains("[leaks.integration]"), "{text}");
        assert!(text.contains("[leaks.a.integration]"), "{text}");
    }

    #[test]
    fn bad_files_name_the_line() {
        let e = Baseline::parse("[leaks.b]\n\"t\" = \"src/a.rs:1\"\n", "b.toml").unwrap_err();
        assert!(
            e.starts_with("taskleak: b.toml:2: write a test's known leaks"),
            "{e}"
        );
        let e = Baseline::parse("[other]\n", "b.toml").unwrap_err();
        assert!(
            e.starts_with("taskleak: b.toml:1: unknown table [other]"),
            "{e}"
        );
    }

    /// Classifying is linear in the leaks: a test that leaks 10^5 tasks
    /// from one site (listed, moved, or new) is judged at once.
    #[test]
    fn a_hundred_thousand_leaks_of_one_site_are_classified_alike() {
        let text = "[leaks.p.b]\nt = [\"src/a.rs:1\", \"src/b.rs:1\"]\n";
        let b = Baseline::parse(text, "f").unwrap();
        let bin = Binary::new("p", "b");
        let many = |site: &str| vec![site.to_string(); 100_000];
        let listed = b.classify(&bin, "t", &many("src/a.rs:1")).0;
        assert!(listed.iter().all(|e| e.as_deref() == Some("src/a.rs:1")));
        let moved = b.classify(&bin, "t", &many("src/b.rs:9")).0;
        assert!(moved.iter().all(|e| e.as_deref() == Some("src/b.rs:1")));
        let new = b.classify(&bin, "t", &many("src/c.rs:1")).0;
        assert!(new.iter().all(Option::is_none));
    }

    /// An entry with a count knows that many tasks: more is a new leak
    /// (every task of it fails, and the growth is named); as many or
    /// fewer are known.
    #[test]
    fn a_known_leak_that_grew_fails_and_says_by_how_much() {
        let text = "[leaks.p.b]\nt = { \"src/a.rs:1\" = 2, \"src/b.rs:1\" = 1 }\n";
        let b = Baseline::parse(text, "f").unwrap();
        let bin = Binary::new("p", "b");
        let sites = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (entries, grown) = b.classify(&bin, "t", &sites(&["src/a.rs:1", "src/a.rs:1"]));
        assert!(entries.iter().all(Option::is_some) && grown.is_empty());
        let (entries, grown) = b.classify(
            &bin,
            "t",
            &sites(&["src/a.rs:1", "src/a.rs:1", "src/a.rs:1", "src/b.rs:1"]),
        );
        assert_eq!(entries[..3], [None, None, None]);
        assert_eq!(entries[3].as_deref(), Some("src/b.rs:1"));
        assert_eq!(
            grown,
            [Grown {
                entry: "src/a.rs:1".into(),
                known: 2,
                now: 3
            }]
        );
        // A count must be a number of tasks.
        let e = Baseline::parse("[leaks.p.b]\nt = { \"src/a.rs:1\" = 0 }\n", "f").unwrap_err();
        assert!(e.contains("f:2: write a test's known leaks"), "{e}");
    }
}
