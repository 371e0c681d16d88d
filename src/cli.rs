//! What `cargo taskleak` (the `cargo-taskleak` package) runs: a run's
//! ledgers read, judged and rendered, or written as the baseline. Not
//! public API: the command is the interface, and these may change in any
//! release. The command owns its arguments, its output and its exit code;
//! this owns the judgement, so `cargo taskleak` and `TASKLEAK=record`
//! write the same file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::ledger::load::{self, Run};
use crate::ledger::merge::{self, RunVerdict};
use crate::ledger::render;
use crate::outputs::baseline::{Part, record_all};
use crate::suite::baseline::{Baseline, Binary};

/// How `report` renders the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For a terminal.
    Text,
    /// For `$GITHUB_STEP_SUMMARY`.
    Markdown,
    /// Schema `taskleak-run/1`.
    Json,
}

/// What `report` found.
#[derive(Debug)]
pub struct Report {
    /// The report, rendered.
    pub output: String,
    /// Leaks the baseline does not list (or more tasks than it records).
    pub new_leaks: bool,
    /// Rules that matched nothing in the whole run, or baseline entries
    /// that no longer leak (what `--strict` also fails on).
    pub stale_or_fixed: bool,
}

/// The default report directory of a workspace whose target directory is
/// `target`: where test processes write their ledgers when
/// `TASKLEAK_REPORT_DIR` is not set.
pub fn default_dir(target: &Path) -> PathBuf {
    target.join("taskleak")
}

fn read(dirs: &[PathBuf], workspace: &Path) -> Result<(Run, BTreeMap<String, Baseline>), String> {
    let run = load::load(dirs)?;
    if run.ledgers.is_empty() {
        return Err("no ledgers in the run".into());
    }
    let mut baselines = BTreeMap::new();
    for l in &run.ledgers {
        if !baselines.contains_key(&l.baseline) {
            let b = Baseline::load(&workspace.join(&l.baseline))?;
            baselines.insert(l.baseline.clone(), b);
        }
    }
    Ok((run, baselines))
}

fn baseline_name(run: &Run) -> String {
    run.ledgers
        .first()
        .map_or(".config/taskleak-baseline.toml".into(), |l| {
            l.baseline.clone()
        })
}

/// Merges the newest run of each of `dirs` (one directory, or the report
/// directories of a run's partitions) and judges it; baselines are read
/// from `workspace`.
pub fn report(dirs: &[PathBuf], workspace: &Path, format: Format) -> Result<Report, String> {
    let (run, baselines) = read(dirs, workspace)?;
    let verdict: RunVerdict = merge::judge(&run, &baselines);
    let name = baseline_name(&run);
    let output = match format {
        Format::Text => render::text(&verdict, &name),
        Format::Markdown => render::markdown(&verdict, &name),
        Format::Json => render::json(&verdict),
    };
    Ok(Report {
        output,
        new_leaks: verdict.new_leaks(),
        stale_or_fixed: verdict.stale_or_fixed(),
    })
}

/// Writes the baseline the run's leaks make (what `TASKLEAK=record` writes
/// on the same run): each binary's tests that ran a check get exactly
/// their leaks, with counts; other entries stay. Returns a line for each
/// file written.
pub fn baseline(dirs: &[PathBuf], workspace: &Path) -> Result<Vec<String>, String> {
    let (run, _) = read(dirs, workspace)?;
    if let Some(l) = run.ledgers.iter().find(|l| !l.sites) {
        return Err(format!(
            "a process of the run ({} {}) could not see spawn sites (built without \
             --cfg tokio_unstable): nothing written",
            l.package, l.binary
        ));
    }
    if run.broken > 0 {
        return Err(format!(
            "{} of the run cut short (a process died while writing it): its leaks are \
             unknown, nothing written",
            crate::util::plural(run.broken, "ledger was")
        ));
    }
    // Per baseline file, per binary: tests checked, tasks per site (the
    // most any process of the test saw: nextest may run a test twice).
    type Parts = BTreeMap<Binary, (BTreeSet<String>, BTreeMap<(String, String), usize>)>;
    let mut files: BTreeMap<&str, Parts> = BTreeMap::new();
    for l in &run.ledgers {
        let binary = Binary::new(&l.package, &l.binary);
        let part = files
            .entry(&l.baseline)
            .or_default()
            .entry(binary)
            .or_default();
        part.0.extend(l.checked.iter().cloned());
        let known = l.known.iter().map(|((t, s, _), n)| ((t, s), n));
        for ((t, s), n) in l.leaked.iter().map(|((t, s), n)| ((t, s), n)).chain(known) {
            let slot = part.1.entry((t.clone(), s.clone())).or_default();
            *slot = (*slot).max(*n);
        }
    }
    let mut lines = Vec::new();
    for (file, parts) in files {
        let parts: Vec<Part> = parts
            .into_iter()
            .map(|(b, (checked, leaked))| (b, checked, leaked))
            .collect();
        let (path, n) = record_all(&workspace.join(file), &parts)?;
        lines.push(format!(
            "{} of {} written to {}",
            crate::util::plural(n, "leaked task"),
            crate::util::plural(parts.len(), "test binary"),
            path.display()
        ));
    }
    Ok(lines)
}
