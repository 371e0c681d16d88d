//! A loaded machine makes a check slower, never wrong: 100 clean tests at
//! `--test-threads=16`, with busy processes beside them on the same cores,
//! all pass, and the run ends in bounded time.
//!
//! The fixtures run in a child process (this same test binary) that the
//! parent kills after [`LIMIT`].
#![cfg(taskleak_hooks)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Far above what the run needs unloaded (a few seconds).
const LIMIT: Duration = Duration::from_secs(240);

/// Busy processes beside the tests: more runnable threads than cores.
const BUSY: usize = 3;

/// A background task each test leaves running on purpose, ignored by a
/// path rule: its check looks up symbols to see it is ignored.
fn start_reporter() {
    tokio::spawn(std::future::pending::<()>());
}

/// Busy for `d` of this thread's time.
fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::black_box(0u64);
    }
}

/// What a clean test does: tasks that exchange messages, some awaited, some
/// ending on their own just after the body, and a blocking closure.
async fn workload(n: u64) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(4);
    for i in 0..8 {
        let tx = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1 + (i * 3 + n) % 10)).await;
            let _ = tx.send(i).await;
        });
    }
    drop(tx);
    for _ in 0..4 {
        rx.recv().await;
    }
    // Work that ends on its own after the body, one task after another:
    // ~95 ms of CPU in all, in short polls, which a loaded machine spreads
    // over much longer than the grace period.
    for i in 0..20u64 {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i % 5)).await;
            for _ in 0..3 * (i + 1) {
                spin(Duration::from_micros(150));
                tokio::task::yield_now().await;
            }
        });
    }
    let sum = tokio::task::spawn_blocking(move || (0..10_000u64).map(|x| x ^ n).sum::<u64>());
    std::hint::black_box(sum.await.unwrap());
}

macro_rules! current_thread_fixtures {
    ($($name:ident)*) => { $(
        #[taskleak::leak_check]
        #[ignore = "fixture: run by clean_tests_pass_under_load"]
        async fn $name() {
            workload(line!() as u64).await;
        }
    )* };
}

macro_rules! multi_thread_fixtures {
    ($($name:ident)*) => { $(
        #[taskleak::leak_check(
            flavor = "multi_thread",
            worker_threads = 2,
            ignore = ["load::start_reporter"]
        )]
        #[ignore = "fixture: run by clean_tests_pass_under_load"]
        async fn $name() {
            start_reporter();
            workload(line!() as u64).await;
        }
    )* };
}

current_thread_fixtures!(fixture_clean_000 fixture_clean_002 fixture_clean_004 fixture_clean_006 fixture_clean_008 fixture_clean_010 fixture_clean_012 fixture_clean_014 fixture_clean_016 fixture_clean_018 fixture_clean_020 fixture_clean_022 fixture_clean_024 fixture_clean_026 fixture_clean_028 fixture_clean_030 fixture_clean_032 fixture_clean_034 fixture_clean_036 fixture_clean_038 fixture_clean_040 fixture_clean_042 fixture_clean_044 fixture_clean_046 fixture_clean_048 fixture_clean_050 fixture_clean_052 fixture_clean_054 fixture_clean_056 fixture_clean_058 fixture_clean_060 fixture_clean_062 fixture_clean_064 fixture_clean_066 fixture_clean_068 fixture_clean_070 fixture_clean_072 fixture_clean_074 fixture_clean_076 fixture_clean_078 fixture_clean_080 fixture_clean_082 fixture_clean_084 fixture_clean_086 fixture_clean_088 fixture_clean_090 fixture_clean_092 fixture_clean_094 fixture_clean_096 fixture_clean_098);
multi_thread_fixtures!(fixture_clean_001 fixture_clean_003 fixture_clean_005 fixture_clean_007 fixture_clean_009 fixture_clean_011 fixture_clean_013 fixture_clean_015 fixture_clean_017 fixture_clean_019 fixture_clean_021 fixture_clean_023 fixture_clean_025 fixture_clean_027 fixture_clean_029 fixture_clean_031 fixture_clean_033 fixture_clean_035 fixture_clean_037 fixture_clean_039 fixture_clean_041 fixture_clean_043 fixture_clean_045 fixture_clean_047 fixture_clean_049 fixture_clean_051 fixture_clean_053 fixture_clean_055 fixture_clean_057 fixture_clean_059 fixture_clean_061 fixture_clean_063 fixture_clean_065 fixture_clean_067 fixture_clean_069 fixture_clean_071 fixture_clean_073 fixture_clean_075 fixture_clean_077 fixture_clean_079 fixture_clean_081 fixture_clean_083 fixture_clean_085 fixture_clean_087 fixture_clean_089 fixture_clean_091 fixture_clean_093 fixture_clean_095 fixture_clean_097 fixture_clean_099);

/// Busy loops in processes of their own, killed on drop.
struct Busy(Vec<std::process::Child>);

impl Busy {
    fn start(n: usize) -> Busy {
        let spin = || {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        };
        Busy((0..n).map(|_| spin()).collect())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn clean_tests_pass_under_load() {
    let _busy = Busy::start(BUSY);
    let cmd = common::this_binary(&["--ignored", "--test-threads=16", "fixture_clean_"]);
    let start = Instant::now();
    let out = common::output_within(cmd, LIMIT);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result = text.lines().find(|l| l.starts_with("test result:"));
    eprintln!(
        "after {:?}: {}",
        start.elapsed(),
        result.unwrap_or("no result")
    );
    assert!(out.status.success(), "after {:?}:\n{text}", start.elapsed());
    assert!(text.contains("test result: ok. 100 passed"), "{text}");
}
