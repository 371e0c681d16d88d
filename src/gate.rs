//! The end of the test binary: the suite gate, and stale ignore rules.
//!
//! Both run from a C `atexit` handler, installed on first need: libtest
//! calls `exit` both when all tests passed and when some failed (101), and
//! the handler runs after its summary is printed.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::config::{Options, defaults, ignore};
use crate::capture::registry;
use crate::report::{self, Leaks};

/// libtest's exit code for a failed run, which the gate reuses so a binary
/// that already failed keeps its code.
const FAILED: i32 = 101;

static GATE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Turns the suite gate on when `configure! { suite_gate: true }` asks
/// for it. Called where tasks start being tracked (`track_tasks()`) and
/// where checks open: a task the gate could report passed one of them.
pub(crate) fn arm_if_configured() {
    if !GATE.load(Relaxed) && defaults::suite_gate() {
        GATE.store(true, Relaxed);
        install();
    }
}

/// Enters a check's ignore rules (and `configure!`'s) in the rule
/// registry, so that stale ones get reported at exit.
pub(crate) fn register_rules(rules: &mut [ignore::Ignore]) {
    for rule in rules.iter_mut() {
        ignore::register(rule);
    }
    static CONFIGURED: Once = Once::new();
    CONFIGURED.call_once(|| defaults::ignores().for_each(ignore::register_shared));
    if !rules.is_empty() || defaults::ignores().next().is_some() {
        install();
    }
}

/// Makes sure the suite summary gets printed at exit.
pub(crate) fn arm_summary() {
    install();
}

fn install() {
    HOOK.call_once(|| {
        // SAFETY: registers a function with no preconditions, once.
        unsafe {
            libc::atexit(at_exit);
        }
    });
}

extern "C" fn at_exit() {
    // Nothing may unwind out of an `extern "C"` function.
    let verdict = std::panic::catch_unwind(|| {
        stale_notice();
        crate::suite::at_exit();
        if GATE.load(Relaxed) {
            unclaimed()
        } else {
            None
        }
    });
    if let Ok(Some(leaks)) = verdict {
        eprintln!("{}", leaks.for_stderr());
        report::ci::publish(&leaks);
        // SAFETY: ends the process without re-running exit handlers.
        unsafe { libc::_exit(FAILED) }
    }
}

fn stale_notice() {
    for rule in ignore::stale(!crate::util::per_test_process()) {
        let (pattern, origin) = (&rule.pattern, &rule.origin);
        let hint = if rule.same_file {
            "; a task was spawned elsewhere in that file: line numbers move when code above \
             them changes, so prefer a function path or the whole file"
        } else {
            "; remove it if the leak it covered is fixed"
        };
        eprintln!(
            "taskleak: ignore rule {pattern:?} ({origin}) matched no task in this test binary{hint}"
        );
    }
}

/// Live tracked tasks that no check claimed, after a grace period.
fn unclaimed() -> Option<Leaks> {
    let options = Options::new(); // configure!'s ignore rules apply
    let grace = defaults::grace(None);
    // A grace too long to add to now: as long as it takes.
    let deadline = Instant::now().checked_add(grace);
    loop {
        let tasks = report::leaked_tasks(&registry::unclaimed(), &options);
        if tasks.is_empty() {
            return None;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Leaks::at_suite_end(tasks, grace));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
