//! A leak is reported where it was spawned, with its chain and frames.

mod common;

use common::{current_thread, forever, multi_thread, quick};

#[test]
fn a_leaked_task_is_reported_at_its_spawn_line() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    let line = line!() + 1;
    rt.spawn(forever());
    let leaks = guard.check().unwrap_err();

    assert_eq!(leaks.tasks().len(), 1);
    let task = &leaks.tasks()[0];
    assert_eq!(task.spawned_at().file(), file!());
    assert_eq!(task.spawned_at().line(), line);
    assert_eq!(task.parent(), None);
    assert!(task.chain().is_empty());
    let report = leaks.to_string();
    assert!(
        report.contains(&format!("spawned at {}:{line}:", file!())),
        "{report}"
    );
    assert!(
        report.starts_with(
            "taskleak: test `a_leaked_task_is_reported_at_its_spawn_line` leaked 1 task"
        ),
        "{report}"
    );
}

#[inline(never)]
fn spawn_three_levels() -> (u32, u32, u32) {
    let outer = line!() + 1;
    tokio::spawn(async move {
        tokio::spawn(async move {
            tokio::spawn(forever()); // outer + 2
            forever().await
        }); // (spawned at outer + 1)
        forever().await
    });
    (outer, outer + 1, outer + 2)
}

#[test]
fn a_nested_leak_shows_its_full_spawn_chain() {
    for rt in [current_thread(), multi_thread()] {
        let guard = quick().verify_none();
        let (outer, middle, inner) = rt.block_on(async {
            let lines = spawn_three_levels();
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            lines
        });
        let leaks = guard.check().unwrap_err();
        let tasks = leaks.tasks();
        assert_eq!(tasks.len(), 3, "{leaks}");

        // Spawn order: outer, middle, inner.
        let lines: Vec<u32> = tasks.iter().map(|t| t.spawned_at().line()).collect();
        assert_eq!(lines, [outer, middle, inner]);

        let innermost = &tasks[2];
        let chain: Vec<u32> = innermost
            .chain()
            .iter()
            .map(|s| s.location().line())
            .collect();
        assert_eq!(chain, [middle, outer], "{leaks}");
        assert_eq!(innermost.parent(), Some(tasks[1].id()));
        assert_eq!(innermost.chain()[0].task(), tasks[1].id());
        assert_eq!(innermost.chain()[1].task(), tasks[0].id());
        assert!(tasks[0].chain().is_empty());
        drop(rt);
    }
}

#[test]
fn the_backtrace_starts_at_the_users_spawn_call() {
    let rt = current_thread();
    let guard = quick().verify_none();
    rt.block_on(async {
        spawn_three_levels();
    });
    let leaks = guard.check().unwrap_err();
    let outer = &leaks.tasks()[0];
    let top = &outer.backtrace()[0];
    assert!(
        top.function().contains("spawn_sites::spawn_three_levels"),
        "{:#?}",
        outer.backtrace()
    );
    assert_eq!(top.file(), Some(file!()));
    assert_eq!(top.line(), Some(outer.spawned_at().line()));
    // The caller is the next frame: the block_on body in this test.
    assert!(
        outer.backtrace()[1..].iter().any(|f| f
            .function()
            .contains("the_backtrace_starts_at_the_users_spawn_call")),
        "{:#?}",
        outer.backtrace()
    );
    for frame in outer.backtrace() {
        let f = frame.function();
        assert!(
            !f.starts_with("tokio::") && !f.starts_with("std::") && !f.starts_with("core::"),
            "plumbing frame kept: {f}"
        );
    }
}

#[test]
fn identical_leaks_fold_into_one_entry_with_a_count() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    rt.block_on(async {
        for _ in 0..1000 {
            tokio::spawn(forever());
        }
        tokio::spawn(forever());
    });
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1001);
    let report = leaks.to_string();
    assert!(report.contains("leaked 1001 tasks"), "{report}");
    assert!(report.contains("1. 1000 identical tasks (ids "), "{report}");
    assert!(report.contains("2. task "), "{report}");
    assert!(!report.contains("3. "), "{report}");
    assert!(report.lines().count() < 40, "{report}");
}

#[test]
fn ignored_tasks_are_not_reported_and_not_waited_for() {
    let rt = multi_thread();
    let guard = taskleak::Options::new()
        .grace(std::time::Duration::from_secs(10))
        .ignore(format!("{}:{}", file!(), line!() + 3))
        .ignore("spawn_sites::background")
        .verify_none();
    rt.spawn(forever());
    rt.block_on(background());
    let start = std::time::Instant::now();
    guard.check().unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

async fn background() {
    tokio::spawn(forever());
}

#[test]
fn ignore_rules_leave_other_leaks_reported() {
    let rt = multi_thread();
    let guard = quick().ignore("spawn_sites::background").verify_none();
    rt.block_on(background());
    let line = line!() + 1;
    rt.spawn(forever());
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    assert_eq!(leaks.tasks()[0].spawned_at().line(), line);
}
