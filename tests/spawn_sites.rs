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

/// Spawns a chain of `depth` tasks, each spawning the next and ending;
/// the last one never ends. Returns the line of the relaying spawn call.
fn relay(depth: u32) -> u32 {
    let line = line!() + 2;
    if depth > 0 {
        tokio::spawn(async move {
            relay(depth - 1);
        });
    } else {
        tokio::spawn(forever());
    }
    line
}

/// A chain deeper than the limit whose ancestors all ended still shows
/// the nearest of them before the cut.
#[test]
fn a_chain_cut_at_the_limit_still_shows_its_nearest_ancestors() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    let line = rt.block_on(async {
        let line = relay(80);
        // Let the relay run to its end.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        line
    });
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1, "{leaks}");
    let chain = leaks.tasks()[0].chain();
    assert!(
        !chain.is_empty() && chain.iter().all(|s| s.location().line() == line),
        "{leaks}"
    );
    assert_eq!(chain[0].task(), leaks.tasks()[0].parent().unwrap());
    let report = leaks.to_string();
    let cut = report.find("(chain cut: deeper than").expect(&report);
    let by = report
        .find("← by task")
        .unwrap_or_else(|| panic!("no ancestor before the cut:\n{report}"));
    assert!(by < cut, "{report}");
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

// ------------------------------------- what an ignore rule is matched against

/// Files and paths of tokio, std, core, libtest and taskleak: a rule that
/// names them hides no leak, since the report never shows their frames.
const RUNTIME_PATTERNS: &[&str] = &[
    "spawn.rs",
    "mod.rs",
    "context.rs",
    "lib.rs",
    "src/lib.rs",
    "handle.rs",
    "runtime.rs",
    "worker.rs",
    "harness.rs",
    "future.rs",
    "tokio",
    "std",
    "core",
    "alloc",
    "test",
    "taskleak",
];

#[test]
fn rules_naming_runtime_code_hide_no_leak() {
    let rt = multi_thread();
    for pattern in RUNTIME_PATTERNS {
        let guard = quick().ignore(*pattern).verify_none();
        rt.spawn(forever()); // from the test thread
        rt.block_on(async {
            tokio::spawn(forever()); // from block_on
            let (spawned, done) = tokio::sync::oneshot::channel();
            tokio::spawn(async {
                tokio::spawn(forever()); // from a task, on a worker
                let _ = spawned.send(());
                forever().await
            });
            // All four exist before the check, however loaded the machine.
            done.await.unwrap();
        });
        let leaks = guard.check().unwrap_err();
        assert_eq!(leaks.tasks().len(), 4, "{pattern:?} hid a leak: {leaks}");
    }
}

mod pool {
    pub struct Pool<M>(pub M);

    impl<M> Pool<M> {
        #[inline(never)]
        pub fn start(&self, rt: &tokio::runtime::Runtime) {
            rt.spawn(super::forever());
        }
    }

    pub trait Start {
        fn go(&self, rt: &tokio::runtime::Runtime);
    }

    impl<M> Start for Pool<M> {
        #[inline(never)]
        fn go(&self, rt: &tokio::runtime::Runtime) {
            rt.spawn(super::forever());
        }
    }
}

#[test]
fn a_type_path_rule_matches_its_generic_impls() {
    use pool::Start;
    let rt = multi_thread();
    let p = pool::Pool(1u8);
    // `spawn_sites::pool::Pool<M>::start`, `<… Pool<M> as …Start>::go`.
    let guard = quick().ignore("spawn_sites::pool::Pool").verify_none();
    p.start(&rt);
    p.go(&rt);
    guard.check().unwrap();

    // A function path copied from a report, generics included, matches.
    let guard = quick().verify_none();
    p.start(&rt);
    let leaks = guard.check().unwrap_err();
    let printed = leaks.tasks()[0].backtrace()[0].function().to_owned();
    assert!(printed.contains("Pool<"), "{leaks}");
    let guard = quick().ignore(&printed).verify_none();
    p.start(&rt);
    guard.check().unwrap();
}

/// Calls `f` `depth` calls deeper, as a library's layers would.
#[inline(never)]
fn layers(depth: u32, f: &mut dyn FnMut()) {
    if depth == 0 {
        f()
    } else {
        layers(std::hint::black_box(depth - 1), f);
        std::hint::black_box(());
    }
}

#[inline(never)]
fn spawn_deep_from_the_test(rt: &tokio::runtime::Runtime) {
    layers(100, &mut || {
        rt.spawn(forever());
    });
}

#[test]
fn a_spawn_far_below_the_users_code_still_shows_it() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    spawn_deep_from_the_test(&rt);
    let leaks = guard.check().unwrap_err();
    let frames = leaks.tasks()[0].backtrace();
    assert!(
        frames
            .iter()
            .any(|f| f.function() == "spawn_sites::spawn_deep_from_the_test"),
        "the walk stopped in the layers: {leaks}"
    );
    // And so a rule naming the user's function applies.
    let guard = quick()
        .ignore("spawn_sites::spawn_deep_from_the_test")
        .verify_none();
    spawn_deep_from_the_test(&rt);
    guard.check().unwrap();
}

#[inline(never)]
fn spawn_via_a_helper(rt: &tokio::runtime::Runtime) {
    rt.spawn(forever());
}

/// Run with `TASKLEAK_BACKTRACE=short` by the test below.
#[test]
#[ignore = "fixture"]
fn fixture_a_path_rule_without_backtraces() {
    let rt = multi_thread();
    let guard = quick()
        .ignore("spawn_sites::spawn_via_a_helper")
        .verify_none();
    spawn_via_a_helper(&rt);
    guard.check().unwrap();
}

#[test]
fn a_path_rule_is_judged_even_when_backtraces_are_off() {
    for level in ["short", "off"] {
        let (out, text) = common::run_fixture(
            "fixture_a_path_rule_without_backtraces",
            &[("TASKLEAK_BACKTRACE", level)],
        );
        assert_eq!(out.status.code(), Some(0), "{level}: {text}");
        assert!(!text.contains("matched no task"), "{level}: {text}");
    }
}
