//! The user's own runtime hooks beside taskleak's: set after
//! `track_tasks()` they run, and tasks stay tracked; set before, a thread
//! hook is refused with advice (tokio cannot give it back); replaced
//! through tokio's builder anyway, every check fails saying tracking was
//! switched off, never passes blind.
//!
//! Task hooks need `--cfg tokio_unstable`, as tokio's do.
#![cfg(taskleak_hooks)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use common::{forever, quick};
use taskleak::BuilderExt;
use tokio::runtime::Builder;

fn counter() -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    (n.clone(), n)
}

/// Waits (bounded) until `n` is at least `at_least`.
fn reaches(n: &AtomicUsize, at_least: usize) -> bool {
    for _ in 0..500 {
        if n.load(Relaxed) >= at_least {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn task_hooks_set_after_track_tasks_run_and_tasks_stay_tracked() {
    let (spawned, s) = counter();
    let (polled, p) = counter();
    let (after, a) = counter();
    let (ended, e) = counter();
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .track_tasks()
        .on_task_spawn(move |_| {
            s.fetch_add(1, Relaxed);
        })
        .on_before_task_poll(move |_| {
            p.fetch_add(1, Relaxed);
        })
        .on_after_task_poll(move |_| {
            a.fetch_add(1, Relaxed);
        })
        .on_task_terminate(move |_| {
            e.fetch_add(1, Relaxed);
        })
        .build()
        .unwrap();
    let guard = quick().verify_none();
    let line = line!() + 1;
    rt.spawn(forever());
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    assert_eq!(leaks.tasks()[0].spawned_at().line(), line);
    assert!(spawned.load(Relaxed) >= 1);
    assert!(reaches(&polled, 1) && reaches(&after, 1));

    // Its clean twin: a task that ends, seen ending by both hooks.
    let before = ended.load(Relaxed);
    let guard = quick().verify_none();
    rt.block_on(rt.spawn(async {})).unwrap();
    guard.check().unwrap();
    assert!(reaches(&ended, before + 1));
}

/// Thread hooks set after `track_tasks()` run, and so do taskleak's: a
/// blocking-pool thread the runtime starts during a check is the
/// runtime's, not a thread the test leaked. Run alone (a child process):
/// the OS thread listing is process-wide.
#[test]
#[ignore = "fixture"]
fn fixture_thread_hooks_set_after_track_tasks() {
    let (started, s) = counter();
    let (stopped, t) = counter();
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .track_tasks()
        .on_thread_start(move || {
            s.fetch_add(1, Relaxed);
        })
        .on_thread_stop(move || {
            t.fetch_add(1, Relaxed);
        })
        .build()
        .unwrap();
    assert!(reaches(&started, 2), "the user's on_thread_start never ran");
    let guard = quick().threads().verify_none();
    // A new blocking-pool thread, idle for 10 s after its closure.
    rt.block_on(rt.spawn_blocking(|| {})).unwrap();
    if let Err(leaks) = guard.check() {
        panic!("taskleak's on_thread_start did not run: {leaks}");
    }
    assert!(reaches(&started, 3));
    drop(rt);
    assert!(reaches(&stopped, 3), "the user's on_thread_stop never ran");
}

#[test]
fn thread_hooks_set_after_track_tasks_run_beside_taskleaks() {
    let (out, text) = common::run_fixture("fixture_thread_hooks_set_after_track_tasks", &[]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

#[test]
fn hooks_set_through_a_binding_of_the_tracked_builder_compose_too() {
    let (spawned, s) = counter();
    let mut builder = Builder::new_current_thread();
    let mut tracked = builder.enable_all().track_tasks();
    tracked.on_task_spawn(move |_| {
        s.fetch_add(1, Relaxed);
    });
    drop(tracked);
    let rt = builder.build().unwrap();
    let guard = quick().verify_none();
    rt.spawn(forever());
    assert_eq!(guard.check().unwrap_err().tasks().len(), 1);
    assert_eq!(spawned.load(Relaxed), 1);
}

#[test]
#[should_panic(expected = "Set it after track_tasks(), which runs both")]
fn a_thread_hook_set_before_track_tasks_is_refused_with_advice() {
    let (_started, s) = counter();
    let _ = Builder::new_multi_thread()
        .on_thread_start(move || {
            s.fetch_add(1, Relaxed);
        })
        .track_tasks();
}

#[test]
#[should_panic(expected = "Set it after track_tasks(), which runs both")]
fn a_thread_stop_hook_set_before_track_tasks_is_refused_with_advice() {
    let _ = Builder::new_current_thread()
        .on_thread_stop(|| {})
        .track_tasks();
}

// ------------------------------------------- hooks replaced through tokio

/// The panic of a check that must fail because tracking was switched
/// off: says so, naming the hook and where `track_tasks()` was called.
fn assert_switched_off<T: std::fmt::Debug>(verdict: std::thread::Result<T>) {
    let payload = verdict.expect_err("a check passed blind");
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    for needle in [
        "taskleak: tracking was switched off on the tokio runtime",
        "set up with track_tasks() at tests/runtime_hooks.rs:",
        "its on_task_spawn hook was set through tokio's Builder after track_tasks()",
        ".track_tasks().on_task_spawn(f)",
    ] {
        assert!(text.contains(needle), "{needle:?} not in: {text}");
    }
}

/// `on_task_spawn` set on the plain builder that `enable_all()` returned
/// after `track_tasks()`: tokio replaces taskleak's. Every check fails.
#[test]
#[ignore = "fixture"]
fn fixture_spawn_hook_replaced_in_the_chain() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .track_tasks()
        .enable_all() // the plain tokio builder from here on
        .on_task_spawn(|_| {})
        .build()
        .unwrap();
    assert_switched_off(std::panic::catch_unwind(|| {
        let guard = quick().verify_none();
        rt.spawn(forever());
        guard.check()
    }));
    assert_switched_off(std::panic::catch_unwind(|| quick().verify_none().check()));
}

/// The same, set on a builder binding after `track_tasks()`: found by the
/// poll hook (taskleak's spawn hook never ran on that runtime).
#[test]
#[ignore = "fixture"]
fn fixture_spawn_hook_replaced_on_a_binding() {
    let mut builder = Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    builder.track_tasks();
    builder.on_task_spawn(|_| {});
    let rt = builder.build().unwrap();
    let guard = quick().verify_none();
    let (polled, done) = std::sync::mpsc::channel();
    rt.spawn(async move {
        let _ = polled.send(());
        forever().await
    });
    done.recv().unwrap(); // polled
    assert_switched_off(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        move || guard.check(),
    )));
}

fn run_alone(fixture: &str) {
    let (out, text) = common::run_fixture(fixture, &[]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

#[test]
fn a_spawn_hook_replaced_in_the_builder_chain_fails_every_check() {
    run_alone("fixture_spawn_hook_replaced_in_the_chain");
}

#[test]
fn a_spawn_hook_replaced_on_a_builder_binding_fails_the_check() {
    run_alone("fixture_spawn_hook_replaced_on_a_binding");
}
