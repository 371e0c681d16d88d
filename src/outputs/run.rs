//! What the run's end prints and writes: the stale-rule notice, the
//! summary (stderr, the step summary, the report directory) and the
//! baseline (`TASKLEAK=record`). Called by `exit`, once.

use std::io::Write as _;

use crate::config::Mode;
use crate::suite::summary::{Entry, State, Summary};
use crate::suite::{self, rules};
use crate::util::escape::{Term, markdown_code};

/// Points out rules that matched nothing in this process (ignore lists
/// rot otherwise), of those it can judge (see `suite::rules::stale`).
pub(crate) fn stale_notice() {
    // Without spawn sites no rule could match: none is judged.
    if !crate::capture::TRACKING {
        return;
    }
    for rule in rules::stale(crate::util::whole_binary()) {
        let (pattern, origin) = (&rule.pattern, &rule.origin);
        let hint = if rule.same_file {
            "; a task was spawned elsewhere in that file: line numbers move when code above \
             them changes, so prefer a function path or the whole file"
        } else {
            "; remove it if the leak it covered is fixed"
        };
        eprintln!(
            "taskleak: ignore rule {pattern:?} ({}) matched no task in this test binary{hint}",
            Term(origin)
        );
    }
}

/// At the end of the binary: record the baseline, or print the summary
/// and add this process's part to the report directory's. `false` when
/// the run must fail: `TASKLEAK=record` wrote nothing.
pub(crate) fn summary() -> bool {
    let seen = suite::take();
    if seen.checked.is_empty() && seen.leaked.is_empty() {
        return true;
    }
    let places = crate::config::places();
    let record = crate::config::base().mode == Some(Mode::Record);
    // Without spawn sites nothing can be matched to the baseline or the
    // rules: neither is judged nor written, and the run says so once.
    if !crate::capture::TRACKING {
        let rules = rules::any();
        let has_data = rules || suite::baseline::path(places).exists();
        super::notices::no_spawn_sites(record, has_data);
        if record {
            return false;
        }
    }
    match super::ledger::write(&seen, record) {
        Ok(_) => {}
        Err(e) => eprintln!(
            "taskleak: could not write this process's ledger for `cargo taskleak report` \
             (in TASKLEAK_REPORT_DIR, else target/taskleak): {}",
            Term(e)
        ),
    }
    if record {
        match super::baseline::record(places, &suite::binary(), &seen.checked, &seen.leaked) {
            Ok((path, n)) => eprintln!(
                "taskleak: TASKLEAK=record: {} of this test binary written to {}",
                crate::util::plural(n, "leaked task"),
                Term(path.display())
            ),
            Err(e) => {
                let e = e.strip_prefix("taskleak: ").unwrap_or(&e);
                eprintln!(
                    "taskleak: TASKLEAK=record failed, the baseline was not written: {}",
                    Term(e)
                );
                return false;
            }
        }
        return true;
    }
    let (fixed, fewer) = match suite::baseline::current() {
        Ok(b) if crate::capture::TRACKING => {
            let binary = suite::binary();
            (
                suite::fixed(&seen, b, &binary),
                suite::fewer(&seen, b, &binary),
            )
        }
        _ => (Vec::new(), Vec::new()),
    };
    let mut entries: Vec<Entry> = Vec::new();
    for ((test, site), n) in &seen.leaked {
        entries.push(
            match seen.warned.contains(test) {
                true => Entry::new(State::Warned, test, site),
                false => Entry::leaked(test, site),
            }
            .tasks(*n),
        );
    }
    for ((test, site, entry), n) in &seen.known {
        entries.push(Entry::known(test, site).tasks(*n));
        if site != entry {
            entries.push(Entry::moved(test, entry, site).tasks(*n));
        }
    }
    for (test, site) in &fixed {
        entries.push(Entry::fixed(test, site));
    }
    for ((test, entry), (recorded, now)) in &seen.grown {
        entries.push(Entry::changed(test, entry, *now, *recorded));
    }
    for (test, entry, now, recorded) in &fewer {
        entries.push(Entry::changed(test, entry, *now, *recorded));
    }
    let summary = Summary::new(
        seen.checked.len(),
        entries.clone(),
        suite::baseline::path(places),
    );
    if !crate::util::per_test_process() && summary.worth_showing() {
        eprintln!(
            "\n{}\n  The whole run (every binary, tests without a check, rules no binary used): \
             cargo taskleak report",
            summary.text()
        );
        to_step_summary(&summary);
    }
    if let Some(dir) = super::files::report_dir()
        && let Err(e) = super::files::add_to_report_dir(
            &dir,
            &seen.checked,
            &entries,
            &suite::baseline::path(places),
        )
    {
        eprintln!(
            "taskleak: could not add to the summary in TASKLEAK_REPORT_DIR ({}): {}",
            Term(dir.display()),
            Term(e)
        );
    }
    true
}

/// Under GitHub Actions, adds the binary's summary to the job's page.
fn to_step_summary(summary: &Summary) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    if !std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        return;
    }
    let markdown = summary.markdown(&format!(
        "test binary {}",
        markdown_code(&suite::binary_name())
    ));
    let path = std::path::Path::new(&path);
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(markdown.as_bytes()));
    if let Err(e) = written {
        let why = if path.is_dir() {
            "it is a directory, not a file".to_string()
        } else {
            e.to_string()
        };
        eprintln!(
            "taskleak: could not add the summary to GITHUB_STEP_SUMMARY ({}): {}",
            Term(path.display()),
            Term(why)
        );
    }
}
