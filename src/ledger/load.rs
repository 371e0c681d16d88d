//! Finding a run's ledgers: in each report directory, the newest run
//! (`runs/<run>/`), or the directory itself when it holds ledgers; the
//! runs of several directories (a CI machine's shard each) together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Ledger, field, unfield};

/// The directory of a report directory that holds its runs.
pub(crate) const RUNS: &str = "runs";

/// The tests a binary lists (`--list`), and which of them are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TestList {
    pub(crate) tests: BTreeSet<String>,
    pub(crate) ignored: BTreeSet<String>,
}

impl TestList {
    /// From libtest's `--list --format terse` output (`name: test`), and
    /// the same with `--ignored`.
    pub(crate) fn from_libtest(all: &str, ignored: &str) -> TestList {
        let names = |text: &str| -> BTreeSet<String> {
            text.lines()
                .filter_map(|l| l.strip_suffix(": test"))
                .map(str::to_owned)
                .collect()
        };
        TestList {
            tests: names(all),
            ignored: names(ignored),
        }
    }

    pub(crate) fn to_text(&self) -> String {
        let mut o = String::new();
        for t in &self.tests {
            let word = if self.ignored.contains(t) {
                "ignored"
            } else {
                "test"
            };
            o.push_str(&format!("{word}\t{}\n", field(t)));
        }
        o.push_str("end\n");
        o
    }

    pub(crate) fn parse(text: &str) -> Option<TestList> {
        let mut list = TestList::default();
        let mut ended = false;
        for line in text.lines() {
            match line.split_once('\t') {
                Some(("test", t)) => {
                    list.tests.insert(unfield(t));
                }
                Some(("ignored", t)) => {
                    list.tests.insert(unfield(t));
                    list.ignored.insert(unfield(t));
                }
                _ if line == "end" => ended = true,
                _ => {}
            }
        }
        ended.then_some(list)
    }

    /// The tests a run of the whole binary runs.
    pub(crate) fn run_by_default(&self) -> impl Iterator<Item = &String> {
        self.tests.iter().filter(|t| !self.ignored.contains(*t))
    }
}

/// The ledgers of one run, from one or more report directories.
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub(crate) ledgers: Vec<Ledger>,
    /// (package, binary) → its tests.
    pub(crate) lists: BTreeMap<(String, String), TestList>,
    /// The run directories read.
    pub(crate) dirs: Vec<PathBuf>,
    /// Ledgers cut short (their process died while writing one).
    pub(crate) broken: usize,
}

/// A ledger's file name: unique per process.
pub(crate) fn ledger_name(package: &str, binary: &str, pid: u32) -> String {
    format!("{}.{}.{pid}.ledger", safe(package), safe(binary))
}

/// A test list's file name: one per binary and run.
pub(crate) fn list_name(package: &str, binary: &str) -> String {
    format!("{}.{}.tests", safe(package), safe(binary))
}

/// A name usable in a file name on every platform.
pub(crate) fn safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
            _ => '_',
        })
        .collect()
}

/// Reads the newest run of each of `dirs` (a report directory, or a run
/// directory itself) as one run.
pub(crate) fn load(dirs: &[PathBuf]) -> Result<Run, String> {
    let mut run = Run::default();
    for dir in dirs {
        let run_dir = newest_run(dir)?;
        read_run(&run_dir, &mut run)?;
        run.dirs.push(run_dir);
    }
    Ok(run)
}

fn newest_run(dir: &Path) -> Result<PathBuf, String> {
    let holds_ledgers = |d: &Path| {
        std::fs::read_dir(d).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "ledger"))
        })
    };
    if !dir.is_dir() {
        return Err(format!(
            "{}: no such directory; give the report directory of a run \
             (TASKLEAK_REPORT_DIR, or target/taskleak by default)",
            dir.display()
        ));
    }
    if holds_ledgers(dir) {
        return Ok(dir.to_path_buf());
    }
    let runs = dir.join(RUNS);
    let newest = std::fs::read_dir(&runs)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| holds_ledgers(p))
        .max_by_key(|p| (newest_file(p), p.clone()));
    newest.ok_or_else(|| {
        format!(
            "{}: no taskleak ledgers here; run the tests first (each test process that \
             opens a leak check writes one to TASKLEAK_REPORT_DIR, or target/taskleak)",
            dir.display()
        )
    })
}

fn newest_file(dir: &Path) -> SystemTime {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn read_run(dir: &Path, run: &mut Run) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    // Ledgers first: they name the binaries the lists are of.
    paths.sort_by_key(|p| (p.extension().is_none_or(|x| x != "ledger"), p.clone()));
    for path in paths {
        let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
        if ext != "ledger" && ext != "tests" {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if ext == "ledger" {
            match Ledger::parse(&text) {
                Some(l) => run.ledgers.push(l),
                None => run.broken += 1,
            }
        } else if let Some(list) = TestList::parse(&text) {
            // The name is `<package>.<binary>.tests`; the ledgers say which.
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let owner = run
                .ledgers
                .iter()
                .map(|l| (l.package.clone(), l.binary.clone()))
                .find(|(p, b)| list_name(p, b) == format!("{stem}.tests"));
            let key = owner.unwrap_or_else(|| {
                let (p, b) = stem.split_once('.').unwrap_or(("", stem));
                (p.to_owned(), b.to_owned())
            });
            let slot = run.lists.entry(key).or_default();
            slot.tests.extend(list.tests);
            slot.ignored.extend(list.ignored);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_list_from_libtest_round_trips() {
        let all = "a::one: test\nb::two: test\nbench_x: benchmark\n";
        let ignored = "b::two: test\n";
        let list = TestList::from_libtest(all, ignored);
        assert_eq!(list.tests.len(), 2);
        assert_eq!(
            list.run_by_default().collect::<Vec<_>>(),
            [&"a::one".to_string()]
        );
        assert_eq!(TestList::parse(&list.to_text()), Some(list));
    }
}
