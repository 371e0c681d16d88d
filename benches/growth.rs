//! What one growth sample costs (a `Growth::round` that samples, or one
//! tick of `taskleak::Watch`): live tracked tasks counted per spawn site
//! across every runtime, at 10^3, 10^5 and 10^6 live tasks, side by side
//! in one process, with tokio's own `num_alive_tasks()` (one counter, no
//! sites) as the floor.
//!
//! ```text
//! cargo bench --bench growth             # release
//! cargo bench --bench growth -- --quick  # fewer repetitions
//! ```
//!
//! Tasks are spawned with spawn-site frames off (`set_capture_frames(false)`)
//! so that 10^6 of them fit in memory; a sample reads only each task's
//! spawn site, so frames would not change its cost. Tasks come from 16
//! spawn sites, as a server's tasks would.

use std::future::pending;
use std::time::{Duration, Instant};

use taskleak::BuilderExt;

/// CPU time of this thread: what a sample costs, whatever else the
/// machine runs (wall time on a loaded machine adds other processes').
fn cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the thread's CPU clock into a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// 16 spawn sites, each its own line.
fn spawn_one(rt: &tokio::runtime::Runtime, i: usize) -> tokio::task::JoinHandle<()> {
    match i % 16 {
        0 => rt.spawn(pending()),
        1 => rt.spawn(pending()),
        2 => rt.spawn(pending()),
        3 => rt.spawn(pending()),
        4 => rt.spawn(pending()),
        5 => rt.spawn(pending()),
        6 => rt.spawn(pending()),
        7 => rt.spawn(pending()),
        8 => rt.spawn(pending()),
        9 => rt.spawn(pending()),
        10 => rt.spawn(pending()),
        11 => rt.spawn(pending()),
        12 => rt.spawn(pending()),
        13 => rt.spawn(pending()),
        14 => rt.spawn(pending()),
        _ => rt.spawn(pending()),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    taskleak::__private::set_capture_frames(false);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .track_tasks()
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    let mut rows = Vec::new();
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        while tasks.len() < n {
            tasks.push(spawn_one(&rt, tasks.len()));
        }
        let reps = match (n, quick) {
            (1_000_000, _) => 7,
            (_, true) => 11,
            _ => 31,
        };
        let mut sample = Vec::new();
        let mut wall = Vec::new();
        let mut floor = Vec::new();
        for _ in 0..reps {
            let (t, c) = (Instant::now(), cpu());
            let sites = taskleak::__private::growth_sample();
            sample.push(cpu() - c);
            wall.push(t.elapsed());
            assert_eq!(sites, 16.min(n));
            let t = Instant::now();
            let alive = rt.metrics().num_alive_tasks();
            floor.push(t.elapsed());
            assert!(alive >= n);
        }
        rows.push((n, median(sample), median(floor), median(wall)));
    }
    let base = rows[0].1.as_secs_f64() / rows[0].0 as f64;
    println!(
        "| live tasks | one growth sample (CPU) | (wall) | per task | per task vs 10^3 | \
         num_alive_tasks() (wall) | watch, every 10 s: CPU per minute |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (n, sample, floor, wall) in &rows {
        let per_task = sample.as_secs_f64() / *n as f64;
        println!(
            "| {n} | {:.3} ms | {:.3} ms | {:.1} ns | {:.2}x | {:.0} ns | {:.1} ms ({:.4}% of a core) |",
            sample.as_secs_f64() * 1e3,
            wall.as_secs_f64() * 1e3,
            per_task * 1e9,
            per_task / base,
            floor.as_secs_f64() * 1e9,
            sample.as_secs_f64() * 6.0 * 1e3,
            sample.as_secs_f64() * 6.0 / 60.0 * 100.0,
        );
    }
    for t in &tasks {
        t.abort();
    }
}
