//! `cargo-suite`: the suite as real test binaries (`benches/suite_*.rs`),
//! built by cargo and timed whole, or a process per test.

use std::sync::LazyLock;
use std::time::Instant;

use crate::harness::{Cfg, Report, median};

/// The suite as real test binaries: `benches/suite_tracked.rs`
/// (`#[leak_check]`) and `benches/suite_untracked.rs` (`#[tokio::test]`),
/// built by cargo, then run whole (process start, libtest, its test threads)
/// alternately; wall time per run.
pub fn cargo_suite_section(cfg: &Cfg, rep: &mut Report) {
    eprintln!("[cargo-suite] building the two suite binaries");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "bench",
        "--no-run",
        "--message-format=json",
        "--bench",
        "suite_tracked",
        "--bench",
        "suite_untracked",
        "--bench",
        "suite_rules",
        "--bench",
        "suite_rules_untracked",
    ]);
    if cfg.debug {
        cmd.args(["--profile", "dev"]);
    }
    let out = match cmd.output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            rep.note(format!(
                "cargo-suite: building the suite binaries failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" / ")
            ));
            return;
        }
        Err(e) => {
            rep.note(format!("cargo-suite: cannot run cargo: {e}"));
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exe = |name: &str| -> Option<String> {
        stdout
            .lines()
            .filter(|l| l.contains(&format!("\"name\":\"{name}\"")))
            .find_map(|l| {
                let i = l.find("\"executable\":\"")? + "\"executable\":\"".len();
                let j = l[i..].find('"')?;
                Some(l[i..i + j].to_string())
            })
    };
    let (Some(tracked), Some(untracked)) = (exe("suite_tracked"), exe("suite_untracked")) else {
        rep.note("cargo-suite: could not find the suite executables in cargo's output");
        return;
    };
    let (Some(rules), Some(rules_untracked)) = (exe("suite_rules"), exe("suite_rules_untracked"))
    else {
        rep.note("cargo-suite: could not find the suite executables in cargo's output");
        return;
    };
    let reps = if cfg.quick { 5 } else { 15 };
    let Some((u, f, sh)) = rotate_runs(reps, &untracked, &tracked, None) else {
        rep.note("cargo-suite: a suite run failed (see stderr)");
        return;
    };
    rep.ratio_row(
        "cargo test suite: 200 tests × 50 tasks (binary run), short",
        u,
        sh,
        Some(1.10),
    );
    rep.ratio_row(
        "cargo test suite: 200 tests × 50 tasks (binary run), full",
        u,
        f,
        Some(1.10),
    );
    rep.note(format!(
        "cargo-suite: wall time of one whole run of each test binary (libtest, default test threads), \
         {reps} runs each, alternating; the compile is not timed"
    ));

    // The same tests, a process each (what nextest does): every process
    // pays for its first check and its first walks.
    eprintln!("[cargo-suite] the suite, a process per test");
    let reps = if cfg.quick { 3 } else { 7 };
    let Some((u, f, sh)) = rotate_runs(reps, &untracked, &tracked, Some(&PER_PROCESS[..])) else {
        rep.note("cargo-suite: a suite run failed (see stderr)");
        return;
    };
    let how = "a process per test (as nextest runs), 40 of the 200 tests";
    rep.ratio_row(
        &format!("cargo test suite: 200 tests × 50 tasks; {how}, short"),
        u,
        sh,
        Some(1.10),
    );
    rep.ratio_row(
        &format!("cargo test suite: 200 tests × 50 tasks; {how}, full"),
        u,
        f,
        Some(1.10),
    );

    // Whole binaries with rules in force, then a process per test (what
    // nextest does), so per-process costs (debug info, if anything loaded
    // it) show once per test.
    let pairs: [(&str, &str, &str, Option<&[String]>); 2] = [
        ("whole binary run", &rules_untracked, &rules, None),
        (
            "a process per test (as nextest runs), 40 of the 200 tests",
            &rules_untracked,
            &rules,
            Some(&PER_PROCESS[..]),
        ),
    ];
    for (how, u_exe, t_exe, tests) in pairs {
        eprintln!("[cargo-suite] passing tests with file + path rules: {how}");
        let reps = if cfg.quick { 3 } else { 7 };
        let Some((u, f, sh)) = rotate_runs(reps, u_exe, t_exe, tests) else {
            rep.note("cargo-suite: a suite run failed (see stderr)");
            return;
        };
        rep.ratio_row(
            &format!("rules suite: 200 passing tests, file + path rules, tasks outlive the body 2 ms; {how}, short"),
            u,
            sh,
            Some(1.10),
        );
        rep.ratio_row(
            &format!("rules suite: 200 passing tests, file + path rules, tasks outlive the body 2 ms; {how}, full"),
            u,
            f,
            Some(1.10),
        );
    }
}

/// `reps` rounds, after one warm-up round that is not kept, each running
/// the untracked binary, the tracked one in full mode and the tracked one
/// in short mode, in an order rotating by round: the medians of their wall
/// times (untracked, full, short), or `None` as soon as a run fails.
fn rotate_runs(
    reps: usize,
    untracked: &str,
    tracked: &str,
    tests: Option<&[String]>,
) -> Option<(f64, f64, f64)> {
    let mut s: [Vec<f64>; 3] = Default::default();
    for r in 0..reps + 1 {
        for k in 0..3 {
            let i = (r + k) % 3;
            let v = match i {
                0 => run_suite(untracked, false, tests),
                1 => run_suite(tracked, false, tests),
                _ => run_suite(tracked, true, tests),
            }?;
            if r > 0 {
                s[i].push(v);
            }
        }
    }
    Some((median(&s[0]), median(&s[1]), median(&s[2])))
}

/// The tests run one process each: two of each module's ten.
static PER_PROCESS: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..20)
        .flat_map(|m| [format!("m{m:02}::t0"), format!("m{m:02}::t5")])
        .collect()
});

/// Wall time of one run of a suite binary: whole (`tests: None`), or one
/// process per test named, one after the other (`--exact`, as nextest
/// runs them).
fn run_suite(exe: &str, short: bool, tests: Option<&[String]>) -> Option<f64> {
    let one = |filter: Option<&str>| -> Option<()> {
        let mut c = std::process::Command::new(exe);
        c.arg("--quiet");
        if let Some(f) = filter {
            c.args(["--exact", f]);
        }
        if short {
            c.env("TASKLEAK_BENCH_SHORT", "1");
        }
        let out = c.output().ok()?;
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stdout));
            return None;
        }
        Some(())
    };
    let t0 = Instant::now();
    match tests {
        None => one(None)?,
        Some(tests) => {
            for t in tests {
                one(Some(t))?;
            }
        }
    }
    Some(t0.elapsed().as_nanos() as f64)
}
