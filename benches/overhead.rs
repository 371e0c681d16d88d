//! What tracking costs, tracked against untracked, measured side by side.
//!
//! One command prints a markdown table of ratios (issue 7):
//!
//! ```text
//! cargo bench --bench overhead                       # release, every section (~1-2 min)
//! cargo bench --profile dev --bench overhead -- spawn contention check cargo-suite
//!                                                    # the same ratios in a debug build
//! cargo bench --bench overhead -- --quick            # shorter budgets
//! cargo bench --bench overhead -- check overshoot    # only some sections
//! ```
//!
//! For `perf`: `overhead profile-{untracked,empty-hooks,short,full}[-task] [secs]`
//! or `overhead profile-batch-{untracked,short,full} [secs]`
//! loops one spawn benchmark, `overhead profile-suite-{untracked,short,full}`
//! one suite test (run the executable that `cargo bench --no-run` names).
//!
//! Sections: `spawn contention batch check overshoot memory scale suite cargo-suite`
//! (`memory` and `scale` share one registry of 10^6 tasks and run together).
//!
//! Every ratio comes from one process in which the untracked and tracked
//! variants run in alternating batches (rotating order each round), so a
//! noisy neighbour slows both sides alike. Per-op times are medians of
//! batches; "ratio" is median(tracked) / median(untracked).
//!
//! Modes: **short** = `set_capture_frames(false)` (spawn sites and chains
//! only, `TASKLEAK_BACKTRACE=short`); **full** = spawn-site frames walked at
//! every spawn (the default).

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use taskleak::__private::set_capture_frames;
use taskleak::BuilderExt;
use tokio::runtime::{Builder, Runtime};

// ---------------------------------------------------------------------------
// A global allocator that counts live bytes, only while `COUNTING` is on (one
// relaxed load per allocation otherwise, alike for both sides).

struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

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
    fn malloc_trim(pad: usize) -> i32;
}

fn rss_bytes() -> i64 {
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

fn median(v: &[f64]) -> f64 {
    quantile(v, 0.5)
}

fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((s.len() - 1) as f64 * q).round() as usize;
    s[i]
}

fn fmt_ns(ns: f64) -> String {
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
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn row(
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

    fn ratio_row(&mut self, measure: &str, u: f64, t: f64, target: Option<f64>) {
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

    fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        eprintln!("  note: {s}");
        self.notes.push(s);
    }

    fn print(&self, header: &str) {
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

fn current_thread(tracked: bool) -> Runtime {
    let mut b = Builder::new_current_thread();
    b.enable_all();
    if tracked {
        b.track_tasks();
    }
    b.build().unwrap()
}

fn multi_thread(tracked: bool, workers: usize) -> Runtime {
    let mut b = Builder::new_multi_thread();
    b.worker_threads(workers).enable_all();
    if tracked {
        b.track_tasks();
    }
    b.build().unwrap()
}

/// tokio with the same hooks as `track_tasks` (spawn, terminate, before
/// and after poll) doing nothing: what tokio's own hook dispatch costs.
fn current_thread_empty_hooks() -> Runtime {
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
enum Mode {
    Untracked,
    EmptyHooks,
    Short,
    Full,
}

impl Mode {
    fn enter(self) {
        set_capture_frames(self == Mode::Full);
    }
}

struct Cfg {
    quick: bool,
    debug: bool,
}

impl Cfg {
    /// A time budget, shortened by --quick.
    fn budget(&self, secs: f64) -> Duration {
        Duration::from_secs_f64(if self.quick { secs / 3.0 } else { secs })
    }
}

/// Runs `f(mode)` (which returns ns per op for one batch) for every mode in
/// rotating order until `budget` passes (at least `min_rounds`), and returns
/// the per-mode samples.
fn interleave(
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
    samples
}

/// Median over rounds of tracked/untracked measured in the same round.
fn paired(t: &[f64], u: &[f64]) -> f64 {
    let r: Vec<f64> = t.iter().zip(u).map(|(t, u)| t / u).collect();
    median(&r)
}

// ---------------------------------------------------------------------------
// Sections.

/// Spawn + await of an empty task, on a current-thread runtime (the
/// `#[tokio::test]` default), from the `block_on` root inside an open scope.
fn spawn_section(cfg: &Cfg, rep: &mut Report) {
    eprintln!("[spawn] spawn + await of an empty task, current_thread");
    let rt_u = current_thread(false);
    let rt_e = current_thread_empty_hooks();
    let rt_t = current_thread(true);
    let n = if cfg.debug { 300 } else { 2000 };
    let _guard = taskleak::verify_none();

    let batch = |rt: &Runtime| -> f64 {
        rt.block_on(async {
            let t0 = Instant::now();
            for _ in 0..n {
                tokio::spawn(async {}).await.unwrap();
            }
            t0.elapsed().as_nanos() as f64 / n as f64
        })
    };
    let modes = [Mode::Untracked, Mode::EmptyHooks, Mode::Short, Mode::Full];
    let s = interleave(&modes, cfg.budget(12.0), 15, |m| match m {
        Mode::Untracked => batch(&rt_u),
        Mode::EmptyHooks => batch(&rt_e),
        Mode::Short | Mode::Full => batch(&rt_t),
    });
    let (u, e, sh, fu) = (median(&s[0]), median(&s[1]), median(&s[2]), median(&s[3]));
    let (tgt_s, tgt_f) = (Some(1.3), Some(3.0));
    rep.ratio_row(
        "spawn+await, current_thread, short (sites only)",
        u,
        sh,
        tgt_s,
    );
    rep.ratio_row(
        "spawn+await, current_thread, full (spawn backtraces)",
        u,
        fu,
        tgt_f,
    );
    rep.ratio_row(
        "spawn+await, current_thread, tokio with empty hooks",
        u,
        e,
        None,
    );
    rep.note(format!(
        "spawn (current_thread): {} rounds of {n}; paired per-round ratios short {:.2}x, full {:.2}x, empty hooks {:.2}x; \
         p10–p90 untracked {}–{}, short {}–{}, full {}–{}",
        s[0].len(),
        paired(&s[2], &s[0]),
        paired(&s[3], &s[0]),
        paired(&s[1], &s[0]),
        fmt_ns(quantile(&s[0], 0.1)),
        fmt_ns(quantile(&s[0], 0.9)),
        fmt_ns(quantile(&s[2], 0.1)),
        fmt_ns(quantile(&s[2], 0.9)),
        fmt_ns(quantile(&s[3], 0.1)),
        fmt_ns(quantile(&s[3], 0.9)),
    ));

    // The same from inside a task: the hook finds a tracked parent
    // (registry lookup of the parent, chain link, scope inherited).
    eprintln!("[spawn] spawn + await from inside a task (tracked parent)");
    let batch_in_task = |rt: &Runtime| -> f64 {
        rt.block_on(async {
            tokio::spawn(async move {
                let t0 = Instant::now();
                for _ in 0..n {
                    tokio::spawn(async {}).await.unwrap();
                }
                t0.elapsed().as_nanos() as f64 / n as f64
            })
            .await
            .unwrap()
        })
    };
    let modes = [Mode::Untracked, Mode::Short, Mode::Full];
    let s = interleave(&modes, cfg.budget(6.0), 15, |m| match m {
        Mode::Untracked => batch_in_task(&rt_u),
        _ => batch_in_task(&rt_t),
    });
    let (u, sh, fu) = (median(&s[0]), median(&s[1]), median(&s[2]));
    rep.ratio_row(
        "spawn+await inside a task (parent lookup), short",
        u,
        sh,
        tgt_s,
    );
    rep.ratio_row(
        "spawn+await inside a task (parent lookup), full",
        u,
        fu,
        tgt_f,
    );
}

/// Two workers of a multi-thread runtime spawning at once.
fn contention_section(cfg: &Cfg, rep: &mut Report) {
    eprintln!("[contention] 2 workers, each spawn + await in a loop");
    let rt_u = multi_thread(false, 2);
    let rt_t = multi_thread(true, 2);
    let n = if cfg.debug { 300 } else { 2000 };
    let _guard = taskleak::verify_none();

    // Each of two driver tasks (one per worker, usually) spawns and awaits
    // `n` empty tasks; time per spawn over both.
    let serial = |rt: &Runtime| -> f64 {
        rt.block_on(async {
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let drivers: Vec<_> = (0..2)
                .map(|_| {
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let t0 = Instant::now();
                        for _ in 0..n {
                            tokio::spawn(async {}).await.unwrap();
                        }
                        t0.elapsed()
                    })
                })
                .collect();
            let mut total = Duration::ZERO;
            for d in drivers {
                total = total.max(d.await.unwrap());
            }
            total.as_nanos() as f64 / (2 * n) as f64
        })
    };
    let modes = [Mode::Untracked, Mode::Short, Mode::Full];
    let s = interleave(&modes, cfg.budget(8.0), 15, |m| match m {
        Mode::Untracked => serial(&rt_u),
        _ => serial(&rt_t),
    });
    let (u, sh, fu) = (median(&s[0]), median(&s[1]), median(&s[2]));
    rep.ratio_row(
        "2 workers spawn+await concurrently, short (time/spawn)",
        u,
        sh,
        None,
    );
    rep.ratio_row(
        "2 workers spawn+await concurrently, full (time/spawn)",
        u,
        fu,
        None,
    );

    // Bursts: each driver spawns 256 tasks, then joins them: many live
    // records, inserts and removes from both workers at once.
    eprintln!("[contention] 2 workers, bursts of 256 spawns then join");
    let burst_n = 256;
    let bursts = if cfg.debug { 2 } else { 8 };
    let burst = |rt: &Runtime| -> f64 {
        two_workers(rt, bursts, burst_n, || {
            tokio::spawn(async { tokio::task::yield_now().await })
        })
    };
    let s = interleave(&modes, cfg.budget(8.0), 15, |m| match m {
        Mode::Untracked => burst(&rt_u),
        _ => burst(&rt_t),
    });
    let (u, sh, fu) = (median(&s[0]), median(&s[1]), median(&s[2]));
    rep.ratio_row(
        "2 workers, bursts of 256 spawns then join, short",
        u,
        sh,
        None,
    );
    rep.ratio_row(
        "2 workers, bursts of 256 spawns then join, full",
        u,
        fu,
        None,
    );
}

/// Two tasks on `rt`'s workers, released together, each `rounds` times
/// spawning `n` tasks with `spawn` then awaiting them: ns per task, from
/// the slower of the two.
fn two_workers(
    rt: &Runtime,
    rounds: usize,
    n: usize,
    spawn: fn() -> tokio::task::JoinHandle<()>,
) -> f64 {
    rt.block_on(async {
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let drivers: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let t0 = Instant::now();
                    for _ in 0..rounds {
                        let hs: Vec<_> = (0..n).map(|_| spawn()).collect();
                        for h in hs {
                            h.await.unwrap();
                        }
                    }
                    t0.elapsed()
                })
            })
            .collect();
        let mut total = Duration::ZERO;
        for d in drivers {
            total = total.max(d.await.unwrap());
        }
        total.as_nanos() as f64 / (2 * rounds * n) as f64
    })
}

/// The pattern of real tests: 500 tasks spawned from the body, then all
/// awaited (tokio's batch of spawns weighs less per task than one spawn +
/// await, so the same hook cost shows more).
fn batch_section(cfg: &Cfg, rep: &mut Report) {
    const N: usize = 500;
    eprintln!("[batch] {N} spawned from the body, then awaited, current_thread");
    let rt_u = current_thread(false);
    let rt_e = current_thread_empty_hooks();
    let rt_t = current_thread(true);
    let reps = if cfg.debug { 1 } else { 8 };
    let _guard = taskleak::verify_none();
    let batch = |rt: &Runtime| -> f64 {
        rt.block_on(async {
            let t0 = Instant::now();
            for _ in 0..reps {
                let hs: Vec<_> = (0..N).map(|_| tokio::spawn(async {})).collect();
                for h in hs {
                    h.await.unwrap();
                }
            }
            t0.elapsed().as_nanos() as f64 / (reps * N) as f64
        })
    };
    let modes = [Mode::Untracked, Mode::EmptyHooks, Mode::Short, Mode::Full];
    let s = interleave(&modes, cfg.budget(10.0), 15, |m| match m {
        Mode::Untracked => batch(&rt_u),
        Mode::EmptyHooks => batch(&rt_e),
        Mode::Short | Mode::Full => batch(&rt_t),
    });
    let (u, e, sh, fu) = (median(&s[0]), median(&s[1]), median(&s[2]), median(&s[3]));
    rep.ratio_row("batch: 500 spawned then awaited, short", u, sh, Some(1.15));
    rep.ratio_row("batch: 500 spawned then awaited, full", u, fu, Some(2.0));
    rep.ratio_row(
        "batch: 500 spawned then awaited, tokio with empty hooks",
        u,
        e,
        None,
    );
    rep.note(format!(
        "batch (current_thread): {} rounds; paired per-round ratios short {:.2}x, full {:.2}x, \
         empty hooks {:.2}x; p10–p90 of the per-round short ratio {:.2}x–{:.2}x, full {:.2}x–{:.2}x",
        s[0].len(),
        paired(&s[2], &s[0]),
        paired(&s[3], &s[0]),
        paired(&s[1], &s[0]),
        ratio_quantile(&s[2], &s[0], 0.1),
        ratio_quantile(&s[2], &s[0], 0.9),
        ratio_quantile(&s[3], &s[0], 0.1),
        ratio_quantile(&s[3], &s[0], 0.9),
    ));

    eprintln!("[batch] 2 workers, each {N} spawned then awaited");
    let rt_u = multi_thread(false, 2);
    let rt_t = multi_thread(true, 2);
    let two = |rt: &Runtime| -> f64 { two_workers(rt, reps, N, || tokio::spawn(async {})) };
    let modes = [Mode::Untracked, Mode::Short, Mode::Full];
    let s = interleave(&modes, cfg.budget(10.0), 15, |m| match m {
        Mode::Untracked => two(&rt_u),
        _ => two(&rt_t),
    });
    let (u, sh, fu) = (median(&s[0]), median(&s[1]), median(&s[2]));
    rep.ratio_row("batch, 2 workers spawning, short", u, sh, Some(2.0));
    rep.ratio_row("batch, 2 workers spawning, full", u, fu, Some(2.0));
    rep.note(format!(
        "batch (2 workers): {} rounds; paired per-round ratios short {:.2}x, full {:.2}x; \
         p10–p90 of the per-round short ratio {:.2}x–{:.2}x, full {:.2}x–{:.2}x",
        s[0].len(),
        paired(&s[1], &s[0]),
        paired(&s[2], &s[0]),
        ratio_quantile(&s[1], &s[0], 0.1),
        ratio_quantile(&s[1], &s[0], 0.9),
        ratio_quantile(&s[2], &s[0], 0.1),
        ratio_quantile(&s[2], &s[0], 0.9),
    ));
}

/// A quantile of the per-round ratios tracked/untracked (their spread).
fn ratio_quantile(t: &[f64], u: &[f64], q: f64) -> f64 {
    let r: Vec<f64> = t.iter().zip(u).map(|(t, u)| t / u).collect();
    quantile(&r, q)
}

/// Keeps `n` never-ending tasks alive on `rt` in a scope of another thread
/// (whose guard is forgotten; the tasks end when `rt` is dropped).
fn park_tasks_in_other_scope(rt: &Runtime, n: usize, depth: usize) -> Duration {
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

/// `check()` on a scope whose tasks are all done.
fn check_section(cfg: &Cfg, rep: &mut Report) {
    eprintln!("[check] check() on a clean scope");
    let rt = multi_thread(true, 1);
    let reps = if cfg.quick { 2_000 } else { 10_000 };

    let measure = |what: &str| -> (f64, f64, f64) {
        // A scope that did spawn (and join) a task, then a clean check.
        let mut check_ns = Vec::with_capacity(reps);
        let mut full_ns = Vec::with_capacity(reps);
        let mut async_ns = Vec::with_capacity(reps);
        for i in 0..reps {
            let t0 = Instant::now();
            let guard = taskleak::verify_none();
            let t1 = Instant::now();
            let r = guard.check();
            let t2 = Instant::now();
            assert!(r.is_ok(), "{what}: clean scope reported leaks");
            check_ns.push((t2 - t1).as_nanos() as f64);
            full_ns.push((t2 - t0).as_nanos() as f64);
            if i % 4 == 0 {
                let guard = taskleak::verify_none();
                let ns = rt.block_on(async move {
                    let t0 = Instant::now();
                    let r = guard.check_async().await;
                    let ns = t0.elapsed().as_nanos() as f64;
                    assert!(r.is_ok());
                    ns
                });
                async_ns.push(ns);
            }
        }
        (median(&check_ns), median(&full_ns), median(&async_ns))
    };

    let zero = measure("0 live");
    let took = park_tasks_in_other_scope(&rt, 100_000, 0);
    let many = measure("1e5 live");
    rep.row(
        "check() clean scope, 0 tasks live elsewhere (verify_none+check)",
        "",
        format!("{} ({})", fmt_ns(zero.0), fmt_ns(zero.1)),
        "",
        "≤ 5 µs",
        Some(zero.0 <= 5_000.0),
    );
    rep.row(
        "check() clean scope, 10^5 tasks live in another scope (verify_none+check)",
        "",
        format!("{} ({})", fmt_ns(many.0), fmt_ns(many.1)),
        "",
        "≤ 5 µs",
        Some(many.0 <= 5_000.0),
    );
    rep.row(
        "check_async() clean scope, 0 / 10^5 live elsewhere",
        "",
        format!("{} / {}", fmt_ns(zero.2), fmt_ns(many.2)),
        "",
        "",
        None,
    );
    rep.note(format!(
        "check: medians of {reps} calls; the 10^5 parked tasks took {} to spawn ({} each, full frames)",
        fmt_ns(took.as_nanos() as f64),
        fmt_ns(took.as_nanos() as f64 / 1e5),
    ));
    drop(rt);
}

/// A task that ends `d` after the body: when does the check return?
fn overshoot_section(cfg: &Cfg, rep: &mut Report) {
    eprintln!("[overshoot] task ends d after the body");
    let mt_u = multi_thread(false, 2);
    let mt_t = multi_thread(true, 2);
    let ct_u = current_thread(false);
    let ct_t = current_thread(true);
    let base = Instant::now();
    let since = move |t: Instant| (t - base).as_nanos() as u64;

    for d_ms in [1u64, 10, 100] {
        let d = Duration::from_millis(d_ms);
        let reps = match (d_ms, cfg.quick) {
            (1, false) => 60,
            (10, false) => 30,
            (100, false) => 10,
            (1, true) => 20,
            (10, true) => 10,
            _ => 4,
        };
        // [join mt, check mt, join ct, check_async ct]; and task-end lag.
        let mut over: [Vec<f64>; 4] = Default::default();
        let mut after_end: [Vec<f64>; 2] = Default::default();
        // The task ends d after the body by blocking its worker: a
        // `tokio::time::sleep` would add the timer wheel's ~1 ms rounding
        // to every variant, the untracked ones included.
        let task = |end: Arc<AtomicU64>| async move {
            tokio::task::yield_now().await;
            std::thread::sleep(d);
            end.store(since(Instant::now()), Relaxed);
        };
        for i in 0..reps * 4 {
            let end = Arc::new(AtomicU64::new(0));
            // Rotate the order of the four variants.
            match (i + i / 4) % 4 {
                0 => {
                    let t0 = Instant::now();
                    let h = mt_u.spawn(task(end.clone()));
                    mt_u.block_on(h).unwrap();
                    over[0].push((t0.elapsed().as_nanos() as i128 - d.as_nanos() as i128) as f64);
                }
                1 => {
                    let guard = taskleak::verify_none();
                    let t0 = Instant::now();
                    drop(mt_t.spawn(task(end.clone())));
                    let r = guard.check();
                    let t1 = Instant::now();
                    assert!(r.is_ok());
                    over[1].push(((t1 - t0).as_nanos() as i128 - d.as_nanos() as i128) as f64);
                    after_end[0].push(since(t1) as f64 - end.load(Relaxed) as f64);
                }
                2 => {
                    let t0 = Instant::now();
                    ct_u.block_on(async {
                        let h = tokio::spawn(task(end.clone()));
                        h.await.unwrap();
                    });
                    over[2].push((t0.elapsed().as_nanos() as i128 - d.as_nanos() as i128) as f64);
                }
                _ => {
                    let guard = taskleak::verify_none();
                    let t0 = Instant::now();
                    let t1 = ct_t.block_on(async {
                        drop(tokio::spawn(task(end.clone())));
                        let r = guard.check_async().await;
                        assert!(r.is_ok());
                        Instant::now()
                    });
                    over[3].push(((t1 - t0).as_nanos() as i128 - d.as_nanos() as i128) as f64);
                    after_end[1].push(since(t1) as f64 - end.load(Relaxed) as f64);
                }
            }
        }
        let ok = |ns: f64| Some(ns <= 1_000_000.0);
        let (ju, ct, jcu, cat) = (
            median(&over[0]),
            median(&over[1]),
            median(&over[2]),
            median(&over[3]),
        );
        rep.row(
            format!("overshoot past d = {d_ms} ms: check(), multi_thread (untracked: JoinHandle)"),
            fmt_ns(ju),
            fmt_ns(ct),
            "",
            "≤ 1 ms",
            ok(ct),
        );
        rep.row(
            format!(
                "overshoot past d = {d_ms} ms: check_async(), current_thread (untracked: JoinHandle)"
            ),
            fmt_ns(jcu),
            fmt_ns(cat),
            "",
            "≤ 1 ms",
            ok(cat),
        );
        rep.note(format!(
            "overshoot d = {d_ms} ms ({reps} reps each): the check returned {} (check) / {} (check_async) \
             after the task's last statement (median); p90 overshoot check {} / check_async {}",
            fmt_ns(median(&after_end[0])),
            fmt_ns(median(&after_end[1])),
            fmt_ns(quantile(&over[1], 0.9)),
            fmt_ns(quantile(&over[3], 0.9)),
        ));
    }
}

/// 10^6 live tasks: memory per tracked task, and a 10^4-survivor report.
fn memory_and_scale_section(cfg: &Cfg, rep: &mut Report) {
    let total: usize = if cfg.quick { 200_000 } else { 1_000_000 };
    let survivors: usize = 10_000;

    // The first report of the process pays for loading debug info.
    eprintln!("[scale] first report of the process");
    let first = {
        let rt = current_thread(true);
        let guard = taskleak::Options::new().grace(Duration::ZERO).verify_none();
        drop(rt.spawn(std::future::pending::<()>()));
        let t0 = Instant::now();
        let leaks = guard.check().unwrap_err();
        let s = leaks.to_string();
        let took = t0.elapsed();
        black_box(s);
        took
    };

    // Memory: `fill` pending tasks on an undriven current-thread runtime,
    // spawned from another thread in its own scope, 20 calls deep (a test
    // body's spawn is about as deep; frames are capped anyway).
    //
    // The registry's shard maps grow during a fill and shrink once their
    // tasks end, so each tracked fill's count includes the maps' share.
    let fill = total - survivors;
    let depth = 20;
    let mut mem = Vec::new();
    let mut keep = None;
    for mode in [Mode::Untracked, Mode::Short, Mode::Full] {
        eprintln!("[memory] {fill} live tasks, {mode:?}");
        mode.enter();
        unsafe { malloc_trim(0) };
        let rt = current_thread(mode != Mode::Untracked);
        let rss0 = rss_bytes();
        COUNTING.store(true, Relaxed);
        let live0 = LIVE_BYTES.load(Relaxed);
        let took = park_tasks_in_other_scope(&rt, fill, depth);
        let live1 = LIVE_BYTES.load(Relaxed);
        COUNTING.store(false, Relaxed);
        let rss1 = rss_bytes();
        mem.push((
            (live1 - live0) as f64 / fill as f64,
            (rss1 - rss0) as f64 / fill as f64,
            took.as_nanos() as f64 / fill as f64,
        ));
        if mode == Mode::Full {
            keep = Some(rt);
        } else {
            let t0 = Instant::now();
            drop(rt);
            eprintln!("  runtime drop (terminates {fill}): {:?}", t0.elapsed());
        }
    }
    set_capture_frames(true);
    let (u, sh, fu) = (mem[0], mem[1], mem[2]);
    let per_short = sh.0 - u.0;
    let per_full = fu.0 - u.0;
    let frames = fu.0 - sh.0;
    rep.row(
        format!("heap per live task, {fill} live, short (counting allocator)"),
        format!("{:.0} B", u.0),
        format!("{:.0} B", sh.0),
        format!("+{per_short:.0} B"),
        "≤ 256 B",
        Some(per_short <= 256.0),
    );
    rep.row(
        format!("heap per live task, {fill} live, full (counting allocator)"),
        format!("{:.0} B", u.0),
        format!("{:.0} B", fu.0),
        format!(
            "+{per_full:.0} B = {:.0} + frames {frames:.0} B ({:.0} ips)",
            per_short,
            frames / 8.0
        ),
        "≤ 256 B + frames",
        Some(per_full - frames <= 256.0),
    );
    rep.note(format!(
        "memory: tracked bytes per task include the registry maps' share; spawns made {depth} calls deep on a std thread"
    ));
    rep.row(
        "RSS per live task, short / full",
        format!("{:.0} B", u.1),
        format!("{:.0} B / {:.0} B", sh.1, fu.1),
        format!("+{:.0} B / +{:.0} B", sh.1 - u.1, fu.1 - u.1),
        "",
        None,
    );
    rep.row(
        "spawn of a parked task from a std thread (fill rate), short / full",
        fmt_ns(u.2),
        format!("{} / {}", fmt_ns(sh.2), fmt_ns(fu.2)),
        format!("{:.2}x / {:.2}x", sh.2 / u.2, fu.2 / u.2),
        "",
        None,
    );

    // Scale: with `fill` tasks live (full frames), a scope of 10^4
    // survivors; check with no grace and render the report.
    let mut rows = Vec::new();
    for mode in [Mode::Full, Mode::Short] {
        mode.enter();
        let reps = if cfg.quick { 2 } else { 5 };
        let mut check_ns = Vec::new();
        let mut render_ns = Vec::new();
        let mut bytes = 0;
        for _ in 0..reps {
            eprintln!("[scale] {survivors} survivors among {total} live, {mode:?}");
            let rt = current_thread(true);
            let guard = taskleak::Options::new().grace(Duration::ZERO).verify_none();
            for _ in 0..survivors {
                drop(rt.spawn(std::future::pending::<()>()));
            }
            let t0 = Instant::now();
            let leaks = guard.check().unwrap_err();
            let t1 = Instant::now();
            assert_eq!(leaks.tasks().len(), survivors);
            let s = leaks.to_string();
            let t2 = Instant::now();
            bytes = s.len();
            check_ns.push((t1 - t0).as_nanos() as f64);
            render_ns.push((t2 - t1).as_nanos() as f64);
            drop(leaks);
            drop(rt);
        }
        rows.push((mode, median(&check_ns), median(&render_ns), bytes));
    }
    set_capture_frames(true);
    for (mode, c, r, bytes) in rows {
        let label = if mode == Mode::Full { "full" } else { "short" };
        rep.row(
            format!(
                "report of {survivors} survivors among {total} live tasks, {label} (check + Display)"
            ),
            "",
            format!("{} ({} + {})", fmt_ns(c + r), fmt_ns(c), fmt_ns(r)),
            "",
            "≤ 200 ms",
            Some(c + r <= 200e6),
        );
        rep.note(format!("scale {label}: report text {bytes} bytes"));
    }
    rep.row(
        "first report of the process (1 survivor, loads debug info)",
        "",
        fmt_ns(first.as_nanos() as f64),
        "",
        "",
        None,
    );
    if let Some(rt) = keep {
        let t0 = Instant::now();
        drop(rt);
        rep.note(format!(
            "dropping the runtime holding {fill} tracked tasks (terminate hooks) took {:?}",
            t0.elapsed()
        ));
    }
}

/// A synthetic suite: 200 tests, each spawning 50 tasks that finish,
/// in-process, as `#[leak_check]` and `#[tokio::test]` expand.
const TESTS: usize = 200;
const TASKS: usize = 50;

/// The body of every suite test: spawn 50 tasks that yield once and
/// finish; `join` decides whether the test awaits them.
async fn suite_body(join: bool) {
    let hs: Vec<_> = (0..TASKS)
        .map(|i| {
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                black_box(i)
            })
        })
        .collect();
    if join {
        for h in hs {
            h.await.unwrap();
        }
    }
}

/// One suite test as `#[leak_check]` (tracked) or `#[tokio::test]` expand.
fn suite_test(tracked: bool, join: bool) {
    use taskleak::__private::{Flavor, run_async};
    if tracked {
        let mut b = tokio::runtime::Builder::new_current_thread();
        b.enable_all();
        run_async(
            Flavor::CurrentThread,
            b,
            taskleak::Options::new(),
            suite_body(join),
        );
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("Failed building the Runtime")
            .block_on(suite_body(join));
    }
}

/// One test whose 50 tasks sleep 2 ms: under `#[leak_check]` with a file
/// rule and a path rule (the check waits for them), or under
/// `#[tokio::test]` awaiting them.
fn rules_test(tracked: bool) {
    use taskleak::__private::{Flavor, run_async};
    let sleepers = || -> Vec<tokio::task::JoinHandle<()>> {
        (0..TASKS)
            .map(|_| tokio::spawn(tokio::time::sleep(Duration::from_millis(2))))
            .collect()
    };
    if tracked {
        let mut b = tokio::runtime::Builder::new_current_thread();
        b.enable_all();
        let options = taskleak::Options::new()
            .ignore("overhead::nowhere")
            .ignore("src/nowhere.rs");
        run_async(Flavor::CurrentThread, b, options, async move {
            drop(sleepers());
        });
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("Failed building the Runtime")
            .block_on(async move {
                for h in sleepers() {
                    h.await.unwrap();
                }
            });
    }
}

/// A pool's reaper: a task that runs as long as the runtime, spawned
/// through a generic function, so that each test (its own instance, as a
/// pool of each test's connection type would be) spawns from other code
/// addresses. Ignored by a path rule, which needs those addresses' names.
mod reaper_pool {
    #[inline(never)] // a frame of its own, as a pool's constructor has
    pub fn spawn_reaper<T: 'static>() {
        drop(tokio::spawn(async {
            std::future::pending::<std::marker::PhantomData<T>>().await;
        }));
    }
}

/// Calls `spawn_reaper` with the `i % 20`th of 20 types.
fn spawn_reaper_instance(i: usize) {
    macro_rules! instances {
        ($($n:literal),*) => {
            match i % 20 {
                $($n => reaper_pool::spawn_reaper::<[u8; $n]>(),)*
                _ => unreachable!(),
            }
        };
    }
    instances!(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19
    );
}

/// One test that leaves a reaper running (the `i`th instance): under
/// `#[leak_check]` with a path rule ignoring it, or under
/// `#[tokio::test]`, whose runtime drops it.
fn reaper_test(tracked: bool, i: usize) {
    use taskleak::__private::{Flavor, run_async};
    if tracked {
        let mut b = tokio::runtime::Builder::new_current_thread();
        b.enable_all();
        let options = taskleak::Options::new().ignore("overhead::reaper_pool::spawn_reaper");
        run_async(Flavor::CurrentThread, b, options, async move {
            spawn_reaper_instance(i);
        });
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("Failed building the Runtime")
            .block_on(async move { spawn_reaper_instance(i) });
    }
}

fn suite_section(cfg: &Cfg, rep: &mut Report) {
    let suites = if cfg.quick { 3 } else { 9 };
    for (join, what) in [
        (true, "awaits its 50 tasks"),
        (false, "leaves its 50 tasks to finish"),
    ] {
        for mode in [Mode::Full, Mode::Short] {
            eprintln!("[suite] {TESTS} tests, each {what}, {mode:?}");
            mode.enter();
            // Per suite run: the two suites' tests interleaved one by one.
            let mut tot_u = Vec::new();
            let mut tot_t = Vec::new();
            for s in 0..suites {
                let (mut u, mut t) = (Duration::ZERO, Duration::ZERO);
                for i in 0..TESTS {
                    let tracked_first = (i + s) % 2 == 0;
                    for k in 0..2 {
                        let tracked = (k == 0) == tracked_first;
                        let t0 = Instant::now();
                        suite_test(tracked, join);
                        if tracked {
                            t += t0.elapsed();
                        } else {
                            u += t0.elapsed();
                        }
                    }
                }
                tot_u.push(u.as_nanos() as f64);
                tot_t.push(t.as_nanos() as f64);
            }
            let label = if mode == Mode::Full { "full" } else { "short" };
            let (u, t) = (median(&tot_u), median(&tot_t));
            rep.ratio_row(
                &format!("suite: {TESTS} tests × 50 tasks, each {what}, {label}"),
                u,
                t,
                Some(1.10),
            );
        }
    }
    // A passing test with a file rule and a path rule in force whose
    // tasks outlive the body by ~2 ms: the check waits and judges the
    // rules meanwhile, without looking up symbols. #[tokio::test]'s twin
    // awaits the same tasks.
    let lookups_before = taskleak::__private::symbol_lookups();
    for mode in [Mode::Full, Mode::Short] {
        eprintln!(
            "[suite] {TESTS} tests with file and path rules, tasks outliving the body, {mode:?}"
        );
        mode.enter();
        let mut tot_u = Vec::new();
        let mut tot_t = Vec::new();
        for s in 0..suites {
            let (mut u, mut t) = (Duration::ZERO, Duration::ZERO);
            for i in 0..TESTS {
                let tracked_first = (i + s) % 2 == 0;
                for k in 0..2 {
                    let tracked = (k == 0) == tracked_first;
                    let t0 = Instant::now();
                    rules_test(tracked);
                    if tracked {
                        t += t0.elapsed();
                    } else {
                        u += t0.elapsed();
                    }
                }
            }
            tot_u.push(u.as_nanos() as f64);
            tot_t.push(t.as_nanos() as f64);
        }
        let label = if mode == Mode::Full { "full" } else { "short" };
        rep.ratio_row(
            &format!("suite: {TESTS} passing tests with file + path rules, tasks outlive the body 2 ms, {label}"),
            median(&tot_u),
            median(&tot_t),
            Some(1.10),
        );
    }
    let rules_lookups = taskleak::__private::symbol_lookups() - lookups_before;
    // Tests that leave a reaper a path rule ignores, each its own generic
    // instance: the check must look up names to judge it. 20 instances,
    // each test once (the first of the process loads debug info).
    {
        Mode::Full.enter();
        eprintln!("[suite] 20 tests leaving a reaper a path rule ignores");
        let (mut u, mut t) = (Vec::new(), Vec::new());
        for i in 0..20 {
            for k in 0..2 {
                let tracked = (k == 0) == (i % 2 == 0);
                let t0 = Instant::now();
                reaper_test(tracked, i);
                let d = t0.elapsed().as_nanos() as f64;
                if tracked { t.push(d) } else { u.push(d) }
            }
        }
        rep.ratio_row(
            "suite: 20 passing tests, each leaving a reaper a path rule ignores (its own generic instance), median test",
            median(&u),
            median(&t),
            None,
        );
    }
    rep.note(format!(
        "suite with rules: symbol lookups during those {} checks: {}",
        2 * suites * TESTS,
        rules_lookups
    ));
    set_capture_frames(true);
    rep.note(format!(
        "suite: in-process, sequential (one thread): per test, #[tokio::test]'s expansion \
         (build current_thread runtime, block_on, drop) vs #[leak_check]'s (taskleak::__private::run_async); \
         tests interleaved one by one, medians of {suites} suite runs"
    ));
}

/// The suite as real test binaries: `benches/suite_tracked.rs`
/// (`#[leak_check]`) and `benches/suite_untracked.rs` (`#[tokio::test]`),
/// built by cargo, then run whole (process start, libtest, its test threads)
/// alternately; wall time per run.
fn cargo_suite_section(cfg: &Cfg, rep: &mut Report) {
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
    let run = |exe: &str, short: bool| -> Option<f64> { run_suite(exe, short, None) };
    let reps = if cfg.quick { 5 } else { 15 };
    let mut s: [Vec<f64>; 3] = Default::default();
    for r in 0..reps + 1 {
        for k in 0..3 {
            let i = (r + k) % 3;
            let v = match i {
                0 => run(&untracked, false),
                1 => run(&tracked, false),
                _ => run(&tracked, true),
            };
            let Some(v) = v else {
                rep.note("cargo-suite: a suite run failed (see stderr)");
                return;
            };
            if r > 0 {
                s[i].push(v);
            }
        }
    }
    let (u, f, sh) = (median(&s[0]), median(&s[1]), median(&s[2]));
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
        let mut s: [Vec<f64>; 3] = Default::default();
        for r in 0..reps + 1 {
            for k in 0..3 {
                let i = (r + k) % 3;
                let v = match i {
                    0 => run_suite(u_exe, false, tests),
                    1 => run_suite(t_exe, false, tests),
                    _ => run_suite(t_exe, true, tests),
                };
                let Some(v) = v else {
                    rep.note("cargo-suite: a suite run failed (see stderr)");
                    return;
                };
                if r > 0 {
                    s[i].push(v);
                }
            }
        }
        let (u, f, sh) = (median(&s[0]), median(&s[1]), median(&s[2]));
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

// ---------------------------------------------------------------------------

/// For `perf record`: loop one variant of the spawn benchmark for a while.
/// `profile-{untracked,empty-hooks,short,full}[-task] [seconds]`; `-task`
/// spawns from inside a task instead of the `block_on` root.
fn profile_loop(what: &str, secs: f64) {
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

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench" && !a.starts_with("--test-threads"))
        .collect();
    let quick = args.iter().any(|a| a == "--quick");
    let debug = cfg!(debug_assertions);
    let cfg = Cfg { quick, debug };
    let sections: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(p) = sections.iter().find(|s| s.starts_with("profile-")) {
        let secs = sections
            .iter()
            .find_map(|s| s.parse::<f64>().ok())
            .unwrap_or(10.0);
        profile_loop(p, secs);
        return;
    }
    let all = sections.is_empty();
    let want = |s: &str| all || sections.contains(&s);

    let mut rep = Report::default();
    let started = Instant::now();
    if want("spawn") {
        spawn_section(&cfg, &mut rep);
    }
    if want("contention") {
        contention_section(&cfg, &mut rep);
    }
    if want("batch") {
        batch_section(&cfg, &mut rep);
    }
    if want("check") {
        check_section(&cfg, &mut rep);
    }
    if want("overshoot") {
        overshoot_section(&cfg, &mut rep);
    }
    if want("memory") || want("scale") {
        memory_and_scale_section(&cfg, &mut rep);
    }
    if want("suite") {
        suite_section(&cfg, &mut rep);
    }
    if want("cargo-suite") {
        cargo_suite_section(&cfg, &mut rep);
    }
    let header = format!(
        "taskleak overhead — {} build, {} CPUs, {}; took {:.0} s",
        if debug {
            "debug (dev profile)"
        } else {
            "release (bench profile)"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if quick { "--quick" } else { "full budgets" },
        started.elapsed().as_secs_f64(),
    );
    rep.print(&header);
}
