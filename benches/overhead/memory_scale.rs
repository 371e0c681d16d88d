//! `memory` and `scale` (run together): heap per live tracked task among
//! 10^6, and a report of 10^4 survivors among them.

use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use taskleak::__private::set_capture_frames;

use crate::harness::{
    COUNTING, Cfg, LIVE_BYTES, Mode, Report, current_thread, fmt_ns, malloc_trim, median,
    park_tasks_in_other_scope, rss_bytes,
};

/// 10^6 live tasks: memory per tracked task, and a 10^4-survivor report.
pub fn memory_and_scale_section(cfg: &Cfg, rep: &mut Report) {
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
