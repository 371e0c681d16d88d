//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use taskleak::BuilderExt;
use tokio::runtime::{Builder, Runtime};

pub fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .track_tasks()
        .build()
        .unwrap()
}

pub fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .track_tasks()
        .build()
        .unwrap()
}

/// A short grace for tests that expect a leak, so the suite stays quick.
pub fn quick() -> taskleak::Options {
    taskleak::Options::new().grace(Duration::from_millis(50))
}

/// A future that never completes.
pub async fn forever() {
    std::future::pending::<()>().await
}

/// Runs one `#[ignore]`d fixture of this same test binary in a child
/// process, with `env` set (and taskleak's variables cleared otherwise).
/// Returns the output and its stdout + stderr as text.
pub fn run_fixture(fixture: &str, env: &[(&str, &str)]) -> (std::process::Output, String) {
    let out = output_within(fixture_command(fixture, env), Duration::from_secs(60));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// This test binary, to run `fixture` alone with `env` set (and
/// taskleak's variables cleared otherwise).
fn fixture_command(fixture: &str, env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = this_binary(&["--ignored", "--exact", fixture, "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// This test binary with libtest's `args`, as a whole binary run of its
/// own, even when nextest runs us (no `NEXTEST_RUN_ID`: a child that
/// inherited it would act as one test's process and print no summary),
/// with none of taskleak's or GitHub's variables, and no colour.
pub fn this_binary(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(args).env("NO_COLOR", "1");
    for (var, _) in std::env::vars() {
        if var.starts_with("TASKLEAK") || var.starts_with("NEXTEST") || var.starts_with("GITHUB_") {
            cmd.env_remove(var);
        }
    }
    cmd
}

/// Runs `cmd` to its end, or kills it after `bound`: a fixture that hangs
/// fails its test instead of hanging the suite.
pub fn output_within(mut cmd: std::process::Command, bound: Duration) -> std::process::Output {
    use std::process::Stdio;
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = done.send(());
        out
    });
    if finished.recv_timeout(bound).is_err() {
        // SAFETY: signals the child this function started, by its pid.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        let out = waiter.join().unwrap().unwrap();
        panic!(
            "the child ran longer than {bound:?} and was killed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    waiter.join().unwrap().unwrap()
}

/// Like [`run_fixture`], but kills the child when it has not ended within
/// `limit`, so that a fixture that hangs fails its test instead of CI's job.
/// Returns `None` (with what the child had printed) when it was killed.
pub fn run_fixture_within(
    fixture: &str,
    env: &[(&str, &str)],
    limit: Duration,
) -> (Option<std::process::ExitStatus>, String) {
    use std::io::Read;
    use std::process::Stdio;

    let mut cmd = fixture_command(fixture, env);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // Read both pipes on threads: a child that fills a pipe would block.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.join().unwrap()),
        String::from_utf8_lossy(&err.join().unwrap())
    );
    (status, text)
}
