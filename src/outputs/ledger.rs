//! Writing this process's ledger (`crate::ledger`) at the end of the
//! binary, and, once per binary and run, the binary's test list, so that
//! `cargo taskleak report` can judge the whole run — every binary, every
//! nextest process, every CI machine — from files alone.
//!
//! The place: `TASKLEAK_REPORT_DIR`, else `target/taskleak` (beside the
//! test binary's profile directory), in `runs/<run>/`. A run is nextest's
//! run id, else the `cargo test` process that started this binary: every
//! binary of one `cargo test` shares it. Each process writes a file of its
//! own, atomically: nothing to lock.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::Origin;
use crate::ledger::invocation::{self, Invocation};
use crate::ledger::load::{RUNS, TestList, ledger_name, list_name};
use crate::ledger::{Ledger, RuleKind, RuleUse};
use crate::suite::{self, Seen};

/// Runs kept in a report directory: older ones are removed when a new
/// one starts, unless they changed within [`RUN_AGE_KEPT`] (a run still
/// going while processes it started begin runs of their own).
const RUNS_KEPT: usize = 8;
const RUN_AGE_KEPT: Duration = Duration::from_secs(3600);

/// A binary's `--list` gets this long.
const LIST_BOUND: Duration = Duration::from_secs(20);

/// Set in the environment of the `--list` child, which must write nothing.
const LISTING: &str = "TASKLEAK_LISTING";

/// Where this process's run keeps its ledgers: `TASKLEAK_REPORT_DIR`, else
/// `target/taskleak`; `None` for a binary outside a target directory.
pub(crate) fn report_root() -> Option<PathBuf> {
    if let Some(dir) = super::files::report_dir() {
        return Some(dir);
    }
    // <target>/<profile>/deps/<binary>: the target directory is three up.
    if !in_deps() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("taskleak"))
}

/// The run this process belongs to, and the command that started it
/// (from `/proc`: elsewhere the command is unknown, and the run counts as
/// a part, which judges no rule of the whole workspace).
fn run_and_invocation() -> (String, Invocation) {
    #[cfg(unix)]
    let parent = std::os::unix::process::parent_id();
    #[cfg(not(unix))]
    let parent = 0;
    let proc = PathBuf::from(format!("/proc/{parent}"));
    let args: Vec<String> = std::fs::read(proc.join("cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let cwd = std::fs::read_link(proc.join("cwd")).unwrap_or_default();
    let root = crate::config::file::workspace_root(&cwd);
    let invocation = Invocation {
        all_packages: invocation::all_packages(&cwd, &root),
        cwd: cwd.display().to_string(),
        args,
    };
    let run = match std::env::var("NEXTEST_RUN_ID") {
        Ok(id) if !id.is_empty() => id,
        // The parent's start time (field 22 of its stat) tells a reused
        // pid apart.
        _ => {
            let stat = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
            let start = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(19))
                .unwrap_or("0");
            format!("cargo-{parent}-{start}")
        }
    };
    (run, invocation)
}

fn kind(origin: &Origin) -> RuleKind {
    match origin {
        Origin::File(_) => RuleKind::File,
        Origin::Configure(_) => RuleKind::Configure,
        Origin::Check(_) => RuleKind::Check,
    }
}

/// This process's ledger, from what it saw.
fn ledger(seen: &Seen, record: bool) -> Ledger {
    let (run, invocation) = run_and_invocation();
    let binary = suite::binary();
    let root = crate::config::workspace();
    let baseline = suite::baseline::path(crate::config::places());
    let baseline = baseline
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or(baseline);
    let rules = suite::rules::all()
        .into_iter()
        .map(|(pattern, origin, used)| RuleUse {
            kind: kind(&origin),
            origin: origin.to_string(),
            pattern,
            matched: used.matched,
            blind: used.blind,
        })
        .collect();
    Ledger {
        run,
        invocation,
        package: binary.package,
        binary: binary.name,
        whole: crate::util::whole_binary(),
        per_test: crate::util::per_test_process(),
        sites: crate::capture::TRACKING,
        record,
        checked: seen.checked.clone(),
        leaked: seen.leaked.clone(),
        warned: seen.warned.clone(),
        known: seen.known.clone(),
        grown: seen.grown.clone(),
        rules,
        baseline: baseline.display().to_string(),
    }
}

/// Writes this process's ledger, and the binary's test list if the run
/// has none yet. Returns the run's directory.
pub(crate) fn write(seen: &Seen, record: bool) -> std::io::Result<Option<PathBuf>> {
    if std::env::var_os(LISTING).is_some() {
        return Ok(None);
    }
    let Some(root) = report_root() else {
        return Ok(None);
    };
    let ledger = ledger(seen, record);
    super::files::make_report_dir(&root)?;
    let runs = root.join(RUNS);
    let dir = runs.join(crate::ledger::load::safe(&ledger.run));
    if !dir.exists() {
        std::fs::create_dir_all(&dir)?;
        prune(&runs, &dir);
    }
    let name = ledger_name(&ledger.package, &ledger.binary, std::process::id());
    super::files::write_atomic(&dir.join(name), ledger.to_text().as_bytes())?;
    // Only a libtest binary is asked for its list (another program, an
    // example say, would run): one that checked tests (libtest names each
    // test's thread after it), built by cargo as a test (in `deps/`).
    let libtest = !seen.checked.is_empty() && in_deps();
    let list = dir.join(list_name(&ledger.package, &ledger.binary));
    if libtest
        && !list.exists()
        && let Some(tests) = list_tests()
    {
        super::files::write_atomic(&list, tests.to_text().as_bytes())?;
    }
    Ok(Some(dir))
}

/// Is this binary where cargo puts test binaries (`<profile>/deps/`)?
fn in_deps() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.file_name()? == "deps"))
        .unwrap_or(false)
}

/// Removes all but the newest [`RUNS_KEPT`] runs, and none that changed
/// in the last [`RUN_AGE_KEPT`].
fn prune(runs: &Path, keep: &Path) {
    let mut all: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    all.sort();
    let excess = all.len().saturating_sub(RUNS_KEPT);
    let recent = std::time::SystemTime::now() - RUN_AGE_KEPT;
    for (changed, old) in all.into_iter().take(excess) {
        if old != keep && changed < recent {
            let _ = std::fs::remove_dir_all(old);
        }
    }
}

/// This binary's tests, from libtest's `--list` (bounded: a binary whose
/// listing hangs gives none).
fn list_tests() -> Option<TestList> {
    let exe = std::env::current_exe().ok()?;
    let all = run_bounded(&exe, &["--list", "--format", "terse"])?;
    let ignored = run_bounded(&exe, &["--list", "--format", "terse", "--ignored"])?;
    Some(TestList::from_libtest(&all, &ignored))
}

fn run_bounded(exe: &Path, args: &[&str]) -> Option<String> {
    let mut child = Command::new(exe)
        .args(args)
        .env(LISTING, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // Read while it runs: a long list fills the pipe before it exits.
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if start.elapsed() > LIST_BOUND => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    reader.join().ok()?.ok()
}
