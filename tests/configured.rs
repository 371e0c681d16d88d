//! Configuration and the CI gate: environment variables, `configure!` and
//! its precedence, ignore rules, the stale-rule notice, the suite gate,
//! GitHub annotations and JSON reports.
//!
//! Most of it is about what a whole test process does, so the `#[ignore]`d
//! fixtures below are run in a child process (this same test binary) with
//! the environment under test, and the tests read its output and exit code.

mod common;

use std::collections::HashMap;
use std::process::Output;
use std::sync::LazyLock;
use std::time::Duration;

use common::{forever, multi_thread};
use serde_json::Value;

taskleak::configure! {
    grace: "30ms",
    ignore: ["configured::background", "configured::stale_for_the_notice"],
    suite_gate: true,
}

// ---------------------------------------------------------------- fixtures

mod background {
    pub fn spawn_it(rt: &tokio::runtime::Runtime) {
        rt.spawn(super::forever());
    }
}

/// Where `fixture_leaks_one` spawns (checked against the source below).
const LEAK_LINE: u32 = 56;
const LEAK_COL: u32 = 8;

#[test]
fn leak_line_points_at_the_fixtures_spawn() {
    let line = include_str!("configured.rs")
        .lines()
        .nth(LEAK_LINE as usize - 1)
        .unwrap();
    assert_eq!(
        line.find("spawn").map(|c| c as u32 + 1),
        Some(LEAK_COL),
        "{line}"
    );
    assert!(line.ends_with("// LEAK_LINE"), "{line}");
}

#[test]
#[ignore = "fixture"]
fn fixture_leaks_one() {
    let rt = multi_thread();
    let _guard = taskleak::verify_none();
    rt.spawn(forever()); // LEAK_LINE
}

#[test]
#[ignore = "fixture"]
fn fixture_explicit_grace() {
    let rt = multi_thread();
    let _guard = taskleak::Options::new()
        .grace(Duration::from_millis(50))
        .verify_none();
    rt.spawn(forever());
}

#[test]
#[ignore = "fixture"]
fn fixture_nested_leak() {
    let rt = multi_thread();
    let _guard = taskleak::verify_none();
    rt.spawn(async {
        tokio::spawn(forever());
        forever().await
    });
    std::thread::sleep(Duration::from_millis(10));
}

#[test]
#[ignore = "fixture"]
fn fixture_clean_with_an_unused_rule() {
    let rt = multi_thread();
    let guard = taskleak::verify_none();
    background::spawn_it(&rt); // uses configure!'s "configured::background"
    guard.check().unwrap();

    let guard = taskleak::Options::new()
        .ignore("configured::never_spawns_here")
        .verify_none();
    rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
    guard.check().unwrap();
}

/// A runtime shared by the whole binary, as many suites have.
static SHARED: LazyLock<tokio::runtime::Runtime> = LazyLock::new(multi_thread);

#[test]
#[ignore = "fixture"]
fn fixture_passes_but_leaves_a_task_on_a_static_runtime() {
    // Spawned from a plain thread: no scope, so no check claims it.
    std::thread::spawn(|| {
        SHARED.spawn(forever());
    })
    .join()
    .unwrap();
}

#[test]
#[ignore = "fixture"]
fn fixture_a_line_rule_that_moved() {
    let rt = multi_thread();
    // Line 1 of this file spawns nothing: the rule is stale, though a task
    // was spawned in its file.
    let guard = taskleak::Options::new()
        .ignore("tests/configured.rs:1")
        .verify_none();
    rt.spawn(forever());
    guard.check().unwrap_err();
}

/// Many checks, one rule each: the rule registry holds it once.
#[test]
#[ignore = "fixture"]
fn fixture_many_checks_with_one_rule() {
    for _ in 0..100_000 {
        taskleak::Options::new()
            .ignore("configured::never_here")
            .verify_none()
            .check()
            .unwrap();
    }
}

/// A thread that carries the test's scope spawns after the test's check.
#[test]
#[ignore = "fixture"]
fn fixture_a_thread_spawns_after_the_check() {
    let handle = SHARED.handle().clone();
    let guard = taskleak::verify_none();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let thread = taskleak::thread::spawn(move || {
        wait.recv().unwrap();
        handle.spawn(forever()); // LATE_SPAWN
    });
    guard.check().unwrap();
    go.send(()).unwrap();
    thread.join().unwrap();
}

/// One test in the process: a plain `spawn_blocking` closure's spawns are
/// its own, from the body and from a task, on both flavors.
#[test]
#[ignore = "fixture"]
fn fixture_spawns_inside_a_plain_spawn_blocking() {
    for rt in [common::current_thread(), multi_thread()] {
        rt.block_on(async {
            let guard = taskleak::Options::new()
                .grace(Duration::from_millis(30))
                .verify_none();
            let from_body = tokio::task::spawn_blocking(|| tokio::spawn(forever()).id());
            let from_task = tokio::spawn(async {
                tokio::task::spawn_blocking(|| tokio::spawn(forever()).id()).await
            });
            let mut ids = [from_body.await.unwrap(), from_task.await.unwrap().unwrap()];
            // Spawn order; `task::Id: Ord` needs tokio 1.48, this suite runs on 1.46.
            ids.sort_by_key(|id| id.to_string().parse::<u64>().unwrap());
            let leaks = guard.check_async().await.unwrap_err();
            let found: Vec<_> = leaks.tasks().iter().map(|t| t.id()).collect();
            assert_eq!(found, ids, "{leaks}");
        });
    }
}

/// Two tests' scopes open at once: a plain `spawn_blocking` closure's
/// spawn belongs to neither; the suite gate reports it with both names.
#[test]
#[ignore = "fixture"]
fn fixture_spawns_inside_a_plain_spawn_blocking_while_two_tests_run() {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
    let tests: Vec<_> = ["first_test", "second_test"]
        .into_iter()
        .map(|name| {
            let barrier = barrier.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    let guard = taskleak::verify_none();
                    barrier.wait(); // both scopes open
                    barrier.wait(); // the spawn happened
                    guard.check().unwrap();
                })
                .unwrap()
        })
        .collect();
    barrier.wait();
    let closure = SHARED.spawn_blocking(|| {
        tokio::spawn(forever());
    });
    SHARED.block_on(closure).unwrap();
    barrier.wait();
    for t in tests {
        t.join().unwrap();
    }
}

/// A module whose background task a rule hides, with unit tests of its own.
mod server {
    pub fn start(rt: &tokio::runtime::Runtime) {
        rt.spawn(super::forever());
    }

    mod tests {
        use super::super::{forever, multi_thread};

        #[test]
        #[ignore = "fixture"]
        fn fixture_starts_the_server() {
            let rt = multi_thread();
            let guard = taskleak::verify_none();
            super::start(&rt);
            guard.check().unwrap();
        }

        #[test]
        #[ignore = "fixture"]
        fn fixture_leaks_from_the_test_body() {
            let rt = multi_thread();
            let _guard = taskleak::verify_none();
            rt.spawn(forever()); // SERVER_TEST_LEAK
        }
    }
}

/// Test A leaves a dispatcher running (its rule ignores it); while tests
/// B and C run, the dispatcher spawns a handler that never ends. A's check
/// was over, and two tests are open: the handler is no test's, and the
/// suite gate reports it.
#[test]
#[ignore = "fixture"]
fn fixture_a_dispatcher_of_an_earlier_test_spawns_while_two_tests_run() {
    type Request = std::sync::mpsc::Sender<()>;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Request>();
    std::thread::Builder::new()
        .name("test_a".into())
        .spawn(move || {
            let rule = format!("tests/configured.rs:{}", line!() + 2);
            let guard = taskleak::Options::new().ignore(rule).verify_none();
            SHARED.spawn(async move {
                while let Some(done) = rx.recv().await {
                    tokio::spawn(forever()); // ADRIFT_HANDLER
                    let _ = done.send(());
                }
            });
            guard.check().unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
    let tests: Vec<_> = ["test_b", "test_c"]
        .into_iter()
        .map(|name| {
            let barrier = barrier.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    let guard = taskleak::verify_none();
                    barrier.wait(); // both scopes open
                    barrier.wait(); // the handler was spawned
                    guard.check().unwrap();
                })
                .unwrap()
        })
        .collect();
    barrier.wait();
    let (done, handled) = std::sync::mpsc::channel();
    tx.send(done).unwrap();
    handled.recv().unwrap();
    barrier.wait();
    for t in tests {
        t.join().unwrap();
    }
}

fn run(fixture: &str, env: &[(&str, &str)]) -> (Output, String) {
    common::run_fixture(fixture, env)
}

// ------------------------------------------- configure! and the config file

#[test]
fn configure_wins_over_the_config_file_which_sets_the_rest() {
    // A package whose .config/taskleak.toml sets a grace (configure!'s 30ms
    // wins) and a mode (configure! has none: the file's applies).
    let (out, text) = with_config_file(
        "file",
        "grace = \"2s\"\nmode = \"warn\"\n",
        "fixture_leaks_one",
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("leaked 1 task (still running 30ms after the test body)"),
        "{text}"
    );
    assert!(
        text.contains("(TASKLEAK=warn: not failing the test)"),
        "{text}"
    );
}

/// A config file in a temporary package directory, for one run.
fn with_config_file(name: &str, text: &str, fixture: &str) -> (Output, String) {
    let dir = std::env::temp_dir().join(format!("taskleak-{name}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".config")).unwrap();
    std::fs::write(dir.join(".config/taskleak.toml"), text).unwrap();
    let out = run(fixture, &[("CARGO_MANIFEST_DIR", dir.to_str().unwrap())]);
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

#[test]
fn a_rule_for_a_module_does_not_hide_the_leaks_of_its_own_tests() {
    let config = "ignore = [\"configured::server\"]\n";
    // The task the rule was written for is hidden...
    let (out, text) = with_config_file(
        "module-rule",
        config,
        "server::tests::fixture_starts_the_server",
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    // ...but not a leak of the module's own test, whose frame is
    // `configured::server::tests::…`.
    let (out, text) = with_config_file(
        "module-rule",
        config,
        "server::tests::fixture_leaks_from_the_test_body",
    );
    assert_eq!(out.status.code(), Some(101), "{text}");
    let line = include_str!("configured.rs")
        .lines()
        .position(|l| l.ends_with("// SERVER_TEST_LEAK"))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!("spawned at tests/configured.rs:{line}:")),
        "{text}"
    );
}

#[test]
fn two_hundred_thousand_rules_are_read_and_judged() {
    // Rules that match nothing, of both kinds: every one is compared with
    // the leak's spawn site and each of its frames.
    let mut config = String::from("ignore = [\n");
    for i in 0..100_000 {
        config.push_str(&format!(
            "  \"elsewhere::m{i}\",\n  \"src/elsewhere_{i}.rs:{}\",\n",
            i + 1
        ));
    }
    config.push_str("]\n");
    let (out, text) = with_config_file("many-rules", &config, "fixture_leaks_one");
    assert_eq!(
        out.status.code(),
        Some(101),
        "{}",
        &text[..text.len().min(4000)]
    );
    assert!(
        text.contains(&format!(
            "spawned at tests/configured.rs:{LEAK_LINE}:{LEAK_COL}"
        )),
        "{}",
        &text[..text.len().min(4000)]
    );
}

// ------------------------------------------------------ environment: mode

#[test]
fn leaks_fail_the_test_by_default() {
    let (out, text) = run("fixture_leaks_one", &[]);
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains("taskleak: test `fixture_leaks_one` leaked 1 task"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "spawned at tests/configured.rs:{LEAK_LINE}:{LEAK_COL}"
        )),
        "{text}"
    );
}

#[test]
fn taskleak_warn_prints_the_report_and_passes() {
    let (out, text) = run("fixture_leaks_one", &[("TASKLEAK", "warn")]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("taskleak: test `fixture_leaks_one` leaked 1 task"),
        "{text}"
    );
    assert!(
        text.contains("(TASKLEAK=warn: not failing the test)"),
        "{text}"
    );
}

#[test]
fn taskleak_off_does_not_check() {
    let (out, text) = run("fixture_leaks_one", &[("TASKLEAK", "off")]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("leaked"), "{text}");
}

#[test]
fn bad_values_name_the_variable_and_the_choices() {
    for (var, value, message) in [
        (
            "TASKLEAK",
            "maybe",
            "taskleak: TASKLEAK=\"maybe\" is not valid; use one of: fail, warn, off",
        ),
        (
            "TASKLEAK_GRACE",
            "soon",
            "taskleak: TASKLEAK_GRACE: \"soon\" is not a duration",
        ),
        (
            "TASKLEAK_BACKTRACE",
            "long",
            "taskleak: TASKLEAK_BACKTRACE=\"long\" is not valid; use one of: full (or 1), short (or 0), off",
        ),
    ] {
        let (out, text) = run("fixture_leaks_one", &[(var, value)]);
        assert_eq!(out.status.code(), Some(101), "{text}");
        assert!(text.contains(message), "{var}: {text}");
    }
}

// ------------------------------------------------------ grace precedence

#[test]
fn grace_options_beat_the_environment_which_beats_configure() {
    let (_, text) = run("fixture_leaks_one", &[]);
    assert!(
        text.contains("(still running 30ms after the test body)"),
        "configure!: {text}"
    );
    let (_, text) = run("fixture_leaks_one", &[("TASKLEAK_GRACE", "40ms")]);
    assert!(
        text.contains("(still running 40ms after the test body)"),
        "env: {text}"
    );
    let (_, text) = run("fixture_explicit_grace", &[("TASKLEAK_GRACE", "40ms")]);
    assert!(
        text.contains("(still running 50ms after the test body)"),
        "Options: {text}"
    );
}

// ------------------------------------------------------ backtrace levels

#[test]
fn taskleak_backtrace_short_keeps_sites_and_chains_only() {
    let (_, full) = run("fixture_nested_leak", &[]);
    assert!(full.contains("backtrace (your frames"), "{full}");
    assert!(full.contains("spawn chain:"), "{full}");

    let (_, short) = run("fixture_nested_leak", &[("TASKLEAK_BACKTRACE", "short")]);
    assert!(!short.contains("backtrace (your frames"), "{short}");
    assert!(short.contains("spawn chain:"), "{short}");
    assert!(short.contains("spawned at tests/configured.rs:"), "{short}");

    let (_, off) = run("fixture_nested_leak", &[("TASKLEAK_BACKTRACE", "off")]);
    assert!(!off.contains("backtrace (your frames"), "{off}");
    assert!(!off.contains("spawn chain:"), "{off}");
    assert!(off.contains("spawned at tests/configured.rs:"), "{off}");
}

// ------------------------------------------------------------ ignore rules

#[test]
fn a_configure_rule_applies_to_every_check() {
    let rt = multi_thread();
    let guard = taskleak::Options::new()
        .grace(Duration::from_secs(10))
        .verify_none();
    background::spawn_it(&rt); // matches "configured::background"
    let start = std::time::Instant::now();
    guard.check().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "waited for an ignored task"
    );
}

#[test]
fn file_and_location_rules() {
    let rt = multi_thread();
    let guard = taskleak::Options::new()
        .ignore("configured.rs")
        .verify_none();
    rt.spawn(forever());
    guard.check().unwrap();

    let guard = taskleak::Options::new()
        .grace(Duration::from_millis(20))
        .ignore(format!("tests/configured.rs:{}", line!() + 2))
        .verify_none();
    rt.spawn(forever());
    let line = line!() + 1;
    rt.spawn(forever());
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1);
    assert_eq!(leaks.tasks()[0].spawned_at().line(), line);
}

#[test]
fn a_rule_that_matched_nothing_is_pointed_out_at_exit() {
    let (out, text) = run("fixture_clean_with_an_unused_rule", &[]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let summary = text.find("test result: ok. 1 passed").expect(&text);
    let notice = text
        .find("taskleak: ignore rule \"configured::never_spawns_here\" (tests/configured.rs:")
        .expect(&text);
    assert!(
        summary < notice,
        "the notice comes once, at the end: {text}"
    );
    // A run that chose its test by name (as this one, `--exact`) cannot
    // judge configure!'s rules, which serve every test of the binary.
    assert!(!text.contains("stale_for_the_notice"), "{text}");
    // A rule that did match is not mentioned.
    assert!(!text.contains("\"configured::background\" ("), "{text}");

    // Nor can one process per test (nextest).
    let (_, text) = run(
        "fixture_clean_with_an_unused_rule",
        &[("NEXTEST_RUN_ID", "x")],
    );
    assert!(
        text.contains("\"configured::never_spawns_here\" ("),
        "{text}"
    );
    assert!(!text.contains("stale_for_the_notice"), "{text}");

    // A config file's rule serves every test binary of the workspace: one
    // binary never tells the user to delete it.
    let (out, text) = with_config_file(
        "stale-file-rule",
        "ignore = [\"configured::file_rule_never_used\"]\n",
        "fixture_clean_with_an_unused_rule",
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("\"configured::never_spawns_here\" ("),
        "{text}"
    );
    assert!(!text.contains("file_rule_never_used"), "{text}");
}

// -------------------------------------------------------------- suite gate

#[taskleak::leak_check]
#[ignore = "fixture"]
async fn fixture_exits_after_a_leak() {
    tokio::spawn(forever());
    std::process::exit(0);
}

#[test]
fn the_suite_gate_fails_a_passing_binary_that_left_tasks_running() {
    let (out, text) = run("fixture_passes_but_leaves_a_task_on_a_static_runtime", &[]);
    assert!(text.contains("test result: ok. 1 passed"), "{text}");
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains(
            "taskleak: 1 task still running when the test binary ended, claimed by no check"
        ),
        "{text}"
    );
    assert!(text.contains("spawned at tests/configured.rs:"), "{text}");

    // Tasks that a check claimed (and reported) are not counted again.
    let (out, text) = run("fixture_leaks_one", &[("TASKLEAK", "warn")]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("claimed by no check"), "{text}");
}

/// A test body that calls `std::process::exit` after a leak ends the
/// process before its check: the gate says so, names the test, and shows
/// the task as old as the gate's wait at least.
#[test]
fn the_suite_gate_says_a_test_exited_the_process_before_its_check() {
    let (out, text) = run("fixture_exits_after_a_leak", &[]);
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains(
            "from the test body of `fixture_exits_after_a_leak` (outside any task), whose check \
             never ran: the process exited while that test was running"
        ),
        "{text}"
    );
    assert!(
        !text.contains("outside any task and any checked scope"),
        "{text}"
    );
    let ms = |after: &str| -> u64 {
        let at = text
            .find(after)
            .unwrap_or_else(|| panic!("no `{after}`:\n{text}"));
        let value: String = text[at + after.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        match value.strip_suffix("ms") {
            Some(ms) => ms.parse().unwrap(),
            None => (value.trim_end_matches('s').parse::<f64>().unwrap() * 1000.0) as u64,
        }
    };
    let (waited, alive) = (ms("waited "), ms("alive "));
    assert!(waited >= 30 && alive >= waited, "{text}");
}

// ------------------------------------------------------------- CI output

/// A library's code, included through a path outside the workspace root
/// that names a file in it (Linux): its spawn site reads as a dependency's.
#[cfg(target_os = "linux")]
mod dependency {
    include!(concat!(
        "/proc/self/root",
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dependency/src/lib.rs"
    ));
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "fixture"]
fn fixture_leaks_through_a_dependency() {
    let rt = multi_thread();
    let _guard = taskleak::verify_none();
    rt.block_on(async { dependency::start_worker() }); // DEPENDENCY_CALL
}

/// A task a dependency spawns is filed in the summary under the user's
/// line that called it; its annotation points at that line too, never at
/// the dependency's file outside the repository.
#[cfg(target_os = "linux")]
#[test]
fn a_leak_spawned_in_a_dependency_is_annotated_at_the_users_line() {
    let line = include_str!("configured.rs")
        .lines()
        .position(|l| l.ends_with("// DEPENDENCY_CALL"))
        .unwrap()
        + 1;
    let (_, text) = run(
        "fixture_leaks_through_a_dependency",
        &[("GITHUB_ACTIONS", "true")],
    );
    let annotations: Vec<&str> = text.lines().filter(|l| l.starts_with("::error ")).collect();
    let expected = format!(
        "::error file=tests/configured.rs,line={line},title=taskleak%3A 1 task leaked::1 task \
         spawned from here (at /proc/self/root"
    );
    assert!(
        annotations.len() == 1 && annotations[0].starts_with(&expected),
        "expected `{expected}…`:\n{text}"
    );
    assert!(
        annotations[0].contains("/tests/fixtures/dependency/src/lib.rs:"),
        "{text}"
    );
    // The summary names the same line.
    assert!(
        text.contains(&format!("1 test  tests/configured.rs:{line}\n")),
        "{text}"
    );
}

#[test]
fn github_actions_gets_one_error_annotation_per_spawn_site() {
    let (_, text) = run("fixture_leaks_one", &[("GITHUB_ACTIONS", "true")]);
    let annotations: Vec<&str> = text.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(
        annotations,
        [format!(
            "::error file=tests/configured.rs,line={LEAK_LINE},col={LEAK_COL},title=taskleak%3A 1 task leaked::\
             1 task spawned here still running 30ms after the test body of fixture_leaks_one"
        )],
        "{text}"
    );
    let (_, text) = run("fixture_leaks_one", &[]);
    assert!(!text.contains("::error"), "{text}");

    // TASKLEAK=warn does not fail the test: a warning, not an error.
    let (_, text) = run(
        "fixture_leaks_one",
        &[("GITHUB_ACTIONS", "true"), ("TASKLEAK", "warn")],
    );
    assert!(!text.contains("::error"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with(&format!(
            "::warning file=tests/configured.rs,line={LEAK_LINE},col={LEAK_COL},title=taskleak%3A 1 task leaked::"
        ))),
        "{text}"
    );
}

#[test]
fn a_json_report_per_failing_check_matches_the_documented_schema() {
    let dir = std::env::temp_dir().join(format!("taskleak-json-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (_, text) = run(
        "fixture_nested_leak",
        &[("TASKLEAK_REPORT_DIR", dir.to_str().unwrap())],
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect(&text)
        .map(|e| e.unwrap().path())
        // The suite summary (taskleak-summary.*) and the report's text
        // (`.txt`) are there too.
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            !name.starts_with("taskleak-summary") && name.ends_with(".json")
        })
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("fixture_nested_leak-"), "{name}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let schema: Value = serde_json::from_str(include_str!("../docs/report.schema.json")).unwrap();
    validate(&schema, &schema, &report, "$");

    assert_eq!(report["test"], "fixture_nested_leak");
    assert_eq!(report["kind"], "check");
    assert_eq!(report["leaked"], 2);
    let tasks = report["tasks"].as_array().unwrap();
    assert_eq!(tasks[1]["parent"], tasks[0]["id"]);
    assert_eq!(tasks[1]["chain"][0]["task"], tasks[0]["id"]);
    assert_eq!(tasks[0]["spawn_site"]["file"], "tests/configured.rs");
    assert_eq!(tasks[0]["activity"]["verdict"], "idle");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Checks `value` against the subset of JSON Schema that the documented
/// schema uses: type, enum, minimum, required, properties,
/// additionalProperties: false, items, and local `$ref`s.
fn validate(root: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local ref");
        return validate(root, &root["$defs"][name], value, at);
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
            _ => panic!("bad schema type at {at}"),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        assert!(
            types.contains(&actual),
            "{at}: {actual} is not one of {types:?}"
        );
        if actual == "null" {
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        assert!(allowed.contains(value), "{at}: {value} not in {allowed:?}");
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_i64) {
        assert!(value.as_i64().unwrap() >= min, "{at}: {value} < {min}");
    }
    if let Value::Object(map) = value {
        let props: HashMap<&str, &Value> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.iter().map(|(k, v)| (k.as_str(), v)).collect())
            .unwrap_or_default();
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(
                map.contains_key(req.as_str().unwrap()),
                "{at}: missing {req}"
            );
        }
        for (k, v) in map {
            match props.get(k.as_str()) {
                Some(s) => validate(root, s, v, &format!("{at}.{k}")),
                None => assert!(
                    schema.get("additionalProperties") != Some(&Value::Bool(false)),
                    "{at}: unexpected field {k}"
                ),
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            validate(root, s, v, &format!("{at}[{i}]"));
        }
    }
}

// ------------------------------------------------ verdicts at the edges

#[test]
fn a_line_rule_that_moved_is_pointed_out_with_the_reason() {
    let (out, text) = run("fixture_a_line_rule_that_moved", &[]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("ignore rule \"tests/configured.rs:1\" (tests/configured.rs:"),
        "{text}"
    );
    assert!(
        text.contains("a task was spawned elsewhere in that file"),
        "{text}"
    );
}

#[test]
fn a_task_spawned_after_its_tests_check_is_claimed_by_no_check() {
    let (out, text) = run("fixture_a_thread_spawns_after_the_check", &[]);
    assert!(text.contains("test result: ok. 1 passed"), "{text}");
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains("taskleak: 1 task still running when the test binary ended"),
        "{text}"
    );
    let late = include_str!("configured.rs")
        .lines()
        .position(|l| l.ends_with("// LATE_SPAWN"))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!("spawned at tests/configured.rs:{late}:")),
        "{text}"
    );
}

#[test]
fn a_plain_spawn_blocking_spawns_for_the_one_test_running() {
    let (out, text) = run("fixture_spawns_inside_a_plain_spawn_blocking", &[]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 passed"), "{text}");
    assert!(!text.contains("claimed by no check"), "{text}");
}

#[test]
fn with_several_tests_running_the_gate_names_them() {
    let (out, text) = run(
        "fixture_spawns_inside_a_plain_spawn_blocking_while_two_tests_run",
        &[],
    );
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains("taskleak: 1 task still running when the test binary ended"),
        "{text}"
    );
    let named = text.contains("spawned while these tests ran: first_test, second_test")
        || text.contains("spawned while these tests ran: second_test, first_test");
    assert!(named, "{text}");
}

#[test]
fn a_task_spawned_for_no_open_test_by_an_earlier_tests_task_reaches_the_gate() {
    let (out, text) = run(
        "fixture_a_dispatcher_of_an_earlier_test_spawns_while_two_tests_run",
        &[],
    );
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains("taskleak: 1 task still running when the test binary ended"),
        "{text}"
    );
    let handler = include_str!("configured.rs")
        .lines()
        .position(|l| l.ends_with("// ADRIFT_HANDLER"))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!("spawned at tests/configured.rs:{handler}:")),
        "{text}"
    );
    assert!(
        text.contains("← from a test whose check had run before this task was spawned (test_a)"),
        "{text}"
    );
}

#[test]
fn a_grace_too_long_to_add_to_now_passes_a_clean_check_at_once() {
    let (out, text) = run(
        "fixture_clean_with_an_unused_rule",
        &[("TASKLEAK_GRACE", "10000000000000000000s")],
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("overflow"), "{text}");
}

#[test]
fn configure_path_rules_are_judged_whatever_the_backtrace_level() {
    for level in ["short", "off"] {
        let (out, text) = run(
            "fixture_clean_with_an_unused_rule",
            &[("TASKLEAK_BACKTRACE", level)],
        );
        assert_eq!(out.status.code(), Some(0), "{level}: {text}");
        // It matched (so it is not stale), and nothing leaked.
        assert!(
            !text.contains("\"configured::background\" ("),
            "{level}: {text}"
        );
        assert!(!text.contains("leaked"), "{level}: {text}");
    }
}

#[test]
fn exit_work_grows_with_distinct_rules_not_with_checks() {
    // Before the registry kept one entry per rule, 10^5 checks took over a
    // minute to exit; the child is killed after a bound.
    let (out, text) = run("fixture_many_checks_with_one_rule", &[]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let notices = text
        .matches("ignore rule \"configured::never_here\"")
        .count();
    assert_eq!(notices, 1, "{text}");
}
