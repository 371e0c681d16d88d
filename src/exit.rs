//! The end of the test binary, and its one owner: a C `atexit` handler,
//! installed on first need, that prints the stale-rule notice and the
//! summary, writes the baseline, and runs the suite gate. libtest calls
//! `exit` both when all tests passed and when some failed (101), and the
//! handler runs after its summary is printed. A gate that found leaks, or
//! a `TASKLEAK=record` that wrote nothing, changes the code to 101 and lets
//! the exit handlers registered before this one run (on glibc; see
//! `fail_exit`).

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::capture::{registry, survivors};
use crate::config::{Mode, Options};
use crate::judge::{self, At, Inputs, Snapshot, symbols::Resolving};
use crate::outputs;
use crate::report::Leaks;

/// libtest's exit code for a failed run, which the gate reuses so a binary
/// that already failed keeps its code.
const FAILED: i32 = 101;

static GATE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Makes sure the end of the binary is handled (notices, summary).
pub(crate) fn arm() {
    HOOK.call_once(|| {
        // SAFETY: registers a function with no preconditions, once.
        unsafe {
            libc::atexit(at_exit);
        }
    });
}

/// Turns the suite gate on when the configuration asks for it
/// (`suite_gate = true`). Called where tasks start being tracked
/// (`track_tasks()`) and where checks open: a task the gate could report
/// passed one of them.
pub(crate) fn arm_gate_if_configured() {
    if !GATE.load(Relaxed) && crate::config::base().suite_gate == Some(true) {
        GATE.store(true, Relaxed);
        arm();
    }
}

extern "C" fn at_exit() {
    // Nothing may unwind out of an `extern "C"` function.
    let verdict = std::panic::catch_unwind(|| {
        outputs::run::stale_notice();
        let recorded = outputs::run::summary();
        let gate = if GATE.load(Relaxed) {
            unclaimed()
        } else {
            None
        };
        if let Some(leaks) = &gate {
            outputs::gate(leaks);
        }
        // A record that wrote nothing fails the run, as a gate's leak does.
        !recorded || gate.is_some()
    });
    if matches!(verdict, Ok(true)) {
        fail_exit();
    }
}

/// Ends the process with [`FAILED`] from inside the exit handler, letting
/// the handlers registered before this one still run: a coverage
/// profiler's (`-C instrument-coverage` writes its `.profraw` at exit),
/// stdio flushes, the user's own.
///
/// glibc's `exit` is re-entrant from an exit handler: the nested call goes
/// on with the handlers not yet run, then ends with the new status.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fail_exit() -> ! {
    // SAFETY: glibc runs the remaining handlers once (each is removed
    // from its list before it is called) and never returns.
    unsafe { libc::exit(FAILED) }
}

/// Elsewhere (musl locks `exit` against a second call; other libcs do not
/// promise re-entry) the process ends at once: handlers registered before
/// this one do not run.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fail_exit() -> ! {
    // SAFETY: ends the process without re-running exit handlers.
    unsafe { libc::_exit(FAILED) }
}

/// Ends the process now as a failed test binary (101), from any thread:
/// for a test that cannot end (`check::watchdog`). `exit`, not `_exit`:
/// the exit handlers run, this one's summary among them.
pub(crate) fn failed_now() -> ! {
    std::process::exit(FAILED)
}

/// Live tracked tasks that no check claimed, after a grace period; the
/// process's ignore rules apply.
fn unclaimed() -> Option<Leaks> {
    let settings = Options::new().settings();
    let start = Instant::now();
    // A grace too long to add to now: as long as it takes.
    let deadline = start.checked_add(settings.grace);
    loop {
        // Read before the snapshot: the last one is taken after the grace
        // (judging can take longer than the grace, the first time symbols
        // are resolved), so the ages it shows are no shorter than the wait.
        let over = deadline.is_some_and(|d| Instant::now() >= d);
        let snapshot = Snapshot {
            test: None,
            waited: start.elapsed(),
            survivors: survivors::now(registry::unclaimed()),
            counted: 0,
            blocking: 0,
            threads: Vec::new(),
            blocked_runtime: false,
            at: At::SuiteEnd,
        };
        let inputs = Inputs {
            rules: &settings.rules,
            mode: Mode::Fail,
            backtraces: settings.backtraces,
            baseline: None,
            symbols: &Resolving,
        };
        let judgement = judge::judge(snapshot, &inputs);
        crate::suite::rules::record(settings.rules.iter().zip(judgement.uses.iter().copied()));
        let leaks = judgement.leaks?;
        if over {
            return Some(leaks);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
