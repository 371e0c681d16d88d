//! Each check sees only its own tasks, even with tests running in parallel.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{forever, multi_thread, quick};

#[test]
fn two_scopes_on_two_threads_report_only_their_own_tasks() {
    // One runtime shared by both threads, both spawning at the same time.
    let rt = Arc::new(multi_thread());
    let barrier = Arc::new(Barrier::new(2));

    let leaky = {
        let (rt, barrier) = (rt.clone(), barrier.clone());
        std::thread::Builder::new()
            .name("leaky_test".into())
            .spawn(move || {
                let guard = quick().verify_none();
                barrier.wait();
                let line = line!() + 3;
                rt.block_on(async {
                    for _ in 0..50 {
                        tokio::spawn(async { forever().await });
                        tokio::task::yield_now().await;
                    }
                });
                (guard.check(), line)
            })
            .unwrap()
    };
    let clean = {
        let (rt, barrier) = (rt.clone(), barrier.clone());
        std::thread::Builder::new()
            .name("clean_test".into())
            .spawn(move || {
                let guard = quick().verify_none();
                barrier.wait();
                rt.block_on(async {
                    for _ in 0..50 {
                        tokio::spawn(async { tokio::task::yield_now().await })
                            .await
                            .unwrap();
                    }
                });
                guard.check()
            })
            .unwrap()
    };

    clean.join().unwrap().unwrap();
    let (leaks, line) = leaky.join().unwrap();
    let leaks = leaks.unwrap_err();
    assert_eq!(leaks.tasks().len(), 50, "{leaks}");
    assert!(leaks.tasks().iter().all(|t| t.spawned_at().line() == line));
    assert_eq!(leaks.test(), Some("leaky_test"));
}

#[test]
fn tasks_spawned_by_a_leaked_task_after_the_check_started_stay_in_its_scope() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    rt.spawn(async {
        loop {
            tokio::spawn(forever());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let leaks = guard.check().unwrap_err();
    assert!(leaks.tasks().len() > 2, "{leaks}");
    let root = leaks.tasks()[0].id();
    assert!(leaks.tasks()[1..].iter().all(|t| t.parent() == Some(root)));

    // A later scope on this thread does not inherit them.
    let guard = quick().verify_none();
    guard.check().unwrap();
}

#[test]
fn tasks_spawned_before_the_guard_are_not_the_tests() {
    let rt = multi_thread();
    rt.spawn(forever());
    let guard = quick().verify_none();
    guard.check().unwrap();
}

#[test]
fn an_outer_scope_sees_what_an_inner_one_let_go() {
    let rt = multi_thread();
    let outer = quick().verify_none();
    let inner = quick().verify_none();
    rt.spawn(forever());
    let inner_leaks = inner.check().unwrap_err();
    assert_eq!(inner_leaks.tasks().len(), 1);
    let outer_leaks = outer.check().unwrap_err();
    assert_eq!(outer_leaks.tasks()[0].id(), inner_leaks.tasks()[0].id());
}

#[test]
fn many_parallel_scopes_stay_exact() {
    let rt = Arc::new(multi_thread());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let rt = rt.clone();
            std::thread::spawn(move || {
                let guard = quick().verify_none();
                rt.block_on(async {
                    for _ in 0..i {
                        tokio::spawn(forever());
                    }
                    for _ in 0..100 {
                        tokio::spawn(async {}).await.unwrap();
                    }
                });
                (i, guard.check().map_err(|l| l.tasks().len()))
            })
        })
        .collect();
    for t in threads {
        let (i, result) = t.join().unwrap();
        match result {
            Ok(()) => assert_eq!(i, 0),
            Err(n) => assert_eq!(n, i),
        }
    }
}

/// A guard created inside `block_on` probes its runtime once (is it
/// tracked?) with a task of taskleak's own, while an outer scope is open on
/// the thread: that task is never the outer check's.
#[test]
fn taskleaks_own_probe_is_never_blamed() {
    let rt = common::current_thread(); // not probed yet
    let outer = quick().verify_none();
    rt.block_on(async {
        let inner = taskleak::verify_none();
        inner.check_async().await.unwrap();
    });
    outer.check().unwrap();
}

static STATIC_RT: std::sync::LazyLock<tokio::runtime::Runtime> =
    std::sync::LazyLock::new(common::current_thread);

#[taskleak::leak_check(grace = "50ms")]
fn a_plain_fn_check_around_an_inner_check_on_a_static_runtime() {
    STATIC_RT.block_on(async {
        taskleak::verify_none().check_async().await.unwrap();
    });
}
