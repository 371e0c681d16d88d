//! Every effect of a verdict, in one place: the panic message, stderr,
//! GitHub annotations, JSON files, the run's facts for the summary, the
//! rule tally, the baseline and the summary at exit. Every channel reads
//! the same [`Judgement`] (or the same [`Leaks`]), so no two can disagree.
//! The exit code is `exit`'s.

pub(crate) mod baseline;
pub(crate) mod ci;
mod files;
pub(crate) mod ledger;
mod lock;
pub(crate) mod notices;
pub(crate) mod run;

use std::io::Write as _;
use std::time::Duration;

use crate::config::{Mode, Rules};
use crate::judge::Judgement;
use crate::report::Leaks;
use crate::suite;
use crate::util::escape::Term;
use crate::util::{human, plural};

/// Carries out a check's judgement: the rules' uses go to the run's
/// tally, a test's leaks to the run's facts, the report to CI and to
/// stderr as the mode says. `Err` with the report when the test fails.
pub(crate) fn check(judgement: Judgement, rules: &Rules) -> Result<(), Leaks> {
    suite::rules::record(rules.iter().zip(judgement.uses.iter().copied()));
    let Judgement {
        mode,
        leaks,
        sites,
        known,
        grown,
        test,
        ..
    } = judgement;
    if let Some(test) = &test {
        let known: Vec<(String, String)> = known.into_iter().map(|k| (k.site, k.entry)).collect();
        suite::note(test, &sites, &known, &grown, mode == Mode::Warn);
    }
    let Some(leaks) = leaks else {
        return Ok(());
    };
    match mode {
        Mode::Off => Ok(()),
        Mode::Record => {
            let test = test.unwrap_or_default();
            past_capture(&format!(
                "taskleak: TASKLEAK=record: {} of test `{}` recorded for the baseline",
                plural(sites.len(), "leaked task"),
                Term(test)
            ));
            Ok(())
        }
        Mode::Warn | Mode::Fail => deliver(leaks, mode),
    }
}

/// Sends a report that a check found where its mode says: to CI, then
/// under `TASKLEAK=warn` to the console, the test passing; else back as
/// the test's failure.
fn deliver(leaks: Leaks, mode: Mode) -> Result<(), Leaks> {
    ci::publish(&leaks, mode);
    if mode != Mode::Warn {
        return Err(leaks);
    }
    to_console(&format!(
        "{}\n(TASKLEAK=warn: not failing the test)",
        leaks.for_stderr()
    ));
    Ok(())
}

/// Carries out a growth check's verdict (`leaks` has a growth section):
/// a test's growing sites go to the run's facts, the report to CI and to
/// stderr as the mode says, as a leak check's do. `Err` when it fails.
pub(crate) fn growth(leaks: Leaks, mode: Mode) -> Result<(), Leaks> {
    // Filed where `judge::site::place_growing` puts it, as its annotation.
    let sites: Vec<String> = leaks.growth().map_or(Vec::new(), |g| {
        g.sites
            .iter()
            .map(|s| {
                if s.whole_runtime {
                    return "<all tasks of a runtime: no spawn sites in this build>".to_owned();
                }
                match leaks.tasks.iter().rev().find(|t| t.spawned_at == s.site) {
                    Some(t) => {
                        let at = crate::judge::site::place_growing(t);
                        format!("{}:{}", at.file, at.line)
                    }
                    None => {
                        let file =
                            crate::task::frame::relative(std::path::Path::new(s.site.file()));
                        format!("{file}:{}", s.site.line())
                    }
                }
            })
            .collect()
    });
    if let Some(test) = &leaks.test
        && matches!(mode, Mode::Fail | Mode::Warn)
    {
        suite::note(test, &sites, &[], &[], mode == Mode::Warn);
    }
    match mode {
        Mode::Off => Ok(()),
        Mode::Warn => deliver(leaks, Mode::Warn),
        // A growth has no baseline to record it in: it fails.
        Mode::Fail | Mode::Record => deliver(leaks, Mode::Fail),
    }
}

/// The report as a failing test's panic message.
pub(crate) fn panic_message(leaks: &Leaks) -> String {
    leaks.for_stderr().to_string()
}

/// Fails the test with the report: printed where libtest shows a failing
/// test's output, headed like a panic at `at` (the test, or where its guard
/// was opened), then unwound with the report as the panic's message (for
/// `#[should_panic(expected = "...")]` and `catch_unwind`). The panic hook
/// is not called: the report is the failure, so no stack trace of
/// taskleak's own frames follows it under `RUST_BACKTRACE=1`.
pub(crate) fn fail(leaks: &Leaks, at: &std::panic::Location<'_>) -> ! {
    fail_with(panic_message(leaks), at)
}

/// [`fail`] with the report already written.
pub(crate) fn fail_with(report: String, at: &std::panic::Location<'_>) -> ! {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("<unnamed>");
    eprintln!("thread '{}' panicked at {at}:\n{report}", Term(name));
    std::panic::resume_unwind(Box::new(report))
}

/// The report on stderr, in the test's output (libtest shows it when the
/// test fails).
pub(crate) fn print(leaks: &Leaks) {
    eprintln!("{}", leaks.for_stderr());
}

/// Why a leaking `#[should_panic]` test fails.
pub(crate) fn should_panic_note() {
    eprintln!(
        "taskleak: the test leaked, which fails it whatever #[should_panic] says; it returns \
         without panicking so that libtest fails it. To expect a leak, write \
         #[should_panic(expected = \"...\")] with text from the report, and a body that does \
         not panic."
    );
}

/// The tasks a check waited for when the test's runtime shut down under
/// it (`unhandled_panic = "shutdown_runtime"`, or the check panicked).
pub(crate) fn cancelled(leaks: &Leaks, mode: Mode, runtime_shut_down: bool) {
    ci::publish(leaks, mode);
    let why = if runtime_shut_down {
        "the runtime shut down: a spawned task panicked, and the runtime was built with \
         unhandled_panic = \"shutdown_runtime\". The shutdown cancelled these tasks, so some of \
         them might have ended in time."
    } else {
        "the check panicked (message above) while these tasks still ran."
    };
    eprintln!(
        "{}\n\n  note: {} into the grace period, {why}",
        leaks.for_stderr(),
        human(leaks.grace),
    );
}

/// A check that was not polled for `unpolled` when it expected a turn at
/// once: the thread running it (`check_async`) is blocked (`blocking`: the
/// report's tasks still inside one poll, likely what blocks it). The
/// report, if the test failed, and why the binary ends now, straight to
/// stderr: libtest will print nothing more.
pub(crate) fn unpolled(
    leaks: Option<&Leaks>,
    test: Option<&str>,
    blocking: &[String],
    unpolled: Duration,
) {
    if let Some(leaks) = leaks {
        past_capture(&leaks.for_stderr().to_string());
    }
    let test = test.map_or_else(|| "a check".to_owned(), |t| format!("test `{t}`"));
    let culprit = match blocking {
        [] => "by something other than this check's tasks (none is inside a poll)".to_owned(),
        tasks => format!("by {}", tasks.join("; ")),
    };
    past_capture(&format!(
        "taskleak: {test} cannot end: its check_async was not polled for {}, so the thread \
         running it is blocked, {culprit}. A blocking call in async code (std::sync::mpsc, \
         a std Mutex, thread::sleep) holds that thread, and no bound inside the runtime can \
         fire. The test binary ends now, as a failed run (exit code 101); taskleak's summary \
         below covers the tests checked so far.",
        human(unpolled)
    ));
}

/// The suite gate's report, at exit (after libtest's summary).
pub(crate) fn gate(leaks: &Leaks) {
    eprintln!("{}", leaks.for_stderr());
    ci::publish(leaks, Mode::Fail);
}

/// Straight to stderr, past libtest's capture: libtest drops what a
/// passing test printed, and these are said about passing tests.
pub(crate) fn past_capture(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Where the user sees it, for what is said about a test that passed and
/// must still be seen (a leak `TASKLEAK=warn` let pass): past libtest's
/// capture ([`past_capture`]), and under cargo-nextest, which captures
/// each test process's output and shows none of a passing test's, past
/// nextest's too: to the runner's own stderr (the console, or CI's log).
pub(crate) fn to_console(text: &str) {
    if crate::util::per_test_process()
        && let Some(mut runner) = runner_stderr()
        && writeln!(runner, "{text}").is_ok()
    {
        return;
    }
    past_capture(text)
}

/// The stderr of the process that started this one (nextest runs each
/// test binary as its own child), when it is not this process's own.
#[cfg(target_os = "linux")]
fn runner_stderr() -> Option<std::fs::File> {
    use std::os::unix::fs::MetadataExt;
    let parent = std::os::unix::process::parent_id();
    let path = format!("/proc/{parent}/fd/2");
    let runner = std::fs::OpenOptions::new().append(true).open(path).ok()?;
    let (theirs, ours) = (
        runner.metadata().ok()?,
        std::fs::metadata("/proc/self/fd/2").ok()?,
    );
    ((theirs.dev(), theirs.ino()) != (ours.dev(), ours.ino())).then_some(runner)
}

/// Elsewhere the runner's stderr cannot be reached: this process's.
#[cfg(not(target_os = "linux"))]
fn runner_stderr() -> Option<std::fs::File> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::site;

    /// A check's judgement of `leaks`, with no rules and no baseline.
    fn judged(leaks: Leaks) -> Judgement {
        let mut j = Judgement::clean(Mode::Fail, Vec::new());
        j.sites = leaks.tasks.iter().map(site::of).collect();
        j.test = leaks.test.clone();
        j.leaks = Some(leaks);
        j
    }

    /// An example's check (on `main`, no test name) is no test's: it is
    /// left out of the summary and the baseline, and keeps failing.
    #[test]
    fn a_check_outside_any_test_is_not_summarised() {
        let leaks = crate::report::tests::one_leak();
        assert!(leaks.test.is_none() && !leaks.tasks.is_empty());
        let before = suite::leaked_count();
        assert!(check(judged(leaks), &Rules::default()).is_err());
        assert_eq!(suite::leaked_count(), before);

        let mut named = crate::report::tests::one_leak();
        named.test = Some("suite::tests::named".into());
        let _ = check(judged(named), &Rules::default());
        assert!(suite::noted("suite::tests::named"));
    }
}
