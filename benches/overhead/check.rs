//! `check`: what `check()` costs on a clean scope.

use std::time::Instant;

use crate::harness::{Cfg, Report, fmt_ns, median, multi_thread, park_tasks_in_other_scope};

/// `check()` on a scope whose tasks are all done.
pub fn check_section(cfg: &Cfg, rep: &mut Report) {
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
    for (live, m) in [
        ("0 tasks live elsewhere", zero),
        ("10^5 tasks live in another scope", many),
    ] {
        rep.row(
            format!("check() clean scope, {live} (verify_none+check)"),
            "",
            format!("{} ({})", fmt_ns(m.0), fmt_ns(m.1)),
            "",
            "≤ 5 µs",
            Some(m.0 <= 5_000.0),
        );
    }
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
