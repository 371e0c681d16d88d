//! The whole test binary's view: which tests ran a leak check, what leaked
//! where, the baseline of known leaks, and the summary printed at exit.
//!
//! Checks report here (`judge`, `checked`); the exit hook in `gate.rs`
//! calls [`at_exit`]. Each process keeps its own records; what several
//! processes share (the baseline, the summary in `TASKLEAK_REPORT_DIR`) is
//! merged in files under a lock, so `cargo nextest run`'s process per test
//! adds up to the same as `cargo test`'s one process per binary.

pub(crate) mod baseline;
mod files;
pub(crate) mod summary;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::sync::LazyLock;

use parking_lot::Mutex;

use crate::config::defaults;
use crate::report::{LeakedTask, Leaks};
use baseline::Baseline;
use summary::{Entry, Summary};

/// What this process saw.
#[derive(Default)]
struct Seen {
    /// Tests that opened a leak check.
    checked: BTreeSet<String>,
    /// (test, site) of leaks that failed (or warned).
    leaked: BTreeSet<(String, String)>,
    /// (test, site) of leaks the baseline lists.
    known: BTreeSet<(String, String)>,
    /// (test, baseline entry) of the entries those leaks matched.
    matched: BTreeSet<(String, String)>,
}

static SEEN: Mutex<Seen> = Mutex::new(Seen {
    checked: BTreeSet::new(),
    leaked: BTreeSet::new(),
    known: BTreeSet::new(),
    matched: BTreeSet::new(),
});

/// The baseline beside the config file, read at the first leak.
static BASELINE: LazyLock<Result<Baseline, String>> =
    LazyLock::new(|| Baseline::load(&baseline::path(defaults::places())));

/// A test opened a leak check (counted in the summary).
pub(crate) fn checked() {
    // Only tests: libtest names each test's thread after it. A check on
    // `main` (an example, a `harness = false` binary) has no test to list.
    if let Some(name) = std::thread::current().name().filter(|n| *n != "main") {
        let mut seen = SEEN.lock();
        if !seen.checked.contains(name) {
            seen.checked.insert(name.to_owned());
        }
    }
    crate::gate::arm_summary();
}

/// Whether this run records a baseline (`TASKLEAK=record`).
fn recording() -> bool {
    crate::config::env::get().record
}

/// Where a leak is listed in the summary and the baseline: the spawn site
/// of the root of its spawn chain (the task spawned from the test body,
/// whose end ends the tasks it spawned: a server started by a test helper
/// and the connection tasks it spawned are one line), when that is in the
/// user's code (a path relative to the workspace); else the task's own
/// site, else the first of the user's frames that led to the spawn.
pub(crate) fn site(task: &LeakedTask) -> String {
    let at = |l: &std::panic::Location<'_>| format!("{}:{}", l.file(), l.line());
    let own = task.spawned_at();
    let root = task.chain().last().map_or(own, |s| s.location());
    let users = |file: &str| std::path::Path::new(file).is_relative();
    if users(root.file()) {
        return at(root);
    }
    if users(own.file()) {
        return at(own);
    }
    task.backtrace()
        .iter()
        .find_map(|f| match (f.file(), f.line()) {
            (Some(file), Some(line)) if users(file) => Some(format!("{file}:{line}")),
            _ => None,
        })
        .unwrap_or_else(|| at(own))
}

/// A check's verdict in the light of the baseline: leaks it lists for this
/// test pass (and count as known); under `TASKLEAK=record` every leak is
/// recorded and passes. Notes every leak of a test for the summary.
#[track_caller]
pub(crate) fn judge(verdict: Result<(), Leaks>) -> Result<(), Leaks> {
    let Err(mut leaks) = verdict else {
        return Ok(());
    };
    // The suite gate's, and a check outside any test (no test name: an
    // example's `main`): the summary and the baseline are per test.
    let Some(test) = leaks.test.clone().filter(|_| !leaks.suite_end) else {
        return Err(leaks);
    };
    let sites: Vec<String> = leaks.tasks.iter().map(site).collect();
    if recording() {
        let mut seen = SEEN.lock();
        for s in &sites {
            seen.leaked.insert((test.clone(), s.clone()));
        }
        drop(seen);
        let _ = writeln!(
            std::io::stderr().lock(),
            "taskleak: TASKLEAK=record: {} of test `{test}` recorded for the baseline",
            crate::util::plural(sites.len(), "leaked task")
        );
        return Ok(());
    }
    let baseline = match &*BASELINE {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let entries = baseline.classify(&files::binary_name(), &test, &sites);
    let mut known = Vec::new();
    let mut kept = Vec::new();
    let tasks = std::mem::take(&mut leaks.tasks).into_iter();
    for ((task, s), entry) in tasks.zip(sites).zip(entries) {
        match entry {
            Some(entry) => known.push((s, entry)),
            None => kept.push((task, s)),
        }
    }
    let mut seen = SEEN.lock();
    for (s, entry) in known {
        seen.known.insert((test.clone(), s));
        seen.matched.insert((test.clone(), entry));
    }
    for (_, s) in &kept {
        seen.leaked.insert((test.clone(), s.clone()));
    }
    drop(seen);
    leaks.tasks = kept.into_iter().map(|(t, _)| t).collect();
    if leaks.is_empty() { Ok(()) } else { Err(leaks) }
}

/// At the end of the binary: record the baseline, print the summary, and
/// add this process's part to the report directory's.
pub(crate) fn at_exit() {
    let seen = std::mem::take(&mut *SEEN.lock());
    if seen.checked.is_empty() && seen.leaked.is_empty() {
        return;
    }
    let places = defaults::places();
    if recording() {
        match baseline::record(places, &files::binary_name(), &seen.checked, &seen.leaked) {
            Ok((path, n)) => eprintln!(
                "taskleak: TASKLEAK=record: {} of this test binary written to {}",
                crate::util::plural(n, "leak"),
                path.display()
            ),
            Err(e) => eprintln!("taskleak: TASKLEAK=record: {e}"),
        }
        return;
    }
    let fixed: Vec<(String, String)> = match &*BASELINE {
        Ok(b) => b
            .entries(&files::binary_name())
            .filter(|(t, s)| {
                seen.checked.contains(*t) && !seen.matched.contains(&(t.to_string(), s.to_string()))
            })
            .map(|(t, s)| (t.to_owned(), s.to_owned()))
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut entries: Vec<Entry> = Vec::new();
    for (test, site) in &seen.leaked {
        entries.push(Entry::leaked(test, site));
    }
    for (test, site) in &seen.known {
        entries.push(Entry::known(test, site));
    }
    for (test, site) in &fixed {
        entries.push(Entry::fixed(test, site));
    }
    let summary = Summary::new(seen.checked.len(), entries.clone(), baseline::path(places));
    if !crate::util::per_test_process() && summary.worth_showing() {
        eprintln!("\n{}", summary.text());
        to_step_summary(&summary);
    }
    if let Some(dir) = std::env::var_os("TASKLEAK_REPORT_DIR").filter(|d| !d.is_empty())
        && let Err(e) = files::add_to_report_dir(
            std::path::Path::new(&dir),
            &seen.checked,
            &entries,
            &baseline::path(places),
        )
    {
        eprintln!(
            "taskleak: could not add to the summary in TASKLEAK_REPORT_DIR={}: {e}",
            std::path::Path::new(&dir).display()
        );
    }
}

/// Under GitHub Actions, adds the binary's summary to the job's page.
fn to_step_summary(summary: &Summary) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    if !std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        return;
    }
    let markdown = summary.markdown(&format!("test binary `{}`", files::binary_name()));
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(markdown.as_bytes()));
    if let Err(e) = written {
        eprintln!("taskleak: could not add the summary to GITHUB_STEP_SUMMARY: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An example's check (on `main`, no test name) is no test's: it is
    /// left out of the summary and the baseline, and keeps failing.
    #[test]
    fn a_check_outside_any_test_is_not_summarised() {
        let leaks = crate::report::tests::one_leak();
        assert!(leaks.test.is_none() && !leaks.tasks.is_empty());
        let before = SEEN.lock().leaked.len();
        assert!(judge(Err(leaks)).is_err());
        assert_eq!(SEEN.lock().leaked.len(), before);

        let mut named = crate::report::tests::one_leak();
        named.test = Some("suite::tests::named".into());
        let _ = judge(Err(named));
        assert!(
            SEEN.lock()
                .leaked
                .iter()
                .any(|(t, _)| t == "suite::tests::named")
        );
    }
}
