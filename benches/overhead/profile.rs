//! `profile-*`: loops of one variant for `perf record`.

use std::time::{Duration, Instant};

use taskleak::__private::set_capture_frames;

use crate::harness::{current_thread, current_thread_empty_hooks};
use crate::suite::suite_test;

/// For `perf record`: loop one variant of the spawn benchmark for a while.
/// `profile-{untracked,empty-hooks,short,full}[-task] [seconds]`; `-task`
/// spawns from inside a task instead of the `block_on` root.
pub fn profile_loop(what: &str, secs: f64) {
    if let Some(mode) = what.strip_prefix("profile-suite-") {
        // One #[leak_check] (or #[tokio::test]) test of the suite, looped.
        set_capture_frames(mode == "full");
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let mut n = 0u64;
        while Instant::now() < end {
            suite_test(mode != "untracked", true);
            n += 1;
        }
        eprintln!("{what}: {n} tests, {:.1} µs each", secs * 1e6 / n as f64);
        return;
    }
    if let Some(mode) = what.strip_prefix("profile-batch-") {
        // The batch section's pattern: 500 spawned, then awaited.
        let rt = current_thread(mode != "untracked");
        set_capture_frames(mode == "full");
        let _guard = taskleak::verify_none();
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let ops = rt.block_on(async move {
            let mut ops = 0u64;
            while Instant::now() < end {
                let hs: Vec<_> = (0..500).map(|_| tokio::spawn(async {})).collect();
                for h in hs {
                    h.await.unwrap();
                }
                ops += 500;
            }
            ops
        });
        eprintln!(
            "{what}: {ops} tasks, {:.1} ns each",
            secs * 1e9 / ops as f64
        );
        return;
    }
    let in_task = what.ends_with("-task");
    let mode = what
        .trim_start_matches("profile-")
        .trim_end_matches("-task");
    let rt = match mode {
        "untracked" => current_thread(false),
        "empty-hooks" => current_thread_empty_hooks(),
        _ => current_thread(true),
    };
    set_capture_frames(mode == "full");
    let _guard = taskleak::verify_none();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let lp = async move {
        let mut ops = 0u64;
        while Instant::now() < end {
            for _ in 0..10_000 {
                tokio::spawn(async {}).await.unwrap();
            }
            ops += 10_000;
        }
        ops
    };
    let ops = rt.block_on(async move {
        if in_task {
            tokio::spawn(lp).await.unwrap()
        } else {
            lp.await
        }
    });
    eprintln!(
        "{what}: {ops} spawn+await, {:.1} ns each",
        secs * 1e9 / ops as f64
    );
}
