//! The synthetic suite shared by `suite_tracked.rs` (`#[leak_check]`) and
//! `suite_untracked.rs` (`#[tokio::test]`): 200 tests, each spawning 50
//! tasks that yield once and finish, awaited by the test.
//!
//! These two targets are test binaries (`harness = true`) kept under
//! benches/ so that `cargo test` does not run them; the `cargo-suite`
//! section of the overhead bench (`benches/overhead/cargo_suite.rs`)
//! builds them and times whole runs of each, alternately. Run one by hand
//! with `cargo bench --bench suite_tracked --no-run` and then the
//! executable.

/// Each test's body. With `TASKLEAK_BENCH_SHORT` set, spawn sites only
/// (frame capture off), as `TASKLEAK_BACKTRACE=short` would.
#[allow(dead_code)]
pub async fn body() {
    if std::env::var_os("TASKLEAK_BENCH_SHORT").is_some() {
        taskleak::__private::set_capture_frames(false);
    }
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                std::hint::black_box(i)
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// A body whose 50 tasks outlive it by ~2 ms (a server shutting down, a
/// flush in flight): the check waits for them, with the ignore rules of
/// `suite_rules.rs` in force. `#[tokio::test]`'s twin awaits them instead
/// (see [`outliving_awaited`]), so both sides run the same tasks.
#[allow(dead_code)]
pub async fn outliving() {
    drop(spawn_sleepers());
}

/// [`outliving`], awaiting its tasks (for `#[tokio::test]`).
#[allow(dead_code)]
pub async fn outliving_awaited() {
    for t in spawn_sleepers() {
        t.await.unwrap();
    }
}

fn spawn_sleepers() -> Vec<tokio::task::JoinHandle<()>> {
    if std::env::var_os("TASKLEAK_BENCH_SHORT").is_some() {
        taskleak::__private::set_capture_frames(false);
    }
    (0..50)
        .map(|_| tokio::spawn(tokio::time::sleep(std::time::Duration::from_millis(2))))
        .collect()
}

/// 20 modules × 10 tests, each test `#[$attr] async fn` running `body`
/// (or `$body`).
macro_rules! suite {
    ($attr:meta) => {
        suite!(@with $attr, body);
    };
    (@with $attr:meta, $body:ident) => {
        suite!(@mods $attr, $body; m00 m01 m02 m03 m04 m05 m06 m07 m08 m09 m10 m11 m12 m13 m14 m15 m16 m17 m18 m19);
    };
    (@mods $attr:meta, $body:ident; $($m:ident)*) => {
        $(
            mod $m {
                suite!(@fns $attr, $body; t0 t1 t2 t3 t4 t5 t6 t7 t8 t9);
            }
        )*
    };
    (@fns $attr:meta, $body:ident; $($t:ident)*) => {
        $(
            #[$attr]
            async fn $t() {
                crate::common::$body().await
            }
        )*
    };
}
