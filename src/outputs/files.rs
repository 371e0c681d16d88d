//! Files that several test processes write: atomic replacement,
//! and the run-wide summary in `TASKLEAK_REPORT_DIR`.
//!
//! The report directory keeps a log, one line per fact a process adds
//! (`checked`, `leaked`, `known`, `fixed`; tests named `binary test`, as
//! nextest names them), and after each addition the
//! summary rendered from the whole log: `taskleak-summary.txt`, `.md` and
//! `.json`. Under nextest (a process per test) that is how the run's
//! summary exists at all; the log starts over when `NEXTEST_RUN_ID`
//! changes. Under `cargo test` it adds up every binary: clear the directory
//! before a run.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::lock::Lock;
use crate::suite::summary::{Entry, State, Summary};

pub(crate) const LOG: &str = "taskleak-summary.log";

/// `TASKLEAK_REPORT_DIR`, if set: a relative path is taken from the
/// workspace root, so every member's test processes (each run in its
/// package's directory) write to the one directory of the run.
pub(crate) fn report_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TASKLEAK_REPORT_DIR").filter(|d| !d.is_empty())?;
    Some(resolve(Path::new(&dir), crate::config::workspace()))
}

/// Makes the report directory if it is missing; a file in its place is
/// an error that says so (not "File exists").
pub(crate) fn make_report_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is a file, not a directory: set TASKLEAK_REPORT_DIR to a directory \
             (it is made if missing)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
}

/// `dir` as it is when absolute, else under `root`.
fn resolve(dir: &Path, root: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        root.join(dir)
    }
}

/// Replaces `path` with `bytes` at once: readers see the old or the new
/// file, never half of one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Adds this process's facts to the report directory's log and renders
/// the run's summary from it.
pub(crate) fn add_to_report_dir(
    dir: &Path,
    checked: &BTreeSet<String>,
    entries: &[Entry],
    baseline: &Path,
) -> std::io::Result<()> {
    make_report_dir(dir)?;
    let log = dir.join(LOG);
    let _lock = Lock::take(dir)?;
    let run = std::env::var("NEXTEST_RUN_ID").unwrap_or_default();
    let old = std::fs::read_to_string(&log).unwrap_or_default();
    let same_run = old.lines().next() == Some(&format!("run\t{run}"));
    let mut text = if same_run {
        old
    } else {
        format!("run\t{run}\n")
    };
    let binary = clean(&crate::suite::binary_name());
    for test in checked {
        let _ = writeln!(text, "checked\t{binary}\t{}", clean(test));
    }
    // Tests by binary and name, as nextest shows them: test names repeat
    // across binaries.
    for e in entries {
        let _ = writeln!(
            text,
            "{}\t{binary} {}\t{}\t{}\t{}",
            e.state.word(),
            clean(&e.test),
            clean(&e.site),
            e.count,
            e.recorded.map_or(String::new(), |r| r.to_string())
        );
    }
    write_atomic(&log, text.as_bytes())?;

    let summary = from_log(&text, baseline.to_path_buf());
    write_atomic(&dir.join("taskleak-summary.txt"), summary.text().as_bytes())?;
    write_atomic(
        &dir.join("taskleak-summary.md"),
        summary.markdown("this run").as_bytes(),
    )?;
    write_atomic(
        &dir.join("taskleak-summary.json"),
        json(&summary).as_bytes(),
    )
}

/// The summary of every process's lines in the log.
pub(crate) fn from_log(text: &str, baseline: PathBuf) -> Summary {
    let mut checked: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut entries = Vec::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("checked"), Some(binary), Some(test)) => {
                checked.insert((binary, test));
            }
            (Some(word), Some(test), Some(site)) => {
                if let Some(state) = State::from_word(word) {
                    let mut e = Entry::new(state, test, site);
                    e.count = fields.next().and_then(|c| c.parse().ok()).unwrap_or(0);
                    e.recorded = fields.next().and_then(|c| c.parse().ok());
                    entries.push(e);
                }
            }
            _ => {}
        }
    }
    Summary::new(checked.len(), entries, baseline)
}

/// The log is tab-separated, one fact a line.
fn clean(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// The summary as JSON (schema `taskleak-summary/1`).
fn json(s: &Summary) -> String {
    let mut o = String::from("{\"schema\":\"taskleak-summary/1\"");
    let _ = write!(o, ",\"checked_tests\":{}", s.checked());
    for (state, key) in [
        (State::Leaked, "leaked"),
        (State::Warned, "warned"),
        (State::Known, "known"),
        (State::Moved, "moved"),
    ] {
        let _ = write!(o, ",\"{key}\":[");
        for (i, g) in s.groups(state).iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let tests: Vec<String> = g.tests.iter().map(|t| crate::util::quote(t)).collect();
            let _ = write!(
                o,
                "{{\"site\":{},\"tests\":[{}]}}",
                crate::util::quote(g.site),
                tests.join(",")
            );
        }
        o.push(']');
    }
    o.push_str(",\"fixed\":[");
    let fixed: Vec<String> = s
        .entries()
        .filter(|e| e.state == State::Fixed)
        .map(|e| {
            format!(
                "{{\"test\":{},\"site\":{}}}",
                crate::util::quote(&e.test),
                crate::util::quote(&e.site)
            )
        })
        .collect();
    o.push_str(&fixed.join(","));
    o.push_str("]}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_adds_up_processes() {
        let log = "run\t\nchecked\tb\tt1\nchecked\tb\tt2\nleaked\tt1\tsrc/a.rs:1\n\
                   checked\tb\tt3\nleaked\tt3\tsrc/a.rs:1\nknown\tt2\tsrc/k.rs:2\nfixed\tt2\tsrc/f.rs:3\n";
        let s = from_log(log, PathBuf::from("bl.toml"));
        assert_eq!(s.checked(), 3);
        let groups = s.groups(State::Leaked);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].tests, ["t1", "t3"]);
        let j = json(&s);
        assert!(
            j.contains("\"leaked\":[{\"site\":\"src/a.rs:1\",\"tests\":[\"t1\",\"t3\"]}]"),
            "{j}"
        );
        assert!(
            j.contains("\"fixed\":[{\"test\":\"t2\",\"site\":\"src/f.rs:3\"}]"),
            "{j}"
        );
    }
}
