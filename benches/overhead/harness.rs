//! What every section shares: the counting allocator, statistics, the
//! report table, the runtimes and modes compared, the interleaving of
//! their batches, and the drivers more than one section runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use taskleak::__private::set_capture_frames;
use taskleak::BuilderExt;
use tokio::runtime::{Builder, Runtime};

// ---------------------------------------------------------------------------
// A global allocator that counts live bytes, only while `COUNTING` is on (one
// relaxed load per allocation otherwise, alike for both sides).

struct Counting;
pub static COUNTING: AtomicBool = AtomicBool::new(false);
pub static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if COUNTING.load(Relaxed) && !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if COUNTING.load(Relaxed) && !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if COUNTING.load(Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
        }
        unsafe { System.dealloc(p, layout) }
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new) };
        if COUNTING.load(Relaxed) && !q.is_null() {
            LIVE_BYTES.fetch_add(new as isize - layout.size() as isize, Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

unsafe extern "C" {
    /// glibc: give freed heap back to the OS, so RSS deltas start clean.
    pub fn malloc_trim(pad: usize) -> i32;
}

pub fn rss_bytes() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

// ---------------------------------------------------------------------------
// Statistics and the report table.

pub fn median(v: &[f64]) -> f64 {
    quantile(v, 0.5)
}

pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((s.len() - 1) as f64 * q).round() as usize;
    s[i]
}

pub fn fmt_ns(ns: f64) -> String {
    if ns.is_nan() {
        "—".into()
    } else if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

struct Row {
    measure: String,
    untracked: String,
    tracked: String,
    ratio: String,
    target: String,
    met: &'static str,
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    pub fn row(
        &mut self,
        measure: impl Into<String>,
        untracked: impl Into<String>,
        tracked: impl Into<String>,
        ratio: impl Into<String>,
        target: impl Into<String>,
        met: Option<bool>,
    ) {
        let row = Row {
            measure: measure.into(),
            untracked: untracked.into(),
            tracked: tracked.into(),
            ratio: ratio.into(),
            target: target.into(),
            met: match met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            },
        };
        eprintln!(
            "  {} | {} | {} | {} | {} | {}",
            row.measure, row.untracked, row.tracked, row.ratio, row.target, row.met
        );
        self.rows.push(row);
    }

    pub fn ratio_row(&mut self, measure: &str, u: f64, t: f64, target: Option<f64>) {
        let r = t / u;
        self.row(
            measure,
            fmt_ns(u),
            fmt_ns(t),
            format!("{r:.2}x"),
            target.map_or(String::new(), |t| format!("≤ {t}x")),
            target.map(|t| r <= t),
        );
    }

    pub fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        eprintln!("  note: {s}");
        self.notes.push(s);
    }

    pub fn print(&self, header: &str) {
        let mut out = String::new();
        writeln!(out, "\n{header}\n").unwrap();
        writeln!(
            out,
            "| measure | untracked | tracked | ratio | target | met |"
        )
        .unwrap();
        writeln!(out, "|---|---|---|---|---|---|").unwrap();
        for r in &self.rows {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.measure, r.untracked, r.tracked, r.ratio, r.target, r.met
            )
            .unwrap();
        }
        if !self.notes.is_empty() {
            writeln!(out).unwrap();
            for n in &self.notes {
                writeln!(out, "- {n}").unwrap();
            }
        }
        println!("{out}");
    }
}

// ---------------------------------------------------------------------------
// Runtimes.

pub fn current_thread(tracked: bool) -> Runtime {
    let mut b = Builder::new_current_thread();
    b.enable_all();
    if tracked {
        b.track_tasks();
    }
    b.build().unwrap()
}

pub fn multi_thread(tracked: bool, workers: usize) -> Runtime {
    let mut b = Builder::new_multi_thread();
    b.worker_threads(workers).enable_all();
    if tracked {
        b.track_tasks();
    }
    b.build().unwrap()
}

/// tokio with the same hooks as `track_tasks` (spawn, terminate, before
/// and after poll) doing nothing: what tokio's own hook dispatch costs.
pub fn current_thread_empty_hooks() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .on_task_spawn(|m| {
            black_box(m.id());
        })
        .on_before_task_poll(|m| {
            black_box(m.id());
        })
        .on_after_task_poll(|m| {
            black_box(m.id());
        })
        .on_task_terminate(|m| {
            black_box(m.id());
        })
        .build()
        .unwrap()
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Mode {
    Untracked,
    EmptyHooks,
    Short,
    Full,
    /// Full, but frames walked only for spawn sites outside the workspace
    /// (the benchmarks' own spawns are inside it: spawn-site cost).
    FullOutside,
}

impl Mode {
    pub fn enter(self) {
        set_capture_frames(matches!(self, Mode::Full | Mode::FullOutside));
        taskleak::__private::set_walk_outside_workspace_only(self == Mode::FullOutside);
    }
}

pub struct Cfg {
    pub quick: bool,
    pub debug: bool,
}

impl Cfg {
    /// A time budget, shortened by --quick.
    pub fn budget(&self, secs: f64) -> Duration {
        Duration::from_secs_f64(if self.quick { secs / 3.0 } else { secs })
    }
}

/// Runs `f(mode)` (which returns ns per op for one batch) for every mode in
/// rotating order until `budget` passes (at least `min_rounds`), and returns
/// the per-mode samples.
pub fn interleave(
    modes: &[Mode],
    budget: Duration,
    min_rounds: usize,
    mut f: impl FnMut(Mode) -> f64,
) -> Vec<Vec<f64>> {
    // Warm-up: one batch each (allocator, registry shards, thread pools).
    for &m in modes {
        m.enter();
        f(m);
    }
    let mut samples = vec![Vec::new(); modes.len()];
    let start = Instant::now();
    let mut round = 0;
    while round < min_rounds || start.elapsed() < budget {
        for k in 0..modes.len() {
            let i = (round + k) % modes.len();
            modes[i].enter();
            samples[i].push(f(modes[i]));
        }
        round += 1;
        if round > 100_000 {
            break;
        }
    }
    set_capture_frames(true);
    taskleak::__private::set_walk_outside_workspace_only(false);
    samples
}

/// Median over rounds of tracked/untracked measured in the same round.
pub fn paired(t: &[f64], u: &[f64]) -> f64 {
    let r: Vec<f64> = t.iter().zip(u).map(|(t, u)| t / u).collect();
    median(&r)
}

/// A quantile of the per-round ratios tracked/untracked (their spread).
pub fn ratio_quantile(t: &[f64], u: &[f64], q: f64) -> f64 {
    let r: Vec<f64> = t.iter().zip(u).map(|(t, u)| t / u).collect();
    quantile(&r, q)
}

// ---------------------------------------------------------------------------
// Drivers that more than one section runs.

/// Two driver tasks on `rt`'s workers (one each, usually), released
/// together by a barrier, each timing `$work`: the slower one's time.
///
/// A macro, not a function taking a closure, so that `$work` runs in the
/// driver task's own poll, as it was written there before: in full mode
/// every spawn walks the stack, and an unoptimised build would walk a
/// closure's or an inner future's frame too.
macro_rules! on_two_workers {
    ($rt:expr, $work:block) => {
        $rt.block_on(async {
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let drivers: Vec<_> = (0..2)
                .map(|_| {
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let t0 = std::time::Instant::now();
                        $work
                        t0.elapsed()
                    })
                })
                .collect();
            let mut total = std::time::Duration::ZERO;
            for d in drivers {
                total = total.max(d.await.unwrap());
            }
            total
        })
    };
}
pub(crate) use on_two_workers;

/// Two tasks on `rt`'s workers, released together, each `rounds` times
/// spawning `n` tasks with `spawn` then awaiting them: ns per task, from
/// the slower of the two.
pub fn two_workers(
    rt: &Runtime,
    rounds: usize,
    n: usize,
    spawn: fn() -> tokio::task::JoinHandle<()>,
) -> f64 {
    let total = on_two_workers!(rt, {
        for _ in 0..rounds {
            let hs: Vec<_> = (0..n).map(|_| spawn()).collect();
            for h in hs {
                h.await.unwrap();
            }
        }
    });
    total.as_nanos() as f64 / (2 * rounds * n) as f64
}

/// Keeps `n` never-ending tasks alive on `rt` in a scope of another thread
/// (whose guard is forgotten; the tasks end when `rt` is dropped).
pub fn park_tasks_in_other_scope(rt: &Runtime, n: usize, depth: usize) -> Duration {
    let handle = rt.handle().clone();
    std::thread::spawn(move || {
        let guard = taskleak::verify_none();
        let took = nest(depth, &mut || {
            let t0 = Instant::now();
            for _ in 0..n {
                drop(handle.spawn(std::future::pending::<()>()));
            }
            t0.elapsed()
        });
        std::mem::forget(guard);
        took
    })
    .join()
    .unwrap()
}

/// Calls `f` `depth` frames deeper than the caller.
#[inline(never)]
fn nest<R>(depth: usize, f: &mut dyn FnMut() -> R) -> R {
    if depth == 0 {
        f()
    } else {
        black_box(nest(black_box(depth - 1), f))
    }
}
