//! What taskleak says about how it runs, rather than about leaks: checks
//! that cannot see, a tokio that cannot name spawn sites, a runtime that
//! would not stop. Each goes past libtest's capture (the test may pass).

use std::time::Duration;

use super::past_capture;
use crate::util::human;

/// Says once per process that checks without hooks and without a visible
/// runtime cannot see anything, rather than passing in silence.
pub(crate) fn blind() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        past_capture(
            "taskleak: warning: this check cannot see any task. taskleak was built without \
             `--cfg tokio_unstable`, so it can only count tasks on a runtime that is current \
             when the guard is created (or one #[leak_check] builds). Build with \
             `--cfg tokio_unstable` (in .cargo/config.toml: [build] rustflags = \
             [\"--cfg\", \"tokio_unstable\"]) for per-test tracking with spawn sites.",
        )
    });
}

/// Says, once, that this build cannot see spawn sites, so the baseline
/// and the ignore rules were neither applied to them nor judged (no entry
/// is fixed, no rule stale) nor written: `record` when `TASKLEAK=record`
/// was refused for it. Names `RUSTFLAGS` when the workspace's
/// `.cargo/config.toml` asks for the cfg and the build did not get it.
/// Silent when there is nothing it could have judged (`has_data`), the
/// cfg was not asked for, and nothing was to be recorded.
pub(crate) fn no_spawn_sites(record: bool, has_data: bool) {
    let asked = crate::config::cargo::asks_here();
    if !record && !has_data && asked.is_none() {
        return;
    }
    let what = if record {
        "TASKLEAK=record was refused, and the baseline was not written"
    } else {
        "the baseline and the ignore rules were not applied to them, and no baseline entry \
         is called fixed nor any rule stale"
    };
    let fix = match asked {
        Some(file) => {
            let now = std::env::var("RUSTFLAGS")
                .map(|f| format!(" (RUSTFLAGS={f:?} here)"))
                .unwrap_or_default();
            format!(
                "{} sets it, but this build did not get it: a RUSTFLAGS environment variable \
                 replaces the file's rustflags{now}. Add `--cfg tokio_unstable` to RUSTFLAGS",
                file.display()
            )
        }
        None => "Build with `--cfg tokio_unstable` (in .cargo/config.toml: [build] rustflags = \
                 [\"--cfg\", \"tokio_unstable\"])"
            .to_owned(),
    };
    past_capture(&format!(
        "taskleak: built without `--cfg tokio_unstable`, checks count tasks but cannot see \
         their spawn sites: {what}. {fix}."
    ));
}

/// Says that a check runs on a runtime whose tasks taskleak cannot see
/// (`runtime`: how to tell which), rather than passing in silence.
pub(crate) fn untracked(runtime: &dyn std::fmt::Debug) {
    past_capture(&format!(
        "taskleak: warning: the tokio runtime this guard was created in ({runtime:?}) is not \
         tracked, so checks cannot see its tasks. Build it with `.track_tasks()` (use \
         taskleak::BuilderExt), or write #[taskleak::leak_check] instead of #[tokio::test]."
    ));
}

/// Says once that this tokio has hooks but no spawn sites.
#[cfg(taskleak_old_tokio)]
pub(crate) fn old_tokio() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        past_capture(&format!(
            "taskleak: warning: built with `--cfg tokio_unstable`, but tokio {} has no \
             TaskMeta::spawned_at, so checks count live tasks instead of naming each leaked \
             task's spawn site. tokio 1.46.1 or newer has it: cargo update -p tokio",
            env!("TASKLEAK_TOKIO_VERSION")
        ))
    });
}

/// The test's runtime did not stop within `bound` after a failed check.
pub(crate) fn shutdown_gave_up(bound: Duration) {
    past_capture(&format!(
        "taskleak: gave up after {} waiting for the test's runtime to shut down: some of its \
         threads did not stop (a leaked spawn_blocking closure, or a worker blocked inside a \
         poll); the test ends without them",
        human(bound)
    ));
}
