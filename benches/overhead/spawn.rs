//! `spawn`: spawn + await of an empty task, from the `block_on` root and
//! from inside a task.

use std::time::Instant;

use tokio::runtime::Runtime;

use crate::harness::{
    Cfg, Mode, Report, current_thread, current_thread_empty_hooks, fmt_ns, interleave, median,
    paired, quantile,
};

/// Spawn + await of an empty task, on a current-thread runtime (the
/// `#[tokio::test]` default), from the `block_on` root inside an open scope.
pub fn spawn_section(cfg: &Cfg, rep: &mut Report) {
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
        _ => batch(&rt_t),
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
