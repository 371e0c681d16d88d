//! `contention`: two workers of a multi-thread runtime spawning at once.

use tokio::runtime::Runtime;

use crate::harness::{
    Cfg, Mode, Report, interleave, median, multi_thread, on_two_workers, two_workers,
};

/// Two workers of a multi-thread runtime spawning at once.
pub fn contention_section(cfg: &Cfg, rep: &mut Report) {
    eprintln!("[contention] 2 workers, each spawn + await in a loop");
    let rt_u = multi_thread(false, 2);
    let rt_t = multi_thread(true, 2);
    let n = if cfg.debug { 300 } else { 2000 };
    let _guard = taskleak::verify_none();

    // Each of two driver tasks (one per worker, usually) spawns and awaits
    // `n` empty tasks; time per spawn over both.
    let serial = |rt: &Runtime| -> f64 {
        let total = on_two_workers!(rt, {
            for _ in 0..n {
                tokio::spawn(async {}).await.unwrap();
            }
        });
        total.as_nanos() as f64 / (2 * n) as f64
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
