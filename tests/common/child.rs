//! Running a program as a user would, under a time bound: the child
//! processes of the adoption tests (tests/adoption.rs) and of
//! cargo-taskleak's whole-run test, which includes this file by path.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `program args` in `dir` with `env`, as a user would run it: none of
/// this process's cargo, nextest, taskleak or GitHub variables, built
/// with `--cfg tokio_unstable` in `target_dir` (shared, so the
/// dependencies build once). Killed after `bound`, which fails the test.
/// (exit code, stdout, stderr).
pub fn run_as_user(
    program: &str,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    target_dir: &Path,
    bound: Duration,
) -> (i32, String, String) {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        let keep =
            k == "CARGO_HOME" || k.starts_with("CARGO_NET") || k.starts_with("CARGO_REGISTR");
        if (k.starts_with("CARGO") && !keep)
            || k.starts_with("NEXTEST")
            || k.starts_with("TASKLEAK")
            || k.starts_with("GITHUB_")
            || k.starts_with("RUST_TEST")
        {
            cmd.env_remove(&k);
        }
    }
    cmd.env("RUSTFLAGS", "--cfg tokio_unstable")
        .env("CARGO_TARGET_DIR", target_dir)
        .env("NO_COLOR", "1")
        .env("CARGO_TERM_COLOR", "never");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + bound;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{program} {}` in {} took longer than {bound:?}",
                args.join(" "),
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}
