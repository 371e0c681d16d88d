//! `suite`: a synthetic suite of tests run in-process, tracked and
//! untracked interleaved one by one.

use std::hint::black_box;
use std::time::{Duration, Instant};

use taskleak::__private::set_capture_frames;

use crate::harness::{Cfg, Mode, Report, median};

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
pub fn suite_test(tracked: bool, join: bool) {
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
        let options =
            taskleak::Options::new().ignore(concat!(module_path!(), "::reaper_pool::spawn_reaper"));
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

/// `$suites` runs of a suite of `TESTS` tests, each test run once
/// untracked and once tracked (`$test` with `$tracked` false, then true, or
/// the other way round, alternating by test and by run): the total ns of
/// each run's untracked tests and of its tracked ones.
///
/// A macro, not a function taking a closure, so that each test runs from
/// `suite_section`'s own frame as before: in full mode every spawn walks
/// the stack up to `main`, and an unoptimised build would walk a helper's
/// and a closure's frames too.
macro_rules! interleaved_runs {
    ($suites:expr, |$tracked:ident| $test:expr) => {{
        let mut tot_u = Vec::new();
        let mut tot_t = Vec::new();
        for s in 0..$suites {
            let (mut u, mut t) = (Duration::ZERO, Duration::ZERO);
            for i in 0..TESTS {
                let tracked_first = (i + s) % 2 == 0;
                for k in 0..2 {
                    let $tracked = (k == 0) == tracked_first;
                    let t0 = Instant::now();
                    $test;
                    if $tracked {
                        t += t0.elapsed();
                    } else {
                        u += t0.elapsed();
                    }
                }
            }
            tot_u.push(u.as_nanos() as f64);
            tot_t.push(t.as_nanos() as f64);
        }
        (tot_u, tot_t)
    }};
}

pub fn suite_section(cfg: &Cfg, rep: &mut Report) {
    let suites = if cfg.quick { 3 } else { 9 };
    for (join, what) in [
        (true, "awaits its 50 tasks"),
        (false, "leaves its 50 tasks to finish"),
    ] {
        for mode in [Mode::Full, Mode::Short] {
            eprintln!("[suite] {TESTS} tests, each {what}, {mode:?}");
            mode.enter();
            // Per suite run: the two suites' tests interleaved one by one.
            let (tot_u, tot_t) = interleaved_runs!(suites, |tracked| suite_test(tracked, join));
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
        let (tot_u, tot_t) = interleaved_runs!(suites, |tracked| rules_test(tracked));
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
