//! `clean`: one clean `#[leak_check]` test against one `#[tokio::test]`,
//! each as its macro expands (runtime built, body run, runtime dropped),
//! in one process: what a passing test of a small fast suite pays.

use std::time::Instant;

use taskleak::__private::{Flavor, run_async};
use tokio::runtime::Builder;

use crate::harness::{Cfg, Mode, Report, fmt_ns, interleave, median, paired};

/// The body of a small test: a few tasks spawned and awaited.
async fn body(tasks: usize) {
    let hs: Vec<_> = (0..tasks).map(|_| tokio::spawn(async {})).collect();
    for h in hs {
        h.await.unwrap();
    }
}

/// `#[tokio::test]`'s expansion.
fn plain(tasks: usize) {
    let mut b = Builder::new_current_thread();
    b.enable_all();
    b.build().unwrap().block_on(body(tasks));
}

/// `#[taskleak::leak_check]`'s expansion.
fn checked(tasks: usize) {
    let mut b = Builder::new_current_thread();
    b.enable_all();
    run_async(
        Flavor::CurrentThread,
        b,
        taskleak::Options::new(),
        body(tasks),
    );
}

pub fn clean_section(cfg: &Cfg, rep: &mut Report) {
    for tasks in [0, 5] {
        eprintln!("[clean] a clean test, {tasks} tasks: #[leak_check] vs #[tokio::test]");
        let reps = 20;
        let modes = [Mode::Untracked, Mode::Full];
        let s = interleave(&modes, cfg.budget(6.0), 15, |m| {
            let t0 = Instant::now();
            for _ in 0..reps {
                match m {
                    Mode::Untracked => plain(tasks),
                    _ => checked(tasks),
                }
            }
            t0.elapsed().as_nanos() as f64 / reps as f64
        });
        let (u, t) = (median(&s[0]), median(&s[1]));
        rep.ratio_row(
            &format!("a clean test, current_thread, {tasks} tasks spawned and awaited"),
            u,
            t,
            None,
        );
        rep.note(format!(
            "clean ({tasks} tasks): {} rounds; paired ratio {:.2}x; +{} a test",
            s[0].len(),
            paired(&s[1], &s[0]),
            fmt_ns(t - u),
        ));
    }
}
