//! The whole run as this process sees it: which tests ran a leak check,
//! what leaked where, which baseline entries those leaks matched, and the
//! tally of ignore rules. The one owner of that state: `outputs` adds each
//! check's facts and, at exit, renders and writes them. Each process keeps
//! its own; what several processes share (the baseline, the summary in
//! `TASKLEAK_REPORT_DIR`) is merged in files under a lock by `outputs`, so
//! `cargo nextest run`'s process per test adds up to the same as
//! `cargo test`'s one process per binary.

pub(crate) mod baseline;
mod entry;
pub(crate) mod rules;
pub(crate) mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use parking_lot::Mutex;

use baseline::{Baseline, Binary, Grown};

/// What this process saw.
#[derive(Default)]
pub(crate) struct Seen {
    /// Tests that opened a leak check.
    pub(crate) checked: BTreeSet<String>,
    /// (test, site) of leaks that failed (or warned, or were recorded),
    /// with how many tasks.
    pub(crate) leaked: BTreeMap<(String, String), usize>,
    /// Tests whose leaks did not fail them (`TASKLEAK=warn`).
    pub(crate) warned: BTreeSet<String>,
    /// (test, site, baseline entry) of leaks the baseline lists, with how
    /// many tasks; a site other than its entry is a spawn call that moved
    /// within its file (the entry matched by file, not by line).
    pub(crate) known: BTreeMap<(String, String, String), usize>,
    /// (test, baseline entry) of the entries those leaks matched, with how
    /// many tasks.
    pub(crate) matched: BTreeMap<(String, String), usize>,
    /// (test, baseline entry) of known leaks that now have more tasks than
    /// recorded: (recorded, now). Their tasks are in `leaked`.
    pub(crate) grown: BTreeMap<(String, String), (usize, usize)>,
}

static SEEN: Mutex<Seen> = Mutex::new(Seen {
    checked: BTreeSet::new(),
    leaked: BTreeMap::new(),
    warned: BTreeSet::new(),
    known: BTreeMap::new(),
    matched: BTreeMap::new(),
    grown: BTreeMap::new(),
});

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
}

/// Notes a test's leaks: `leaked` by site (one a task), `known` as
/// (site, entry), `grown` the known leaks that grew; `warned`: the leaks
/// did not fail the test (`TASKLEAK=warn`).
pub(crate) fn note(
    test: &str,
    leaked: &[String],
    known: &[(String, String)],
    grown: &[Grown],
    warned: bool,
) {
    let mut seen = SEEN.lock();
    for site in leaked {
        *seen
            .leaked
            .entry((test.to_owned(), site.clone()))
            .or_default() += 1;
    }
    for g in grown {
        seen.grown
            .insert((test.to_owned(), g.entry.clone()), (g.known, g.now));
    }
    if warned && !leaked.is_empty() {
        seen.warned.insert(test.to_owned());
    }
    for (site, entry) in known {
        *seen
            .known
            .entry((test.to_owned(), site.clone(), entry.clone()))
            .or_default() += 1;
        *seen
            .matched
            .entry((test.to_owned(), entry.clone()))
            .or_default() += 1;
    }
}

/// Everything seen so far, once (at exit).
pub(crate) fn take() -> Seen {
    std::mem::take(&mut *SEEN.lock())
}

/// Has a leak of `test` been noted? (For tests of the outputs.)
#[cfg(test)]
pub(crate) fn noted(test: &str) -> bool {
    SEEN.lock().leaked.keys().any(|(t, _)| t == test)
}

/// How many leaks were noted.
#[cfg(test)]
pub(crate) fn leaked_count() -> usize {
    SEEN.lock().leaked.len()
}

/// Baseline entries of `binary` for tests that ran a check here and that
/// no leak matched: fixed, as far as this process can tell.
pub(crate) fn fixed(seen: &Seen, baseline: &Baseline, binary: &Binary) -> Vec<(String, String)> {
    baseline
        .entries(binary)
        .into_iter()
        .filter(|(t, s, _)| {
            let key = (t.to_string(), s.to_string());
            seen.checked.contains(*t)
                && !seen.matched.contains_key(&key)
                && !seen.grown.contains_key(&key)
        })
        .map(|(t, s, _)| (t.to_owned(), s.to_owned()))
        .collect()
}

/// Known leaks of `binary` with fewer tasks than the baseline records:
/// (test, entry, now, recorded).
pub(crate) fn fewer(
    seen: &Seen,
    baseline: &Baseline,
    binary: &Binary,
) -> Vec<(String, String, usize, usize)> {
    baseline
        .entries(binary)
        .into_iter()
        .filter_map(|(t, s, recorded)| {
            let now = *seen.matched.get(&(t.to_string(), s.to_string()))?;
            let recorded = recorded?;
            (now < recorded).then(|| (t.to_owned(), s.to_owned(), now, recorded))
        })
        .collect()
}

/// This test binary, as the baseline keys it: its package (cargo and
/// nextest set `CARGO_PKG_NAME` for the tests they run) and its name.
pub(crate) fn binary() -> Binary {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    Binary::new(&package, &binary_name())
}

/// This test binary's name, without cargo's hash suffix.
pub(crate) fn binary_name() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "test binary".into());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_owned()
        }
        _ => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_name_drops_the_hash() {
        // This unit-test binary is `taskleak-<16 hex>`.
        assert_eq!(binary_name(), "taskleak");
    }
}
