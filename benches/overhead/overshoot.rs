//! `overshoot`: how long after its last task ends a check returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::harness::{Cfg, Report, current_thread, fmt_ns, median, multi_thread, quantile};

/// A task that ends `d` after the body: when does the check return?
pub fn overshoot_section(cfg: &Cfg, rep: &mut Report) {
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
