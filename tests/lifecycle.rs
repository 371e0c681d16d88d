//! When a task counts as ended, and how long a check waits for it.

mod common;

use std::time::{Duration, Instant};

use common::{current_thread, forever, multi_thread, quick};
use tokio::task::JoinSet;

#[test]
fn a_clean_scope_passes() {
    for rt in [current_thread(), multi_thread()] {
        let guard = taskleak::verify_none();
        rt.block_on(async {
            let handles: Vec<_> = (0..10)
                .map(|i| tokio::spawn(async move { i * 2 }))
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        guard.check().unwrap();
    }
}

#[test]
fn a_clean_check_does_not_wait_for_the_grace_period() {
    let rt = multi_thread();
    let guard = taskleak::Options::new()
        .grace(Duration::from_secs(10))
        .verify_none();
    // Joined right before the check: on a multi-thread runtime the join can
    // return before the terminate hook ran, so the check must still pass.
    rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
    let start = Instant::now();
    guard.check().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    let guard = taskleak::Options::new()
        .grace(Duration::from_secs(10))
        .verify_none();
    rt.block_on(async {
        tokio::spawn(async {}).await.unwrap();
        let start = Instant::now();
        guard.check_async().await.unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    });
}

#[test]
fn a_task_ending_50ms_after_the_body_passes_with_the_default_grace() {
    for rt in [current_thread(), multi_thread()] {
        let guard = taskleak::verify_none();
        rt.block_on(async {
            tokio::spawn(tokio::time::sleep(Duration::from_millis(50)));
            // check_async yields, so even a current-thread runtime keeps
            // running the sleeping task while the check waits.
            guard.check_async().await.unwrap();
        });
    }
}

#[test]
fn a_blocking_check_waits_for_tasks_on_other_threads() {
    let rt = multi_thread();
    let guard = taskleak::verify_none();
    rt.spawn(async { tokio::time::sleep(Duration::from_millis(50)).await });
    guard.check().unwrap();
}

#[test]
fn a_task_ending_after_the_grace_period_is_reported() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    rt.spawn(async { tokio::time::sleep(Duration::from_secs(5)).await });
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1);
    assert!(leaks.tasks()[0].age() >= Duration::from_millis(50));
}

#[test]
fn aborted_tasks_count_as_ended() {
    for rt in [current_thread(), multi_thread()] {
        let guard = quick().verify_none();
        rt.block_on(async {
            let polled = tokio::spawn(forever());
            tokio::task::yield_now().await;
            polled.abort();
            // Aborted before its first poll.
            tokio::spawn(forever()).abort();
            let mut set = JoinSet::new();
            set.spawn(forever());
            set.abort_all();
            guard.check_async().await.unwrap();
        });
    }
}

#[test]
fn panicked_tasks_count_as_ended() {
    for rt in [current_thread(), multi_thread()] {
        let guard = quick().verify_none();
        rt.block_on(async {
            let h = tokio::spawn(async { panic!("task panics on purpose") });
            assert!(h.await.unwrap_err().is_panic());
            guard.check_async().await.unwrap();
        });
    }
}

#[test]
fn tasks_cancelled_by_runtime_shutdown_count_as_ended() {
    for rt in [current_thread(), multi_thread()] {
        let guard = quick().verify_none();
        rt.block_on(async {
            tokio::spawn(forever());
        });
        drop(rt);
        guard.check().unwrap();
    }
}

#[test]
fn a_spawn_on_a_shut_down_runtime_is_not_recorded_as_alive() {
    // tokio runs the terminate hook before the spawn hook here.
    let rt = multi_thread();
    let handle = rt.handle().clone();
    rt.shutdown_background();
    let guard = quick().verify_none();
    drop(handle.spawn(forever()));
    guard.check().unwrap();
}

#[test]
fn tasks_spawned_in_every_way_are_tracked() {
    for (flavor, rt) in [
        ("current_thread", current_thread()),
        ("multi_thread", multi_thread()),
    ] {
        let guard = quick().verify_none();
        let handle = rt.handle().clone();
        let lines = rt.block_on(async move {
            let from_block_on = line!() + 1;
            tokio::spawn(forever());
            let from_task = line!() + 2;
            tokio::spawn(async {
                tokio::spawn(forever());
            })
            .await
            .unwrap();
            let mut set = JoinSet::new();
            let from_join_set = line!() + 1;
            set.spawn(forever());
            let from_handle = line!() + 1;
            handle.spawn(forever());
            std::mem::forget(set); // dropping a JoinSet would abort its tasks
            vec![from_block_on, from_task, from_join_set, from_handle]
        });
        let leaks = guard.check().unwrap_err();
        let mut found: Vec<u32> = leaks
            .tasks()
            .iter()
            .map(|t| t.spawned_at().line())
            .collect();
        found.sort();
        assert_eq!(found, lines, "{flavor}: {leaks}");
    }
}

#[test]
fn handle_spawn_from_the_test_thread_is_tracked_outside_block_on() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    let line = line!() + 1;
    rt.handle().spawn(forever());
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks()[0].spawned_at().line(), line);
}

#[test]
fn dropping_an_unchecked_guard_panics_with_the_report() {
    let rt = multi_thread();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = quick().verify_none();
        rt.spawn(forever());
    }));
    let payload = caught.unwrap_err();
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(message.starts_with("taskleak: test "), "{message}");
    assert!(
        message.contains(&format!("spawned at {}:", file!())),
        "{message}"
    );
}

/// A check that blocks its thread (a dropped guard, `check()`) keeps a
/// current-thread runtime from running, inside its `block_on` or after it
/// returned: the tasks it waits for cannot end. The report says that the
/// check blocked the runtime and what to call instead, and gives no timer
/// hint (no grace would help).
#[test]
fn a_check_that_blocks_the_runtime_its_tasks_need_says_so() {
    let note = "the check blocked the thread these tasks' runtime runs on";
    let instead = "`guard.check_async().await`";
    let short = || async {
        tokio::spawn(tokio::time::sleep(Duration::from_millis(20)));
        tokio::task::yield_now().await; // polled once: waits on its timer
    };
    let rt = current_thread();
    // Dropped inside the runtime, in async code.
    let inside = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let _guard = quick().verify_none();
            short().await;
        })
    }));
    // Dropped after block_on returned: nothing drives the runtime.
    let after = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = quick().verify_none();
        rt.block_on(short());
    }));
    // A blocking check() after block_on returned.
    let guard = quick().verify_none();
    rt.block_on(short());
    let checked = guard.check().unwrap_err().to_string();
    for report in [inside, after]
        .into_iter()
        .map(|r| r.unwrap_err().downcast::<String>().unwrap())
        .chain([Box::new(checked)])
    {
        assert!(report.contains("leaked 1 task"), "{report}");
        assert!(
            report.contains(note) && report.contains(instead),
            "{report}"
        );
        assert!(!report.contains("raise it"), "{report}");
    }
}

#[test]
fn a_guard_dropped_while_panicking_does_not_abort() {
    let rt = multi_thread();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = quick().verify_none();
        rt.spawn(forever());
        panic!("the test's own failure");
    }));
    // Still alive: no double panic. The test's own message is the panic.
    let payload = caught.unwrap_err();
    assert_eq!(
        *payload.downcast_ref::<&str>().unwrap(),
        "the test's own failure"
    );
}

/// tokio wakes a `JoinHandle` before it runs the terminate hook, so with no
/// grace at all a check right after the join can find the task still in
/// its completing poll. It completed: never a leak.
#[test]
fn a_completed_task_is_never_a_leak_even_with_zero_grace() {
    let rt = multi_thread();
    let zero = || taskleak::Options::new().grace(Duration::ZERO).verify_none();
    for _ in 0..1500 {
        rt.block_on(async {
            let guard = zero();
            tokio::spawn(async {}).await.unwrap();
            guard.check_async().await.unwrap();
        });
        let guard = zero();
        rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
        guard.check().unwrap();
    }
}

#[taskleak::leak_check(grace = "0ms", flavor = "multi_thread", worker_threads = 2)]
async fn leak_check_with_zero_grace_passes_awaited_tasks() {
    for _ in 0..200 {
        tokio::spawn(async {}).await.unwrap();
    }
    tokio::spawn(async {}).await.unwrap();
}

#[test]
fn a_grace_too_long_to_add_to_now_means_as_long_as_it_takes() {
    let rt = multi_thread();
    // A clean check returns at once...
    let guard = taskleak::Options::new().grace(Duration::MAX).verify_none();
    rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
    guard.check().unwrap();
    // ...and one with a task still running waits for it, without panicking.
    let guard = taskleak::Options::new().grace(Duration::MAX).verify_none();
    rt.spawn(async { tokio::time::sleep(Duration::from_millis(30)).await });
    guard.check().unwrap();
    rt.block_on(async {
        let guard = taskleak::Options::new().grace(Duration::MAX).verify_none();
        tokio::spawn(tokio::time::sleep(Duration::from_millis(30)));
        guard.check_async().await.unwrap();
    });
}

/// A task still inside its last poll when the grace period ends, which
/// then completes: its future completed, so it is never a leak, however
/// long that poll takes (up to the check's safety bound of 5 s).
#[test]
fn a_task_whose_last_poll_outlasts_the_grace_period_is_not_a_leak() {
    let rt = multi_thread();
    let grace = || {
        taskleak::Options::new()
            .grace(Duration::from_millis(100))
            .verify_none()
    };
    let guard = grace();
    rt.spawn(async { std::thread::sleep(Duration::from_millis(300)) });
    guard.check().unwrap();
    rt.block_on(async {
        let guard = grace();
        tokio::spawn(async { std::thread::sleep(Duration::from_millis(300)) });
        guard.check_async().await.unwrap();
    });
}

/// Aborted while inside a long poll: it ends when that poll returns.
#[test]
fn a_task_aborted_during_a_long_poll_is_not_a_leak() {
    let rt = multi_thread();
    let long_poll_then_forever = || async {
        std::thread::sleep(Duration::from_millis(300));
        forever().await
    };
    let guard = taskleak::Options::new()
        .grace(Duration::from_millis(100))
        .verify_none();
    let task = rt.spawn(long_poll_then_forever());
    std::thread::sleep(Duration::from_millis(20)); // inside its poll
    task.abort();
    guard.check().unwrap();
    rt.block_on(async {
        let guard = taskleak::Options::new()
            .grace(Duration::from_millis(100))
            .verify_none();
        let task = tokio::spawn(long_poll_then_forever());
        tokio::time::sleep(Duration::from_millis(20)).await;
        task.abort();
        guard.check_async().await.unwrap();
    });
}

/// A task that cannot run because its runtime is starved (here: its only
/// worker is held by another test's task for 400 ms) is not a leak: the
/// check's grace period starts again while the runtime is starved.
#[test]
fn a_task_its_starved_runtime_cannot_run_yet_is_not_a_leak() {
    use taskleak::BuilderExt;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .track_tasks()
        .build()
        .unwrap();
    // Not this check's: spawned before its scope opened.
    rt.spawn(async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        std::thread::sleep(Duration::from_millis(400)); // holds the worker
    });
    rt.block_on(async {
        let guard = taskleak::Options::new()
            .grace(Duration::from_millis(100))
            .verify_none();
        tokio::spawn(tokio::time::sleep(Duration::from_millis(50)));
        let start = Instant::now();
        guard.check_async().await.unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    });
}
