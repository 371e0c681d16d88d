//! What the end of a run leaves behind: the exit handlers that still run
//! after a failing suite gate, where the report directory is, the report
//! files of tests that finished before the binary hung or was killed,
//! text that reaches a CI log or Markdown, and the cost of reporting many
//! leaks.
//!
//! Most of it is about a whole test process, so the `#[ignore]`d fixtures
//! below run in a child process (this same test binary) under a time
//! bound, and the tests read what it printed and wrote.

mod common;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use common::{forever, multi_thread, output_within, run_fixture_within};

taskleak::configure! {
    grace: "30ms",
    suite_gate: true,
}

/// A runtime shared by the whole binary, as many suites have.
static SHARED: LazyLock<tokio::runtime::Runtime> = LazyLock::new(multi_thread);

/// A directory of its own for one test, empty.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("outputs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const BOUND: Duration = Duration::from_secs(60);

/// This test binary running `fixture` alone in `cwd`, as cargo runs a
/// member's tests (in the package's directory, `CARGO_MANIFEST_DIR` set to
/// it), with `env` and none of taskleak's variables otherwise. Killed
/// after [`BOUND`].
fn run_in(fixture: &str, cwd: &Path, env: &[(&str, &str)]) -> (std::process::Output, String) {
    let mut cmd = common::this_binary(&["--ignored", "--exact", fixture, "--test-threads=1"]);
    cmd.current_dir(cwd).env("CARGO_MANIFEST_DIR", cwd);
    cmd.envs(env.iter().copied());
    let out = output_within(cmd, BOUND);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// The files in `dir`, by name, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
#[ignore = "fixture"]
fn fixture_leaks_one() {
    let rt = multi_thread();
    let _guard = taskleak::verify_none();
    rt.spawn(forever());
}

// ------------------------------------------------- exit handlers (atexit)

/// Stands in for a coverage profiler's exit handler: it writes a file.
extern "C" fn mark_exit() {
    if let Some(path) = std::env::var_os("OUTPUTS_EXIT_MARK") {
        let _ = std::fs::write(path, b"ran");
    }
}

#[test]
#[ignore = "fixture"]
fn fixture_registers_an_exit_handler_then_leaves_a_task() {
    // Registered before taskleak's own handler (which the first tracked
    // runtime installs), as a profiler's is, before `main`.
    // SAFETY: registers a function with no preconditions.
    unsafe { libc::atexit(mark_exit) };
    // Spawned from a plain thread: no check claims it; the gate reports it.
    std::thread::spawn(|| {
        SHARED.spawn(forever());
    })
    .join()
    .unwrap();
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn a_failing_suite_gate_lets_earlier_exit_handlers_run() {
    let dir = scratch("atexit");
    let mark = dir.join("mark");
    let (status, text) = run_fixture_within(
        "fixture_registers_an_exit_handler_then_leaves_a_task",
        &[("OUTPUTS_EXIT_MARK", mark.to_str().unwrap())],
        BOUND,
    );
    assert!(text.contains("claimed by no check"), "{text}");
    assert_eq!(status.and_then(|s| s.code()), Some(101), "{text}");
    assert_eq!(
        std::fs::read(&mark).ok().as_deref(),
        Some(&b"ran"[..]),
        "the exit handler registered before taskleak's did not run:\n{text}"
    );
}

// ------------------------------------------------------ the report directory

#[test]
fn a_relative_report_dir_is_one_directory_at_the_workspace_root() {
    let ws = scratch("workspace");
    std::fs::write(
        ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"a\", \"b\"]\n",
    )
    .unwrap();
    for member in ["a", "b"] {
        let dir = ws.join(member);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[package]\nname = \"{member}\"\nversion = \"0.1.0\"\n"),
        )
        .unwrap();
        let (out, text) = run_in(
            "fixture_leaks_one",
            &dir,
            &[("TASKLEAK_REPORT_DIR", "target/taskleak")],
        );
        assert_eq!(out.status.code(), Some(101), "{text}");
        assert!(!dir.join("target").exists(), "{member}: {text}");
    }
    let files = names(&ws.join("target/taskleak"));
    assert!(
        files.iter().any(|f| f == "taskleak-summary.txt"),
        "{files:?}"
    );
    let reports = files
        .iter()
        .filter(|f| f.starts_with("fixture_leaks_one-") && f.ends_with(".json"))
        .count();
    assert_eq!(reports, 2, "one report of each member's run: {files:?}");
}

// ------------------------------------- reports that outlive their binary

#[test]
#[ignore = "fixture"]
fn fixture_killed_1_leaks() {
    let rt = multi_thread();
    let _guard = taskleak::verify_none();
    rt.spawn(forever());
}

#[test]
#[ignore = "fixture"]
fn fixture_killed_2_aborts() {
    // A binary that dies before libtest prints the failures it captured.
    std::process::abort();
}

#[test]
fn a_failing_checks_report_files_survive_a_binary_that_dies_later() {
    let dir = scratch("killed");
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    // Tests run in name order on one thread: the leak, then the abort.
    cmd.args(["--ignored", "fixture_killed_", "--test-threads=1"])
        .env("NO_COLOR", "1")
        .env("TASKLEAK_REPORT_DIR", &dir)
        .env_remove("NEXTEST_RUN_ID")
        .env_remove("GITHUB_ACTIONS");
    let out = output_within(cmd, BOUND);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), None, "killed by SIGABRT: {text}");
    assert!(
        !text.contains("still running 30ms"),
        "libtest never printed it: {text}"
    );

    let files = names(&dir);
    let report = |ext: &str| {
        let name = files
            .iter()
            .find(|f| f.starts_with("fixture_killed_1_leaks-") && f.ends_with(ext))
            .unwrap_or_else(|| panic!("no {ext} report in {files:?}"));
        std::fs::read_to_string(dir.join(name)).unwrap()
    };
    let txt = report(".txt");
    assert!(
        txt.starts_with("taskleak: test `fixture_killed_1_leaks` leaked 1 task"),
        "{txt}"
    );
    assert!(txt.contains("spawned at tests/outputs.rs:"), "{txt}");
    let json: serde_json::Value = serde_json::from_str(&report(".json")).unwrap();
    assert_eq!(json["test"], "fixture_killed_1_leaks");
    assert_eq!(json["leaked"], 1);
    assert_eq!(
        files.len(),
        2,
        "the two reports, no temporary file: {files:?}"
    );
}

// ------------------------------------------------------- many leaks, linear

/// `OUTPUTS_LEAKS` tasks leaked from one spawn site, by a task of a
/// `#[leak_check]` test.
#[taskleak::leak_check]
#[ignore = "fixture"]
async fn fixture_many_leaks_from_one_site() {
    let n: usize = std::env::var("OUTPUTS_LEAKS").unwrap().parse().unwrap();
    tokio::spawn(async move {
        for _ in 0..n {
            tokio::spawn(forever());
        }
        forever().await
    });
    tokio::task::yield_now().await;
}

/// 10^5 leaked tasks from one site: the check, the report (text, JSON,
/// annotations) and the binary's end (summary) take seconds in a debug
/// build, not minutes (measured: ~7 s; 10^6 took ~50 s).
#[test]
fn a_hundred_thousand_leaks_from_one_site_are_reported_in_seconds() {
    let dir = scratch("many");
    let start = std::time::Instant::now();
    let (status, text) = run_fixture_within(
        "fixture_many_leaks_from_one_site",
        &[
            ("OUTPUTS_LEAKS", "100000"),
            ("TASKLEAK_REPORT_DIR", dir.to_str().unwrap()),
            ("GITHUB_ACTIONS", "true"),
        ],
        BOUND,
    );
    let took = start.elapsed();
    let head: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(101),
        "ended within {BOUND:?}? took {took:?}:\n{head}"
    );
    assert!(
        text.contains("taskleak: test `fixture_many_leaks_from_one_site` leaked 100001 tasks"),
        "{head}"
    );
    assert!(text.contains("100000 identical tasks"), "{head}");
    assert!(
        text.contains("taskleak summary: 1 test leaked tasks, from 1 spawn site"),
        "{head}"
    );
    let annotations = text.lines().filter(|l| l.starts_with("::error ")).count();
    assert_eq!(annotations, 2, "one per group of identical tasks");
    let files = names(&dir);
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("fixture_many_leaks_from_one_site-") && f.ends_with(".json")),
        "{files:?}"
    );
}

/// Where a report or summary cannot be written, the message names the
/// path and what is wrong with it, not only the OS error.
#[test]
fn an_unwritable_report_dir_or_step_summary_is_named() {
    let dir = scratch("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let (_, text) = run_in(
        "fixture_leaks_one",
        &dir,
        &[("TASKLEAK_REPORT_DIR", file.to_str().unwrap())],
    );
    assert!(
        text.contains(&format!(
            "{} is a file, not a directory: set TASKLEAK_REPORT_DIR to a directory",
            file.display()
        )),
        "{text}"
    );
    assert!(!text.contains("os error 17"), "{text}");

    let summary = dir.join("summary-dir");
    std::fs::create_dir_all(&summary).unwrap();
    let (_, text) = run_in(
        "fixture_leaks_one",
        &dir,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert!(
        text.contains(&format!(
            "could not add the summary to GITHUB_STEP_SUMMARY ({}): it is a directory, not a file",
            summary.display()
        )),
        "{text}"
    );
}

// ------------------------------------------------------- TASKLEAK=warn

/// Under `TASKLEAK=warn` a leak passes its test: the step summary says
/// so, and never that tests failed.
#[test]
fn under_warn_the_step_summary_says_the_leaking_tests_passed() {
    let dir = scratch("warn-summary");
    let summary = dir.join("summary.md");
    let (out, text) = run_in(
        "fixture_leaks_one",
        &dir,
        &[
            ("TASKLEAK", "warn"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let markdown = std::fs::read_to_string(&summary).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert!(
        markdown.contains("### taskleak: 1 test leaked tasks, passed under TASKLEAK=warn"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| spawn site | tests passed (TASKLEAK=warn) | names |"),
        "{markdown}"
    );
    assert!(!markdown.contains("failed"), "{markdown}");
    assert!(text.contains("TASKLEAK=warn passed them"), "{text}");
}

/// Stands in for cargo-nextest: runs `fixture_leaks_one` as a child
/// process whose output it hides, as nextest does for a passing test,
/// keeping its own stderr (the console).
#[test]
#[ignore = "fixture"]
fn fixture_runs_a_test_as_nextest_does() {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "fixture_leaks_one",
            "--test-threads=1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// cargo-nextest runs each test in a process of its own and shows none of
/// a passing test's output: a leak `TASKLEAK=warn` let pass goes to the
/// runner's own stderr, the console.
#[test]
#[cfg(target_os = "linux")]
fn under_nextest_a_warned_leak_reaches_the_console() {
    let dir = scratch("warn-nextest");
    let (out, _) = run_in(
        "fixture_runs_a_test_as_nextest_does",
        &dir,
        &[("TASKLEAK", "warn"), ("NEXTEST_RUN_ID", "run-1")],
    );
    // The stand-in's own stderr: libtest captures what a test prints
    // through `eprintln!`, not what reaches the file descriptor.
    let console = String::from_utf8_lossy(&out.stderr);
    assert!(
        console.contains("test `fixture_leaks_one` leaked 1 task")
            && console.contains("(TASKLEAK=warn: not failing the test)"),
        "nothing on the runner's console:\n{console}"
    );
}
