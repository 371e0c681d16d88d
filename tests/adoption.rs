//! Adopting taskleak on a real suite: a crate that forbids unsafe code,
//! configured by `.config/taskleak.toml`, its suite summary, and the
//! baseline cycle (record → pass → a new leak fails → a fixed entry is
//! listed) under `cargo test` and `cargo nextest run`.
//!
//! The crate is tests/fixtures/adopter, copied to a temporary directory
//! (the baseline is written beside its config file) and built by a child
//! `cargo` with its own target directory. Every child has a time bound, so
//! a hang fails the test instead of stalling CI.

#[path = "common/child.rs"]
mod child;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/adopter");
const SUITE: &str = include_str!("fixtures/adopter/tests/leaks.rs");

/// The first build compiles tokio and taskleak's dependencies.
const BUILD_BOUND: Duration = Duration::from_secs(25 * 60);
const RUN_BOUND: Duration = Duration::from_secs(5 * 60);

/// `tests/leaks.rs:N` of the line of the fixture ending in `// marker`.
fn site(marker: &str) -> String {
    let n = SUITE
        .lines()
        .position(|l| l.trim_end().ends_with(&format!("// {marker}")))
        .unwrap_or_else(|| panic!("no `// {marker}` in the fixture"));
    format!("tests/leaks.rs:{}", n + 1)
}

/// A fresh copy of the fixture crate in a directory of its own.
fn copy(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("adopter-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["src", "tests", ".config"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for f in std::fs::read_dir(Path::new(FIXTURE).join(sub)).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.join(sub).join(f.file_name())).unwrap();
        }
    }
    let manifest = std::fs::read_to_string(Path::new(FIXTURE).join("Cargo.toml.in"))
        .unwrap()
        .replace("TASKLEAK_PATH", env!("CARGO_MANIFEST_DIR"))
        .replace("NAME", name);
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The versions this repository builds with, not whatever is newest.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .unwrap();
    dir
}

/// `cargo <args>` in `dir`, with `env`, as a user would run it: none of
/// this process's cargo, nextest or taskleak variables.
fn cargo(dir: &Path, args: &[&str], env: &[(&str, &str)], bound: Duration) -> (i32, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/adopter");
    let (code, out, err) = child::run_as_user(&cargo, dir, args, env, &target, bound);
    (code, format!("{out}{err}"))
}

fn cargo_test(dir: &Path, filter: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut args = vec!["test", "--quiet", "--test", "leaks", "--"];
    args.extend(filter);
    cargo(dir, &args, env, RUN_BOUND)
}

fn build(dir: &Path) {
    let (code, text) = cargo(dir, &["test", "--no-run"], &[], BUILD_BOUND);
    assert_eq!(code, 0, "the fixture crate does not build:\n{text}");
}

#[test]
fn config_file_configures_a_crate_that_forbids_unsafe_code() {
    let dir = copy("config");
    build(&dir);

    let (code, text) = cargo_test(&dir, &[], &[]);
    assert_eq!(code, 101, "{text}");
    // The file's grace and ignore rule.
    assert!(
        text.contains("test `get` leaked 2 tasks (still running 50ms after the test body)"),
        "{text}"
    );
    assert!(
        !text.contains("reports_metrics"),
        "ignored by the file:\n{text}"
    );
    // The summary, after libtest's result: one helper, three tests.
    let result = text.find("test result: FAILED").expect(&text);
    let summary = text.find("taskleak summary:").expect(&text);
    assert!(summary > result, "{text}");
    let expected = format!(
        "taskleak summary: 4 tests leaked tasks, from 2 spawn sites (most tests first: \
         fixing the first line fixes the most tests)\n\
         \x20   3 tests  {}\n\
         \x20            delete, get, set\n\
         \x20    1 test  {}\n\
         \x20            fixed_later\n\
         \x20 7 tests ran under a leak check",
        site("SERVER"),
        site("FIXED_LATER")
    );
    assert!(
        text[summary..].starts_with(&expected),
        "{}",
        &text[summary..]
    );

    // Under GitHub Actions the summary is also Markdown in the step summary.
    let step_summary = dir.join("step-summary.md");
    let (_, text) = cargo_test(
        &dir,
        &[],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", step_summary.to_str().unwrap()),
        ],
    );
    let md = std::fs::read_to_string(&step_summary).expect(&text);
    assert!(
        md.starts_with("### taskleak: 4 tests leaked tasks (test binary `leaks`)\n"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| `{}` | 3 | `delete`, `get`, `set` |\n",
            site("SERVER")
        )),
        "{md}"
    );
    assert!(md.contains("7 tests ran under a leak check."), "{md}");

    // TASKLEAK_* wins over the file.
    let (_, text) = cargo_test(&dir, &["--exact", "get"], &[("TASKLEAK_GRACE", "20ms")]);
    assert!(
        text.contains("(still running 20ms after the test body)"),
        "{text}"
    );

    // A bad value: the file, the line and the accepted values.
    std::fs::write(
        dir.join(".config/taskleak.toml"),
        "grace = \"50ms\"\nmode = \"loud\"\n",
    )
    .unwrap();
    let (code, text) = cargo_test(&dir, &["--exact", "clean"], &[]);
    assert_eq!(code, 101, "{text}");
    let file = dir.join(".config/taskleak.toml");
    assert!(
        text.contains(&format!(
            "taskleak: {}:2: mode = \"loud\" is not valid; use one of: fail, warn, off",
            file.display()
        )),
        "{text}"
    );
}

/// The four steps, each checked on the summary that `summary` returns.
/// `binary` is how the summary names the fixture's binary before a test
/// name: the run-wide summary of nextest's processes does (`leaks get`).
fn baseline_cycle(
    runner: &str,
    binary: &str,
    run: impl Fn(&[(&str, &str)]) -> (i32, String),
    failed: i32,
) {
    let server = site("SERVER");
    let fixed_later = site("FIXED_LATER");

    // 1. Record: everything passes, the leaks go to the baseline.
    let (code, text) = run(&[("TASKLEAK", "record")]);
    assert_eq!(code, 0, "{runner}: record\n{text}");

    // 2. The recorded leaks are known: the run passes.
    let (code, text) = run(&[]);
    assert_eq!(code, 0, "{runner}: after recording\n{text}");
    assert!(
        text.contains("taskleak summary: no leaks beyond the baseline"),
        "{runner}\n{text}"
    );
    assert!(
        text.contains(&format!(
            "  known: 4 tests leaked as the baseline (.config/taskleak-baseline.toml) lists, and passed:\n\
             \x20   3 tests  {server}\n"
        )),
        "{runner}\n{text}"
    );

    // 3. A leak the baseline does not list fails.
    let (code, text) = run(&[("ADOPTER_NEW_LEAK", "1")]);
    assert_eq!(code, failed, "{runner}: new leak\n{text}");
    assert!(
        text.contains(&format!(
            "taskleak summary: 1 test leaked tasks, from 1 spawn site\n\
             \x20    1 test  {}\n\
             \x20            {binary}new_leak\n",
            site("NEW_LEAK")
        )),
        "{runner}\n{text}"
    );

    // 4. A listed leak that is gone is listed as fixed.
    let (code, text) = run(&[("ADOPTER_FIXED", "1")]);
    assert_eq!(code, 0, "{runner}: fixed\n{text}");
    assert!(
        text.contains(&format!(
            "  fixed: 1 entry in the baseline no longer leaked; delete it from \
             .config/taskleak-baseline.toml (or re-record with TASKLEAK=record):\n\
             \x20   {binary}fixed_later  {fixed_later}\n"
        )),
        "{runner}\n{text}"
    );
}

fn assert_recorded(dir: &Path) {
    let baseline = std::fs::read_to_string(dir.join(".config/taskleak-baseline.toml")).unwrap();
    let server = site("SERVER");
    // The copy's directory is named as its package.
    let package = dir.file_name().unwrap().to_str().unwrap();
    let table = format!("\n[leaks.{package}.leaks]\n");
    assert!(baseline.contains(&table), "{baseline}");
    for line in [
        format!("\"delete\" = {{ \"{server}\" = "),
        format!("\"fixed_later\" = {{ \"{}\" = ", site("FIXED_LATER")),
        format!("\"get\" = {{ \"{server}\" = "),
        format!("\"set\" = {{ \"{server}\" = "),
    ] {
        assert!(baseline.contains(&line), "{line}\n{baseline}");
    }
}

#[test]
fn baseline_cycle_under_cargo_test() {
    let dir = copy("cargo-test");
    build(&dir);
    let run = |env: &[(&str, &str)]| {
        let out = cargo_test(&dir, &[], env);
        if env.contains(&("TASKLEAK", "record")) {
            assert_recorded(&dir);
        }
        out
    };
    baseline_cycle("cargo test", "", run, 101);

    // Lines added above the spawn calls move them: the leaks are still the
    // ones the baseline lists, not new ones and fixed ones, and the
    // summary names each move (a move cannot be told from a fix plus a new
    // leak in the same file, so it is never matched silently).
    let file = dir.join("tests/leaks.rs");
    let source = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("// a new first line\n{source}")).unwrap();
    let (code, text) = cargo_test(&dir, &[], &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("taskleak summary: no leaks beyond the baseline\n  known: 4 tests"),
        "{text}"
    );
    assert!(!text.contains("fixed:"), "{text}");
    let moved = |marker: &str| {
        let old = site(marker);
        let line: usize = old.rsplit_once(':').unwrap().1.parse().unwrap();
        (old.clone(), format!("{old} → :{}", line + 1))
    };
    for (marker, tests) in [
        ("SERVER", "delete, get, set"),
        ("FIXED_LATER", "fixed_later"),
    ] {
        let line = format!(
            "  known leak moved: {} ({tests}); re-record with TASKLEAK=record to update \
             .config/taskleak-baseline.toml\n",
            moved(marker).1
        );
        assert!(text.contains(&line), "{line}\n{text}");
    }

    // Recording rewrites the moved entries; then nothing has moved.
    let (code, text) = cargo_test(&dir, &[], &[("TASKLEAK", "record")]);
    assert_eq!(code, 0, "{text}");
    let baseline = std::fs::read_to_string(dir.join(".config/taskleak-baseline.toml")).unwrap();
    let (old, _) = moved("SERVER");
    let line: usize = old.rsplit_once(':').unwrap().1.parse().unwrap();
    let now = format!("tests/leaks.rs:{}", line + 1);
    assert!(
        baseline.contains(&now) && !baseline.contains(&format!("\"{old}\"")),
        "{baseline}"
    );
    let (code, text) = cargo_test(&dir, &[], &[]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("moved"), "{text}");
}

#[test]
fn baseline_cycle_under_nextest() {
    let dir = copy("nextest");
    let (code, _) = cargo(&dir, &["nextest", "--version"], &[], RUN_BOUND);
    if code != 0 {
        eprintln!("cargo-nextest is not installed: skipped (.ci/run installs it)");
        return;
    }
    build(&dir);
    let reports = dir.join("reports");
    let reports_env = reports.to_str().unwrap().to_owned();
    let run = |env: &[(&str, &str)]| {
        let mut env = env.to_vec();
        env.push(("TASKLEAK_REPORT_DIR", &reports_env));
        let (code, text) = cargo(
            &dir,
            &["nextest", "run", "--test", "leaks", "--no-fail-fast"],
            &env,
            RUN_BOUND,
        );
        if env.contains(&("TASKLEAK", "record")) {
            assert_recorded(&dir);
            return (code, text);
        }
        // A process per test: the run's summary is in the report directory.
        let summary = std::fs::read_to_string(reports.join("taskleak-summary.txt"))
            .unwrap_or_else(|e| panic!("no summary ({e}):\n{text}"));
        (code, format!("{summary}\n--- nextest output:\n{text}"))
    };
    baseline_cycle("cargo nextest run", "leaks ", run, 100);
}

/// `TASKLEAK=record` on `get` alone, under a time bound: (exit code,
/// output, how long it took).
fn record_get(dir: &Path) -> (i32, String, Duration) {
    let start = Instant::now();
    let (code, text) = cargo_test(dir, &["--exact", "get"], &[("TASKLEAK", "record")]);
    (code, text, start.elapsed())
}

/// A record that could not write the baseline fails the run and names
/// the file, which it leaves as it was; a `.lock` file left beside it (by
/// a killed process, or an older taskleak) does not hold it up.
#[test]
fn a_record_that_writes_nothing_fails_the_run_naming_the_file() {
    let dir = copy("record-fails");
    build(&dir);
    let file = dir.join(".config/taskleak-baseline.toml");
    let shown = file.display().to_string();

    for (what, bad) in [
        ("not TOML", "[leaks.leaks\n"),
        ("an unknown table", "[other]\n\"get\" = []\n"),
    ] {
        std::fs::write(&file, bad).unwrap();
        let (code, text, _) = record_get(&dir);
        assert_eq!(code, 101, "{what}:\n{text}");
        assert!(
            text.contains("taskleak: TASKLEAK=record failed, the baseline was not written: ")
                && text.contains(&shown),
            "{what}:\n{text}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), bad, "{what}");
    }

    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let (code, text, _) = record_get(&dir);
    assert_eq!(code, 101, "a directory:\n{text}");
    assert!(text.contains(&format!("cannot read {shown}")), "{text}");
    std::fs::remove_dir(&file).unwrap();

    // A fresh lock file of the kind taskleak once used: not a lock.
    std::fs::write(dir.join(".config/taskleak-baseline.toml.lock"), "").unwrap();
    let (code, text, took) = record_get(&dir);
    assert_eq!(code, 0, "{text}");
    assert!(took < Duration::from_secs(15), "waited {took:?}:\n{text}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains(&format!("\"get\" = {{ \"{}\" = ", site("SERVER"))),
        "{written}"
    );
}

/// A baseline that is a symbolic link (to a file kept elsewhere) is
/// written through the link, which stays a link.
#[cfg(unix)]
#[test]
fn a_symlinked_baseline_is_written_through_the_link() {
    let dir = copy("record-link");
    build(&dir);
    std::fs::create_dir_all(dir.join("shared")).unwrap();
    let target = dir.join("shared/baseline.toml");
    std::fs::write(&target, "[leaks.other]\n\"t\" = [\"src/x.rs:1\"]\n").unwrap();
    let link = dir.join(".config/taskleak-baseline.toml");
    std::os::unix::fs::symlink("../shared/baseline.toml", &link).unwrap();

    let (code, text, _) = record_get(&dir);
    assert_eq!(code, 0, "{text}");
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "replaced by a file:\n{text}");
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(
        written.contains(&format!("\"get\" = {{ \"{}\" = ", site("SERVER")))
            && written.contains("\"t\" = [\"src/x.rs:1\"]"),
        "{written}"
    );
}

/// Writes `files` (path, text) under a fresh directory `name`.
fn project(name: &str, files: &[(&str, String)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .unwrap();
    dir
}

/// A member of a workspace whose `tests/integration.rs` has a test
/// `basic` that leaks from line 3.
fn member(name: &str) -> [(String, String); 3] {
    [
        (
            format!("{name}/Cargo.toml"),
            format!(
                "[package]\nname = \"ws-{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
                 publish = false\n\n[dev-dependencies]\n\
                 taskleak = {{ path = {:?} }}\n\
                 tokio = {{ version = \"1\", features = [\"rt\", \"macros\"] }}\n",
                env!("CARGO_MANIFEST_DIR")
            ),
        ),
        (format!("{name}/src/lib.rs"), String::new()),
        (
            format!("{name}/tests/integration.rs"),
            "#[taskleak::leak_check]\nasync fn basic() {\n    \
             tokio::spawn(std::future::pending::<()>());\n}\n"
                .into(),
        ),
    ]
}

/// Two members with a test binary of the same name and a test of the
/// same name: each has its own table, keyed by package and binary, and
/// a table of the older format (binary alone) still applies.
#[test]
fn baseline_tables_of_two_workspace_members_do_not_collide() {
    let mut files: Vec<(String, String)> = vec![
        (
            "Cargo.toml".into(),
            "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n".into(),
        ),
        (".config/taskleak.toml".into(), "grace = \"50ms\"\n".into()),
    ];
    files.extend(member("a"));
    files.extend(member("b"));
    let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    let dir = project("workspace-members", &files);
    let (code, text) = cargo(&dir, &["test", "--workspace", "--no-run"], &[], BUILD_BOUND);
    assert_eq!(code, 0, "the workspace does not build:\n{text}");
    let test = |env: &[(&str, &str)]| {
        cargo(
            &dir,
            &["test", "--workspace", "--quiet", "--test", "integration"],
            env,
            RUN_BOUND,
        )
    };

    let (code, text) = test(&[("TASKLEAK", "record")]);
    assert_eq!(code, 0, "{text}");
    let file = dir.join(".config/taskleak-baseline.toml");
    let written = std::fs::read_to_string(&file).unwrap();
    for m in ["a", "b"] {
        let table = format!(
            "\n[leaks.ws-{m}.integration]\n\"basic\" = {{ \"{m}/tests/integration.rs:3\" = 1 }}\n"
        );
        assert!(written.contains(&table), "{table}\n{written}");
    }
    let (code, text) = test(&[]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("fixed:"), "{text}");
    assert_eq!(text.matches("known: 1 test leaked").count(), 2, "{text}");

    // The older format, one table per binary name.
    std::fs::write(
        &file,
        "[leaks.integration]\n\"basic\" = [\"a/tests/integration.rs:3\", \
         \"b/tests/integration.rs:3\"]\n",
    )
    .unwrap();
    let (code, text) = test(&[]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("fixed:"), "{text}");
}

/// Built without `--cfg tokio_unstable` (CI's `RUSTFLAGS` replaces
/// `.cargo/config.toml`'s rustflags), checks count tasks but cannot see
/// spawn sites: the run neither judges the baseline and the rules (no
/// entry fixed, no rule stale) nor writes the baseline (`TASKLEAK=record`
/// fails), and says so once, naming `RUSTFLAGS`.
#[test]
fn a_build_without_spawn_sites_never_judges_or_writes_the_baseline() {
    let dir = copy("blind");
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        "[build]\nrustflags = [\"--cfg\", \"tokio_unstable\"]\n",
    )
    .unwrap();
    let blind = [("RUSTFLAGS", "")];
    let (code, text) = cargo(&dir, &["test", "--no-run"], &blind, BUILD_BOUND);
    assert_eq!(code, 0, "the fixture crate does not build:\n{text}");
    let file = dir.join(".config/taskleak-baseline.toml");
    let baseline = format!(
        "[leaks.adopter-blind.leaks]\n\"fixed_later\" = [\"{}\"]\n\"get\" = [\"{}\"]\n",
        site("FIXED_LATER"),
        site("SERVER")
    );
    std::fs::write(&file, &baseline).unwrap();
    let notice = "taskleak: built without `--cfg tokio_unstable`, checks count tasks but cannot \
                  see their spawn sites: ";
    let names_rustflags = format!(
        "{} sets it, but this build did not get it: a RUSTFLAGS environment variable replaces \
         the file's rustflags (RUSTFLAGS=\"\" here). Add `--cfg tokio_unstable` to RUSTFLAGS.",
        dir.join(".cargo/config.toml").display()
    );

    let (code, text) = cargo_test(&dir, &[], &[("RUSTFLAGS", ""), ("ADOPTER_FIXED", "1")]);
    assert_eq!(code, 101, "the counted leaks fail:\n{text}");
    assert!(!text.contains("fixed:"), "{text}");
    assert!(
        !text.contains("matched no task"),
        "no rule is stale:\n{text}"
    );
    assert_eq!(text.matches(notice).count(), 1, "{text}");
    assert!(text.contains(&names_rustflags), "{text}");

    let (code, text) = cargo_test(&dir, &[], &[("RUSTFLAGS", ""), ("TASKLEAK", "record")]);
    assert_eq!(code, 101, "{text}");
    assert!(
        text.contains(&format!(
            "{notice}TASKLEAK=record was refused, and the baseline was not written. "
        )),
        "{text}"
    );
    assert_eq!(text.matches(notice).count(), 1, "{text}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), baseline);
}
