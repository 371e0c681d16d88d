//! What `#[leak_check]` runs: build a tracked runtime, run the body in a
//! scope, check while the runtime is still alive, then shut it down.
//!
//! The order matters: dropping a runtime cancels its tasks, which would
//! hide every leak, so the check happens inside `block_on`; and dropping a
//! runtime waits for its blocking threads without a bound, so a runtime
//! whose check failed is shut down with one, after its report is out.

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::runtime::Builder;

use crate::capture::hooks::{Ends, Installed};
use crate::check::Waiting;
use crate::config::Options;
use crate::judge::test_end::{Body, Then, test_end};
use crate::outputs;
use crate::report::Leaks;

/// The runtime flavors `#[leak_check]` accepts, as in `#[tokio::test]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `flavor = "current_thread"` (the default).
    CurrentThread,
    /// `flavor = "multi_thread"`.
    MultiThread,
    /// `flavor = "local"`: a `LocalRuntime` (needs `--cfg tokio_unstable`).
    Local,
}

/// What a test function may return: `()` or a `Result`.
pub trait TestOutput {
    /// True when the value alone already fails the test (an `Err`).
    fn is_failure(&self) -> bool;

    /// The value of a test that returned without failing, when there is
    /// one (`()`): a leaking `#[should_panic]` test returns it.
    fn returned() -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

impl TestOutput for () {
    fn is_failure(&self) -> bool {
        false
    }

    fn returned() -> Option<Self> {
        Some(())
    }
}

impl<T, E> TestOutput for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

/// A test's `#[should_panic]`, with its `expected` text, when it has one.
type ShouldPanic = Option<Option<&'static str>>;

/// The body's outcome (value or panic payload), the leak verdict, and
/// whether the check found leaks (also under `TASKLEAK=warn`).
type Outcome<T> = (Result<T, Box<dyn Any + Send>>, Result<(), Leaks>, bool);

/// How long a runtime whose check found leaks gets to shut down: its
/// leaked `spawn_blocking` closures or a worker blocked inside a poll may
/// never return, and the test must end.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(1);

/// Builds the runtime from `builder` (tracked), runs `body` inside a
/// `verify_none` scope, checks while the runtime is still alive, then shuts
/// the runtime down. Panics with the report when the test leaked.
///
/// A clean test drops its runtime as `#[tokio::test]` does. After a failed
/// check the runtime gets `SHUTDOWN_BOUND` (1 s) to stop, and the test ends
/// either way.
#[track_caller]
pub fn run_async<F>(flavor: Flavor, mut builder: Builder, options: Options, body: F) -> F::Output
where
    F: Future,
    F::Output: TestOutput,
{
    let tracked = crate::check::track_fresh(&mut builder);
    let expect = options.should_panic;
    match flavor {
        Flavor::CurrentThread | Flavor::MultiThread => {
            let rt = builder
                .build()
                .expect("taskleak: failed to build the test's tokio runtime");
            let guard = options.runtime(rt.handle().clone()).verify_none();
            // The test's own runtime: a task spawned onto it from any
            // thread is the test's.
            tracked.owner.claim_here();
            let ends = tracked.ends;
            let rt = Ending::new(rt);
            let outcome = run_in(&rt, body, guard, &ends);
            settle(outcome, rt, expect)
        }
        Flavor::Local => run_local(builder, options, body, tracked),
    }
}

#[cfg(taskleak_hooks)]
#[track_caller]
fn run_local<F>(mut builder: Builder, options: Options, body: F, tracked: Installed) -> F::Output
where
    F: Future,
    F::Output: TestOutput,
{
    let rt = builder
        .build_local(Default::default())
        .expect("taskleak: failed to build the test's tokio LocalRuntime");
    let expect = options.should_panic;
    let guard = options.runtime(rt.handle().clone()).verify_none();
    tracked.owner.claim_here();
    let ends = tracked.ends;
    let rt = Ending::new(rt);
    let outcome = run_in(&rt, body, guard, &ends);
    settle(outcome, rt, expect)
}

#[cfg(not(taskleak_hooks))]
fn run_local<F>(_: Builder, _: Options, _: F, _: Installed) -> F::Output
where
    F: Future,
    F::Output: TestOutput,
{
    panic!(
        "taskleak: flavor = \"local\" needs tokio's LocalRuntime, which tokio only builds with \
         `--cfg tokio_unstable` (in .cargo/config.toml: [build] rustflags = [\"--cfg\", \"tokio_unstable\"])"
    )
}

/// Runs body and check through `block_on`. When `block_on` itself panics
/// (a spawned task's panic shut the runtime down, `unhandled_panic =
/// "shutdown_runtime"`) while the check waited, the tasks it waited for
/// are reported before the panic goes on: the shutdown cancelled them.
fn run_in<R: Shut, F: Future>(
    rt: &Ending<R>,
    body: F,
    guard: crate::Guard,
    ends: &Ends,
) -> Outcome<F::Output> {
    let waiting = Arc::new(Mutex::new(None));
    let run = body_then_check(body, guard, waiting.clone());
    match panic::catch_unwind(AssertUnwindSafe(|| rt.runtime().block_on(run))) {
        Ok(outcome) => outcome,
        Err(payload) => {
            // The task that panicked ended last, after the shutdown
            // cancelled the others: it is not one of them.
            let panicked = ends.load(std::sync::atomic::Ordering::Relaxed);
            let leaks = waiting.lock().take().and_then(|w| w.into_leaks(panicked));
            if let Some((leaks, mode)) = leaks {
                rt.failed();
                let shut_down = message(&*payload).contains("shut down on unhandled panic");
                outputs::cancelled(&leaks, mode, shut_down);
            }
            drop(waiting);
            panic::resume_unwind(payload)
        }
    }
}

/// A panic payload's message, when it is text.
fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

/// Runs a synchronous test body inside a `verify_none` scope and checks it.
#[track_caller]
pub fn run_sync<T: TestOutput>(options: Options, body: impl FnOnce() -> T) -> T {
    let expect = options.should_panic;
    let guard = options.verify_none();
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    let verdict = guard.check();
    verdict_of(outcome, verdict, expect)
}

async fn body_then_check<F: Future>(
    body: F,
    guard: crate::Guard,
    waiting: Arc<Mutex<Option<Waiting>>>,
) -> Outcome<F::Output> {
    // Catch a failed assertion so the leak check still runs, in the
    // runtime, and the panic resumes afterwards with its own message.
    let outcome = CatchUnwind(Box::pin(body)).await;
    let (verdict, leaked) = guard.check_for_harness(waiting).await;
    (outcome, verdict, leaked)
}

/// The test's verdict: its own panic or `Err` first, then the leaks. The
/// report is out (printed, or the panic's message) before the runtime
/// shuts down, and that shutdown is bounded when the check found leaks.
#[track_caller]
fn settle<T: TestOutput, R: Shut>(
    (outcome, verdict, leaked): Outcome<T>,
    rt: Ending<R>,
    expect: ShouldPanic,
) -> T {
    if leaked {
        rt.failed();
    }
    // The panic hook prints the report; `rt` shuts down as it unwinds.
    verdict_of(outcome, verdict, expect)
}

/// Carries out how the test ends (`judge::test_end` decides): its own
/// panic or `Err` first, then the leaks; a leak fails a `#[should_panic]`
/// test too.
#[track_caller]
fn verdict_of<T: TestOutput>(
    outcome: Result<T, Box<dyn Any + Send>>,
    verdict: Result<(), Leaks>,
    expect: ShouldPanic,
) -> T {
    let body = match &outcome {
        Ok(out) => Body::Returned {
            failure: out.is_failure(),
        },
        Err(_) => Body::Panicked,
    };
    let report = verdict.as_ref().err().map(outputs::panic_message);
    let in_report = |text: &str| report.as_deref().is_some_and(|r| r.contains(text));
    let leaked: Option<&dyn Fn(&str) -> bool> = report.as_ref().map(|_| &in_report as _);
    let end = test_end(body, leaked, expect, T::returned().is_some());
    if let (true, Err(leaks)) = (end.print, &verdict) {
        outputs::print(leaks);
    }
    if end.should_panic_note {
        outputs::should_panic_note();
    }
    match (end.then, outcome) {
        (Then::Panic, _) => outputs::fail_with(report.unwrap_or_default(), Location::caller()),
        (Then::Return, Ok(out)) => out,
        (Then::ReturnUnit, _) => T::returned().expect("a unit test"),
        (_, Err(payload)) => panic::resume_unwind(payload),
        (Then::Resume, Ok(out)) => out, // a body that returned has no panic to resume
    }
}

/// Runtimes `#[leak_check]` builds, shut down as `#[tokio::test]` does, or
/// with a bound.
trait Shut {
    fn block_on<F: Future>(&self, future: F) -> F::Output;
    fn shut_down(self, bound: Duration);
}

impl Shut for tokio::runtime::Runtime {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Runtime::block_on(self, future)
    }

    fn shut_down(self, bound: Duration) {
        self.shutdown_timeout(bound);
    }
}

#[cfg(taskleak_hooks)]
impl Shut for tokio::runtime::LocalRuntime {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::LocalRuntime::block_on(self, future)
    }

    fn shut_down(self, bound: Duration) {
        self.shutdown_timeout(bound);
    }
}

/// The test's runtime, dropped (a clean test) or shut down with a bound
/// (a test that leaked) when this goes out of scope, also while unwinding.
struct Ending<R: Shut> {
    rt: Option<R>,
    leaked: Cell<bool>,
}

impl<R: Shut> Ending<R> {
    fn new(rt: R) -> Self {
        Ending {
            rt: Some(rt),
            leaked: Cell::new(false),
        }
    }

    fn runtime(&self) -> &R {
        self.rt.as_ref().expect("the runtime lives until the end")
    }

    /// The check found leaks: shut down with a bound.
    fn failed(&self) {
        self.leaked.set(true);
    }
}

impl<R: Shut> Drop for Ending<R> {
    fn drop(&mut self) {
        let Some(rt) = self.rt.take() else { return };
        if !self.leaked.get() {
            drop(rt); // exactly as #[tokio::test]
            return;
        }
        let start = Instant::now();
        rt.shut_down(SHUTDOWN_BOUND);
        if start.elapsed() >= SHUTDOWN_BOUND {
            outputs::notices::shutdown_gave_up(SHUTDOWN_BOUND);
        }
    }
}

struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
