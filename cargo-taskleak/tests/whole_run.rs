//! The whole run, four ways: a fixture workspace (several test binaries:
//! leaky, clean, one with a helper that builds its own runtime; a rule
//! used in one binary only and one used nowhere; baseline entries known,
//! fixed and grown) run by `cargo test`, `cargo nextest run`, and
//! `cargo nextest run --partition hash:k/3` for k = 1, 2, 3 into three
//! report directories. `cargo taskleak report` says the same of each;
//! one partition alone calls nothing stale or fixed that ran elsewhere;
//! `cargo taskleak baseline` from the partitions writes the file
//! `TASKLEAK=record` writes on the unsharded run.
//!
//! Every child runs under a time bound, so a hang fails the test.

#[path = "../../tests/common/child.rs"]
mod child;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The first build compiles tokio and taskleak's dependencies.
const BUILD_BOUND: Duration = Duration::from_secs(25 * 60);
const RUN_BOUND: Duration = Duration::from_secs(5 * 60);

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

const LEAKY: &str = "\
#[taskleak::leak_check]
async fn new_leak() {
    tokio::spawn(std::future::pending::<()>()); // NEW
}

#[taskleak::leak_check]
async fn known_leak() {
    tokio::spawn(std::future::pending::<()>()); // KNOWN
}

#[taskleak::leak_check]
async fn grown_leak() {
    for _ in 0..3 {
        tokio::spawn(std::future::pending::<()>()); // GROWN
    }
}

#[taskleak::leak_check]
async fn was_leaky() {}

#[tokio::test]
async fn plain() {}
";

const CLEAN: &str = "\
#[taskleak::leak_check]
async fn clean_one() {
    tokio::spawn(async {}).await.unwrap();
}

#[taskleak::leak_check]
async fn clean_two() {}

mod helpers {
    /// A helper that builds its own runtime: its tests run with no check.
    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    #[test]
    fn own_runtime_one() {
        rt().block_on(async {});
    }

    #[test]
    fn own_runtime_two() {
        rt().block_on(async {});
    }
}
";

fn site(marker: &str) -> String {
    let n = LEAKY
        .lines()
        .position(|l| l.ends_with(&format!("// {marker}")))
        .unwrap();
    format!("a/tests/leaky.rs:{}", n + 1)
}

fn baseline() -> String {
    format!(
        "[leaks.ws-a.leaky]\n\"grown_leak\" = {{ \"{}\" = 1 }}\n\
         \"known_leak\" = {{ \"{}\" = 1 }}\n\"was_leaky\" = {{ \"a/tests/leaky.rs:99\" = 1 }}\n",
        site("GROWN"),
        site("KNOWN")
    )
}

fn manifest(name: &str, deps: &str) -> String {
    format!(
        "[package]\nname = \"ws-{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[dependencies]\n{deps}\n[dev-dependencies]\n\
         taskleak = {{ path = {:?} }}\n\
         tokio = {{ version = \"1\", features = [\"rt\", \"macros\"] }}\n",
        Path::new(ROOT).canonicalize().unwrap()
    )
}

fn workspace() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("whole-run");
    let _ = std::fs::remove_dir_all(&dir);
    let files = [
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n".to_string(),
        ),
        (
            ".config/taskleak.toml",
            "grace = \"50ms\"\nignore = [\"ws_b::background\", \"nothing::here\"]\n".into(),
        ),
        (".config/taskleak-baseline.toml", baseline()),
        ("a/Cargo.toml", manifest("a", "")),
        ("a/src/lib.rs", String::new()),
        ("a/tests/leaky.rs", LEAKY.into()),
        ("a/tests/clean.rs", CLEAN.into()),
        (
            "b/Cargo.toml",
            manifest("b", "tokio = { version = \"1\", features = [\"rt\"] }\n"),
        ),
        (
            "b/src/lib.rs",
            "/// A background task the config file's rule ignores.\npub fn background() {\n    \
             tokio::spawn(std::future::pending::<()>());\n}\n"
                .into(),
        ),
        (
            "b/tests/rules.rs",
            "#[taskleak::leak_check]\nasync fn starts_background() {\n    ws_b::background();\n}\n"
                .into(),
        ),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::copy(Path::new(ROOT).join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir
}

/// `program args` in `dir`, as a user would run it, in the target
/// directory the repo's adoption tests build theirs in: the same
/// dependencies, built once.
fn run(
    program: &str,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    bound: Duration,
) -> (i32, String, String) {
    let target = Path::new(ROOT).join("target/adopter");
    child::run_as_user(program, dir, args, env, &target, bound)
}

fn cargo(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    cargo_within(dir, args, env, RUN_BOUND)
}

fn cargo_within(dir: &Path, args: &[&str], env: &[(&str, &str)], bound: Duration) -> (i32, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (code, out, err) = run(&cargo, dir, args, env, bound);
    (code, format!("{out}{err}"))
}

/// `cargo taskleak <args>` in `dir`: (exit code, stdout, stderr).
fn taskleak(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["taskleak"];
    all.extend(args);
    // `cargo metadata` inside needs cargo.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(
        env!("CARGO_BIN_EXE_cargo-taskleak"),
        dir,
        &all,
        &[("CARGO", &cargo)],
        RUN_BOUND,
    )
}

fn report(dir: &Path, dirs: &[&Path]) -> Value {
    let mut args = vec!["report", "--format", "json"];
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    args.extend(dirs.iter().map(String::as_str));
    let (code, out, err) = taskleak(dir, &args);
    assert_eq!(code, 1, "new leaks fail the report:\n{out}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}:\n{out}\n{err}"))
}

/// What a report says of the run, without how many processes said it.
fn facts(v: &Value) -> Value {
    let mut v = v.clone();
    let o = v.as_object_mut().unwrap();
    o.remove("processes");
    v
}

fn tests(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["test"].as_str().unwrap(),
                e["site"].as_str().unwrap(),
                e["tasks"]
            )
        })
        .collect()
}

#[test]
fn the_whole_run_reads_the_same_however_it_was_run() {
    let dir = workspace();
    let nextest = cargo(&dir, &["nextest", "--version"], &[]).0 == 0;
    let (code, text) = cargo_within(&dir, &["test", "--workspace", "--no-run"], &[], BUILD_BOUND);
    assert_eq!(code, 0, "the workspace does not build:\n{text}");
    let reports = dir.join("reports");
    let into = |name: &str| reports.join(name).display().to_string();

    // 1. cargo test: one process per binary.
    let (code, text) = cargo(
        &dir,
        &["test", "--workspace", "--no-fail-fast"],
        &[("TASKLEAK_REPORT_DIR", &into("test"))],
    );
    assert_eq!(code, 101, "{text}");
    // The failing test's report names the growth, and so does the summary.
    let grown = format!(
        "grown: the baseline knows 1 task of this test from {}; now 3",
        site("GROWN")
    );
    assert!(text.contains(&grown), "{text}");
    assert!(
        text.contains(&format!(
            "  grown: grown_leak leaked 3 tasks from {}",
            site("GROWN")
        )),
        "{text}"
    );
    // A rule used in one binary only is called stale by no binary.
    assert!(!text.contains("matched no task"), "{text}");
    assert!(text.contains("cargo taskleak report"), "{text}");
    let by_cargo = report(&dir, &[&reports.join("test")]);
    assert_eq!(
        tests(&by_cargo, "leaked"),
        [
            format!("ws-a::leaky grown_leak {} 3", site("GROWN")),
            format!("ws-a::leaky new_leak {} 1", site("NEW")),
        ]
    );
    assert_eq!(
        tests(&by_cargo, "grown"),
        [format!("ws-a::leaky grown_leak {} 3", site("GROWN"))]
    );
    assert_eq!(by_cargo["grown"][0]["recorded"], 1);
    assert_eq!(
        tests(&by_cargo, "known"),
        [format!("ws-a::leaky known_leak {} 1", site("KNOWN"))]
    );
    assert_eq!(
        tests(&by_cargo, "fixed"),
        ["ws-a::leaky was_leaky a/tests/leaky.rs:99 0"]
    );
    assert_eq!(by_cargo["checked_tests"], 7, "{by_cargo}");
    assert_eq!(by_cargo["unchecked_tests"], 3, "{by_cargo}");
    let stale: Vec<&str> = by_cargo["stale_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(stale, ["nothing::here"], "{by_cargo}");
    let without = by_cargo["without_check"].to_string();
    assert!(
        without.contains("\"module\":\"helpers\",\"tests\":[\"helpers::own_runtime_one\",\"helpers::own_runtime_two\"]")
            && without.contains("\"tests\":[\"plain\"]"),
        "{without}"
    );
    let (_, text, _) = taskleak(&dir, &["report", &into("test")]);
    eprintln!("{text}");

    if !nextest {
        eprintln!(
            "cargo-nextest is not installed: the nextest half is skipped (.ci/run installs it)"
        );
        return;
    }
    // 2. cargo nextest run: one process per test.
    let (code, text) = cargo(
        &dir,
        &["nextest", "run", "--workspace", "--no-fail-fast"],
        &[("TASKLEAK_REPORT_DIR", &into("nextest"))],
    );
    assert_eq!(code, 100, "{text}");
    let by_nextest = report(&dir, &[&reports.join("nextest")]);
    assert_eq!(facts(&by_nextest), facts(&by_cargo));

    // 3. Three partitions, as three CI machines would run them.
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| reports.join(format!("shard-{k}")))
        .collect();
    for (k, shard) in shards.iter().enumerate() {
        let partition = format!("hash:{}/3", k + 1);
        let (code, text) = cargo(
            &dir,
            &[
                "nextest",
                "run",
                "--workspace",
                "--no-fail-fast",
                "--partition",
                &partition,
            ],
            &[("TASKLEAK_REPORT_DIR", shard.to_str().unwrap())],
        );
        assert!(code == 0 || code == 100, "{text}");
        // One partition alone: nothing stale, nothing fixed that it did
        // not run itself.
        let (code, out, err) = taskleak(
            &dir,
            &["report", "--format", "json", shard.to_str().unwrap()],
        );
        assert!(code == 0 || code == 1, "{out}\n{err}");
        let alone: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(alone["stale_rules"], Value::Array(vec![]), "{alone}");
        assert_eq!(alone["coverage"]["whole"], false, "{alone}");
        let ran = alone["checked"].to_string();
        for fixed in tests(&alone, "fixed") {
            assert!(
                ran.contains("was_leaky"),
                "{fixed} did not run here: {alone}"
            );
        }
    }
    let shard_refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let by_shards = report(&dir, &shard_refs);
    assert_eq!(facts(&by_shards), facts(&by_cargo));

    // 4. The baseline from the partitions is the one TASKLEAK=record
    //    writes on the unsharded run.
    let file = dir.join(".config/taskleak-baseline.toml");
    let shard_args: Vec<&str> = shards.iter().map(|s| s.to_str().unwrap()).collect();
    let mut args = vec!["baseline"];
    args.extend(&shard_args);
    let (code, out, err) = taskleak(&dir, &args);
    assert_eq!(code, 0, "{out}\n{err}");
    let from_shards = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, baseline()).unwrap();
    let (code, text) = cargo(&dir, &["test", "--workspace"], &[("TASKLEAK", "record")]);
    assert_eq!(code, 0, "{text}");
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert_eq!(from_shards, recorded);
    assert!(
        recorded.contains(&format!("\"grown_leak\" = {{ \"{}\" = 3 }}", site("GROWN"))),
        "{recorded}"
    );
}
