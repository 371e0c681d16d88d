//! Reports say what a leaked task is doing: where it is suspended (task
//! dumps, the `taskdump` feature) and how it was polled.
#![allow(unnameable_test_items)] // #[leak_check] fixtures inside tests

mod common;

use std::time::Duration;

use common::{current_thread, forever, multi_thread, quick};
use taskleak::Verdict;

/// The one survivor of `body`, checked with `check_async` on `rt`.
fn one_leak<F: std::future::Future<Output = ()> + Send + 'static>(
    rt: &tokio::runtime::Runtime,
    body: F,
) -> taskleak::Leaks {
    let guard = quick().verify_none();
    rt.block_on(async move {
        tokio::spawn(body);
        tokio::time::sleep(Duration::from_millis(5)).await;
        guard.check_async().await.unwrap_err()
    })
}

#[cfg(all(feature = "taskdump", target_os = "linux", target_arch = "x86_64"))]
mod dumps {
    use super::*;

    async fn wait_for_reply(rx: tokio::sync::oneshot::Receiver<()>) {
        let _ = rx.await;
    }

    async fn nap() {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }

    async fn serve(listener: tokio::net::TcpListener) {
        let _ = listener.accept().await;
    }

    /// The runtime `#[leak_check]` built is dumped, whatever its flavor.
    #[test]
    fn the_runtime_leak_check_built_is_dumped() {
        #[taskleak::leak_check(flavor = "multi_thread", grace = "50ms")]
        async fn leaky() {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            std::mem::forget(tx);
            tokio::spawn(wait_for_reply(rx));
        }
        let payload = std::panic::catch_unwind(leaky).expect_err("it leaked");
        let report = payload.downcast_ref::<String>().expect("a report");
        assert!(
            report.contains("stuck in: stuck::dumps::wait_for_reply → oneshot::Receiver"),
            "{report}"
        );
    }

    #[test]
    fn a_task_blocked_on_a_oneshot_receive() {
        {
            let rt = current_thread();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let leaks = one_leak(&rt, wait_for_reply(rx));
            let stuck = leaks.tasks()[0].stuck_in().expect("dumped");
            assert_eq!(
                stuck,
                ["stuck::dumps::wait_for_reply → oneshot::Receiver"],
                "{leaks}"
            );
            assert!(
                leaks.to_string().contains(
                    "stuck in: stuck::dumps::wait_for_reply → oneshot::Receiver  at tests/stuck.rs:"
                ),
                "{leaks}"
            );
            drop(tx);
        }
    }

    #[test]
    fn a_task_blocked_on_sleep() {
        let rt = current_thread();
        let leaks = one_leak(&rt, nap());
        let stuck = leaks.tasks()[0].stuck_in().expect("dumped");
        assert_eq!(stuck, ["stuck::dumps::nap → sleep::Sleep"], "{leaks}");
        // A timer that fires after the grace reads differently from a leak.
        assert!(
            leaks.to_string().contains(
                "(a tokio timer: if it ends the task after the grace, the grace is too short \
                 for this test, not a leak: raise it"
            ),
            "{leaks}"
        );
    }

    #[test]
    fn a_task_parked_on_a_non_tokio_future_says_so() {
        let rt = current_thread();
        let leaks = one_leak(&rt, forever());
        assert_eq!(leaks.tasks()[0].stuck_in(), Some(&[][..]));
        assert!(
            leaks.to_string().contains(
                "stuck in: no trace point: it waits on a future tokio's task dump cannot see"
            ),
            "{leaks}"
        );
    }

    /// `check()` from a plain thread on a multi-thread runtime of the
    /// user's: no dump (a tokio dump can leave a runtime unable to shut
    /// down), and the report says why; the runtime still drops.
    #[test]
    fn a_runtime_the_user_owns_is_not_dumped_and_the_report_says_why() {
        let rt = multi_thread();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let guard = quick().verify_none();
        rt.spawn(wait_for_reply(rx));
        std::thread::sleep(Duration::from_millis(20));
        let leaks = guard.check().unwrap_err();
        assert_eq!(leaks.tasks()[0].stuck_in(), None, "{leaks}");
        assert!(
            leaks.to_string().contains(
                "stuck in: unknown (taskleak dumps only the runtime #[leak_check] builds"
            ),
            "{leaks}"
        );
        drop(tx);
        drop(rt);
    }

    /// A current-thread runtime can be dumped only from inside its
    /// `block_on`; the report says so instead of guessing.
    #[test]
    fn a_current_thread_runtime_nobody_drives_says_why_it_was_not_dumped() {
        let parked = current_thread();
        let guard = quick().verify_none();
        parked.handle().spawn(forever());
        let leaks = guard.check().unwrap_err();
        assert_eq!(leaks.tasks()[0].stuck_in(), None, "{leaks}");
        assert!(
            leaks.to_string().contains(
                "stuck in: unknown (it lives on a current-thread runtime, which tokio can dump \
                 only from the thread inside its block_on"
            ),
            "{leaks}"
        );
    }

    /// tokio 1.54's `TcpListener::accept` waits in `Registration::readiness`,
    /// which has no trace point, so a dump sees nothing; the report says so
    /// explicitly instead of printing nothing.
    #[test]
    fn a_task_blocked_on_accept_is_reported_as_untraceable() {
        let rt = current_thread();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let leaks = one_leak(&rt, serve(listener));
        assert_eq!(leaks.tasks()[0].stuck_in(), Some(&[][..]), "{leaks}");
        assert!(
            leaks.to_string().contains("TcpListener::accept)"),
            "{leaks}"
        );
    }
}

#[test]
fn idle_busy_and_never_polled_verdicts() {
    let rt = multi_thread();

    let idle = one_leak(&rt, forever());
    let a = idle.tasks()[0].activity().expect("activity");
    assert_eq!(a.verdict(), Verdict::Idle, "{idle}");
    assert_eq!(a.polls(), 1);
    assert!(
        idle.to_string().contains("activity: idle · 1 poll, last "),
        "{idle}"
    );

    let busy = one_leak(&rt, async {
        loop {
            tokio::task::yield_now().await;
        }
    });
    let a = busy.tasks()[0].activity().expect("activity");
    assert_eq!(a.verdict(), Verdict::Busy, "{busy}");
    assert!(a.polls() > 100, "{busy}");
    assert!(busy.to_string().contains("(polled continually"), "{busy}");

    // A current-thread runtime nobody drives never polls its tasks.
    let parked = current_thread();
    let guard = quick().verify_none();
    parked.handle().spawn(forever());
    let never = guard.check().unwrap_err();
    let a = never.tasks()[0].activity().expect("activity");
    assert_eq!(a.verdict(), Verdict::NeverPolled, "{never}");
    assert!(
        never.to_string().contains("activity: never polled"),
        "{never}"
    );
}

#[test]
fn a_task_woken_on_a_schedule_says_how_often() {
    let rt = multi_thread();
    let leaks = {
        let guard = taskleak::Options::new()
            .grace(Duration::from_millis(400))
            .verify_none();
        rt.spawn(async {
            loop {
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        });
        guard.check().unwrap_err()
    };
    let text = leaks.to_string();
    assert!(
        text.contains("activity: idle between wake-ups · wakes periodically, about every "),
        "{text}"
    );
}

#[test]
fn time_spent_in_polls_counts_long_polls() {
    let rt = multi_thread();
    let leaks = one_leak(&rt, async {
        std::thread::sleep(Duration::from_millis(40)); // one long poll
        forever().await
    });
    let a = leaks.tasks()[0].activity().expect("activity");
    assert!(a.busy_time() >= Duration::from_millis(30), "{leaks}");
    assert_eq!(a.verdict(), Verdict::Idle, "{leaks}");
    assert!(leaks.to_string().contains("ms in polls"), "{leaks}");
}

#[test]
fn a_task_blocking_inside_one_poll_is_busy() {
    let rt = multi_thread();
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let leaks = {
        let guard = quick().verify_none();
        rt.spawn(async move {
            let _ = blocked.recv(); // blocking in async
        });
        std::thread::sleep(Duration::from_millis(20));
        // Still inside that poll after the check's safety bound (5 s):
        // reported as stuck in it, not passed.
        guard.check().unwrap_err()
    };
    drop(release);
    let a = leaks.tasks()[0].activity().expect("activity");
    assert_eq!(a.verdict(), Verdict::Busy, "{leaks}");
    assert!(a.in_poll_for().is_some(), "{leaks}");
    assert!(leaks.to_string().contains("inside one poll for"), "{leaks}");
}

#[test]
fn colour_is_off_in_display_and_on_when_asked() {
    let rt = multi_thread();
    let leaks = one_leak(&rt, forever());
    assert!(!leaks.to_string().contains('\x1b'));
    let colored = leaks.colored(true).to_string();
    assert!(
        colored.contains("\x1b[1;31mtaskleak:\x1b[0m"),
        "{colored:?}"
    );
    // Spawn sites stay plain, so `should_panic(expected = ..)` matches alike.
    assert!(
        colored.contains("spawned at tests/stuck.rs:"),
        "{colored:?}"
    );
}

#[test]
fn shared_ancestors_are_drawn_as_a_tree() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    rt.block_on(async {
        // Every task exists before the check, however loaded the machine.
        let (spawned, done) = tokio::sync::oneshot::channel();
        tokio::spawn(async {
            tokio::spawn(forever());
            tokio::spawn(forever());
            tokio::spawn(async {
                tokio::spawn(forever());
                let _ = spawned.send(());
                forever().await
            });
            forever().await
        });
        done.await.unwrap();
    });
    let leaks = guard.check().unwrap_err();
    let report = leaks.to_string();
    let tree = &report[report.find("spawn tree:").expect("a tree")..];
    let lines: Vec<&str> = tree.lines().skip(1).take(5).collect();
    assert!(lines[0].starts_with("    tests/stuck.rs:"), "{report}");
    assert!(lines[1].starts_with("    ├─ tests/stuck.rs:"), "{report}");
    assert!(lines[2].starts_with("    ├─ tests/stuck.rs:"), "{report}");
    assert!(lines[3].starts_with("    └─ tests/stuck.rs:"), "{report}");
    assert!(
        lines[4].starts_with("       └─ tests/stuck.rs:"),
        "{report}"
    );
}

/// A task that spawns the next one, `n` deep; all of them run forever.
fn chain_of(n: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        if n > 0 {
            tokio::spawn(chain_of(n - 1));
        }
        forever().await
    })
}

#[test]
fn a_long_spawn_chain_is_cut_in_the_middle() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    rt.spawn(chain_of(100)); // 101 tasks, each spawned by the one before
    std::thread::sleep(Duration::from_millis(50));
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 101, "{leaks}");
    let report = leaks.to_string();
    let lines = report.lines().count();
    // Every entry's chain keeps both ends and counts the middle...
    assert!(report.contains("       ← … 14 more spawns …\n"), "{report}");
    // ... past the first 20 entries the rest are counted (the registry
    // cuts chains at 64 ancestors, so the deepest 37 fold into one) ...
    assert!(
        report.contains("… 45 more entries (81 tasks in all), not shown"),
        "{report}"
    );
    // ... and a tree that deep is not drawn.
    assert!(
        report.contains("spawn tree: not drawn: 64 spawns deep"),
        "{report}"
    );
    assert!(lines < 400, "{lines} lines:\n{report}");
    eprintln!("a 101-deep spawn chain's report: {lines} lines");
}

/// More live tasks than taskleak's activity table holds: the oldest lose
/// their activity, and the report says so instead of dropping the line.
/// (Run alone, in a child process: the table is the whole process's, and
/// this fills it.)
#[test]
#[ignore = "fixture: run by a_task_whose_activity_was_lost_says_so"]
fn fixture_more_tasks_than_activity_slots() {
    let rt = multi_thread();
    let guard = quick().verify_none();
    for _ in 0..17_000 {
        rt.spawn(forever());
    }
    std::thread::sleep(Duration::from_millis(50));
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 17_000);
    assert!(leaks.tasks()[0].activity().is_none());
    assert!(
        leaks.tasks()[16_999].activity().is_some(),
        "the youngest keep theirs"
    );
    panic!("{leaks}");
}

#[test]
fn a_task_whose_activity_was_lost_says_so() {
    let (status, text) = common::run_fixture_within(
        "fixture_more_tasks_than_activity_slots",
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(status.and_then(|s| s.code()), Some(101), "{text}");
    assert!(
        text.contains("activity: unknown (lost: more tasks were alive at once"),
        "{text}"
    );
}
