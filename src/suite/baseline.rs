//! The baseline: leaks a team knows about, as (test, spawn site), in
//! `.config/taskleak-baseline.toml` beside the config file, a table per
//! test binary (test names repeat across binaries: `tests/client.rs` and
//! `tests/server.rs` may both have `get_set`). A check passes a leak the
//! baseline lists for its test; `TASKLEAK=record` writes it.
//!
//! ```toml
//! [leaks.client]
//! "get_after_set" = ["tests/support/mod.rs:42"]
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use toml::de::{DeTable, DeValue};

use crate::config::file::Places;

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

/// Known leaks: per test binary and test, the spawn sites (`file:line`)
/// it may leak from.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Baseline {
    leaks: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
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
                    "taskleak: {name}:{at}: expected only [leaks.<test binary>] tables; {fix}"
                ));
            };
            if &**key.get_ref() != "leaks" {
                return Err(format!(
                    "taskleak: {name}:{at}: unknown table [{}]; the baseline has only \
                     [leaks.<test binary>] tables; {fix}",
                    key.get_ref()
                ));
            }
            for (binary, tests) in binaries.iter() {
                let at = line(binary.span().start);
                let DeValue::Table(tests) = tests.get_ref() else {
                    return Err(format!(
                        "taskleak: {name}:{at}: expected a table [leaks.{}]; {fix}",
                        binary.get_ref()
                    ));
                };
                let known = out.leaks.entry(binary.get_ref().to_string()).or_default();
                for (test, sites) in tests.iter() {
                    let at = line(test.span().start);
                    let bad = || {
                        format!(
                            "taskleak: {name}:{at}: write a test's known leaks as \
                             \"test name\" = [\"file.rs:line\", ...]; {fix}"
                        )
                    };
                    let DeValue::Array(sites) = sites.get_ref() else {
                        return Err(bad());
                    };
                    let set = known.entry(test.get_ref().to_string()).or_default();
                    for s in sites.iter() {
                        set.insert(s.get_ref().as_str().ok_or_else(bad)?.to_owned());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Which entry of `binary`'s `test` each leak (by site) is: the entry
    /// at that `file:line`, else an entry of the same file that no other
    /// leak of this check is (the spawn call moved: lines above it were
    /// edited); `None` for a leak the baseline does not list.
    pub(crate) fn classify(
        &self,
        binary: &str,
        test: &str,
        sites: &[String],
    ) -> Vec<Option<String>> {
        let listed: Vec<&String> = self
            .leaks
            .get(binary)
            .and_then(|tests| tests.get(test))
            .map(|s| s.iter().collect())
            .unwrap_or_default();
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
        out
    }

    /// `binary`'s entries for the tests in `checked` become exactly the
    /// leaks in `leaked`; other tests' entries (other binaries, other
    /// nextest processes) stay.
    pub(crate) fn replace(
        &mut self,
        binary: &str,
        checked: &BTreeSet<String>,
        leaked: &BTreeSet<(String, String)>,
    ) {
        let known = self.leaks.entry(binary.to_owned()).or_default();
        for test in checked {
            known.remove(test);
        }
        for (test, site) in leaked {
            known.entry(test.clone()).or_default().insert(site.clone());
        }
    }

    /// Every (test, site) pair of `binary`.
    pub(crate) fn entries(&self, binary: &str) -> impl Iterator<Item = (&str, &str)> {
        self.leaks.get(binary).into_iter().flat_map(|tests| {
            tests
                .iter()
                .flat_map(|(t, sites)| sites.iter().map(move |s| (t.as_str(), s.as_str())))
        })
    }

    /// The file's text, sorted so that re-recording the same leaks changes
    /// nothing.
    pub(crate) fn to_toml(&self) -> String {
        let mut o = String::from(
            "# Known task leaks, written by `TASKLEAK=record cargo test` (taskleak).\n\
             # A leak listed here for its test passes and is counted as known in the\n\
             # summary; a leak not listed fails. Remove an entry once its leak is fixed\n\
             # (the summary lists those), or re-record. A table per test binary.\n",
        );
        for (binary, tests) in &self.leaks {
            if tests.values().all(BTreeSet::is_empty) {
                continue;
            }
            let bare = binary
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            let key = if bare && !binary.is_empty() {
                binary.clone()
            } else {
                crate::util::quote(binary)
            };
            let _ = writeln!(o, "\n[leaks.{key}]");
            for (test, sites) in tests.iter().filter(|(_, s)| !s.is_empty()) {
                let sites: Vec<String> = sites.iter().map(|s| crate::util::quote(s)).collect();
                let _ = writeln!(o, "{} = [{}]", crate::util::quote(test), sites.join(", "));
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
        let client = b.leaks.entry("client".into()).or_default();
        client
            .entry("a::b \"q\"".into())
            .or_default()
            .insert("src/x.rs:3".into());
        client
            .entry("c".into())
            .or_default()
            .extend(["src/y.rs:1".to_string(), "src/y.rs:2".to_string()]);
        b.leaks
            .entry("odd name".into())
            .or_default()
            .entry("c".into())
            .or_default()
            .insert("src/z.rs:9".into());
        let text = b.to_toml();
        assert!(
            text.contains("\n[leaks.client]\n\"a::b \\\"q\\\"\" = [\"src/x.rs:3\"]\n"),
            "{text}"
        );
        assert!(text.contains("\n[leaks.\"odd name\"]\n"), "{text}");
        let back = Baseline::parse(&text, "f").unwrap();
        assert_eq!(back, b);
        let one = |b: &str, t: &str, s: &str| back.classify(b, t, &[s.to_string()])[0].clone();
        assert_eq!(
            one("client", "c", "src/y.rs:2").as_deref(),
            Some("src/y.rs:2")
        );
        assert_eq!(one("client", "c", "src/w.rs:3"), None);
        // The same test name in another binary is another test.
        assert_eq!(one("odd name", "c", "src/y.rs:2"), None);
        assert_eq!(back.entries("client").count(), 3);
    }

    #[test]
    fn a_moved_spawn_call_is_still_known_a_second_one_is_not() {
        let mut b = Baseline::default();
        b.leaks
            .entry("x".into())
            .or_default()
            .entry("t".into())
            .or_default()
            .insert("tests/a.rs:10".into());
        let sites = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let known = |s: &str| Some(s.to_string());
        assert_eq!(
            b.classify("x", "t", &sites(&["tests/a.rs:10", "tests/a.rs:10"])),
            [known("tests/a.rs:10"), known("tests/a.rs:10")]
        );
        // Lines above it were edited: the same entry.
        assert_eq!(
            b.classify("x", "t", &sites(&["tests/a.rs:14", "tests/a.rs:14"])),
            [known("tests/a.rs:10"), known("tests/a.rs:10")]
        );
        // The listed leak, and a new one in the same file.
        assert_eq!(
            b.classify("x", "t", &sites(&["tests/a.rs:10", "tests/a.rs:30"])),
            [known("tests/a.rs:10"), None]
        );
        assert_eq!(b.classify("x", "t", &sites(&["tests/b.rs:10"])), [None]);
        assert_eq!(b.classify("x", "u", &sites(&["tests/a.rs:10"])), [None]);
        assert_eq!(b.classify("y", "t", &sites(&["tests/a.rs:10"])), [None]);
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
        let text = "[leaks.b]\nt = [\"src/a.rs:1\", \"src/b.rs:1\"]\n";
        let b = Baseline::parse(text, "f").unwrap();
        let many = |site: &str| vec![site.to_string(); 100_000];
        let listed = b.classify("b", "t", &many("src/a.rs:1"));
        assert!(listed.iter().all(|e| e.as_deref() == Some("src/a.rs:1")));
        let moved = b.classify("b", "t", &many("src/b.rs:9"));
        assert!(moved.iter().all(|e| e.as_deref() == Some("src/b.rs:1")));
        let new = b.classify("b", "t", &many("src/c.rs:1"));
        assert!(new.iter().all(Option::is_none));
    }
}
