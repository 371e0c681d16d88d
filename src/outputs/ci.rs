//! Sends a report where CI looks: annotations on the process's stdout
//! under GitHub Actions, the report as text and JSON files in
//! `TASKLEAK_REPORT_DIR`, written when the check fails: they survive a
//! binary that later hangs or is killed, which loses what libtest
//! captured.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::files::write_atomic;
use crate::config::Mode;
use crate::report::Leaks;
use crate::report::ci::annotations;
use crate::util::escape::Term;

/// Sends a failing check's report where CI looks: an `::error` annotation
/// per leaked spawn site when `GITHUB_ACTIONS=true`, and the report's text
/// and JSON files in `TASKLEAK_REPORT_DIR` when it is set.
pub(crate) fn publish(leaks: &Leaks, mode: Mode) {
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        // Straight to the process's stdout, past libtest's capture, where
        // the Actions runner reads workflow commands.
        // Workflow commands must start a line; libtest may have left one
        // open (`test name ... `).
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"\n");
        // A leak that does not fail the test (`TASKLEAK=warn`) is a warning.
        let level = match mode {
            Mode::Warn => "warning",
            _ => "error",
        };
        let place = match leaks.growth() {
            Some(_) => crate::judge::site::place_growing,
            None => crate::judge::site::place,
        };
        let _ = out.write_all(annotations(leaks, level, &place).as_bytes());
        let _ = out.flush();
    }
    if let Some(dir) = super::files::report_dir()
        && let Err(e) = write_report(dir.clone(), leaks)
    {
        eprintln!(
            "taskleak: could not write the report to TASKLEAK_REPORT_DIR ({}): {}",
            Term(dir.display()),
            Term(e)
        );
    }
}

/// `dir/<test>-<pid>-<n>.txt` (the report as stderr shows it, without
/// colours) and `.json`, each replaced at once: a reader (or a binary
/// killed mid-write) never leaves half a file.
fn write_report(dir: PathBuf, leaks: &Leaks) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    super::files::make_report_dir(&dir)?;
    let test: String = leaks
        .test
        .as_deref()
        .unwrap_or(if leaks.suite_end {
            "suite-gate"
        } else {
            "unnamed"
        })
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!(
        "{}-{}-{}",
        shorten(&test),
        std::process::id(),
        SEQ.fetch_add(1, Relaxed)
    );
    write_atomic(
        &dir.join(format!("{name}.txt")),
        leaks.to_string().as_bytes(),
    )?;
    write_atomic(
        &dir.join(format!("{name}.json")),
        leaks.to_json().as_bytes(),
    )
}

/// Test names longer than this are cut, so that a file name (with process
/// id and sequence number) stays far below the 255 bytes file systems take.
const MAX_NAME: usize = 120;

/// `name` (ASCII), or its first part and a hash of the whole, which keeps
/// two long names that share a beginning apart.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_NAME {
        return name.to_owned();
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    format!("{}-{:016x}", &name[..MAX_NAME - 17], h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_test_name_still_gets_its_report_written() {
        let dir = std::env::temp_dir().join(format!("taskleak-ci-{}", std::process::id()));
        let long = |c: char| {
            let mut name = "a::".repeat(10);
            name.extend(std::iter::repeat_n(c, 256));
            name
        };
        for name in [long('x'), long('y')] {
            let mut leaks = Leaks::new(Some(name), std::time::Duration::from_millis(1));
            leaks.counted = 1;
            write_report(dir.clone(), &leaks).expect("written");
        }
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.iter().all(|n| n.len() < 160), "{names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("a__a__a__")),
            "{names:?}"
        );
    }
}
