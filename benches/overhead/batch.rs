//! `batch`: the pattern of real tests, many tasks spawned then awaited.

use std::time::Instant;

use tokio::runtime::Runtime;

use crate::harness::{
    Cfg, Mode, Report, current_thread, current_thread_empty_hooks, interleave, median,
    multi_thread, paired, ratio_quantile, two_workers,
};

/// The pattern of real tests: 500 tasks spawned from the body, then all
/// awaited (tokio's batch of spawns weighs less per task than one spawn +
/// await, so the same hook cost shows more).
pub fn batch_section(cfg: &Cfg, rep: &mut Report) {
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
    let modes = [
        Mode::Untracked,
        Mode::EmptyHooks,
        Mode::Short,
        Mode::Full,
        Mode::FullOutside,
    ];
    let s = interleave(&modes, cfg.budget(10.0), 15, |m| match m {
        Mode::Untracked => batch(&rt_u),
        Mode::EmptyHooks => batch(&rt_e),
        _ => batch(&rt_t),
    });
    let (u, e, sh, fu) = (median(&s[0]), median(&s[1]), median(&s[2]), median(&s[3]));
    rep.ratio_row("batch: 500 spawned then awaited, short", u, sh, Some(1.15));
    rep.ratio_row("batch: 500 spawned then awaited, full", u, fu, Some(1.5));
    rep.ratio_row(
        "batch: 500 spawned then awaited, full, walking only spawns outside the workspace",
        u,
        median(&s[4]),
        Some(1.5),
    );
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
    let modes = [Mode::Untracked, Mode::Short, Mode::Full, Mode::FullOutside];
    let s = interleave(&modes, cfg.budget(10.0), 15, |m| match m {
        Mode::Untracked => two(&rt_u),
        _ => two(&rt_t),
    });
    let (u, sh, fu) = (median(&s[0]), median(&s[1]), median(&s[2]));
    rep.ratio_row("batch, 2 workers spawning, short", u, sh, Some(2.0));
    rep.ratio_row("batch, 2 workers spawning, full", u, fu, Some(2.0));
    rep.ratio_row(
        "batch, 2 workers spawning, full, walking only spawns outside the workspace",
        u,
        median(&s[3]),
        Some(2.0),
    );
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
