//! What `#[leak_check]` runs: build a tracked runtime, run the body in a
//! scope, check while the runtime is still alive, then drop it.
//!
//! The order matters: dropping a runtime cancels its tasks, which would
//! hide every leak, so the check happens inside `block_on`.

use std::any::Any;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::runtime::Builder;

use crate::__private::{Flavor, TestOutput};
use crate::BuilderExt;
use crate::config::Options;
use crate::report::Leaks;

/// The body's outcome (value or panic payload) and the leak verdict.
type Outcome<T> = (Result<T, Box<dyn Any + Send>>, Result<(), Leaks>);

/// Builds the runtime from `builder` (tracked), runs `body` inside a
/// `verify_none` scope, checks while the runtime is still alive, then drops
/// the runtime. Panics with the report when the test leaked.
pub fn run_async<F>(flavor: Flavor, mut builder: Builder, options: Options, body: F) -> F::Output
where
    F: Future,
    F::Output: TestOutput,
{
    builder.track_tasks();
    let (outcome, verdict) = match flavor {
        Flavor::CurrentThread | Flavor::MultiThread => {
            let rt = builder
                .build()
                .expect("taskleak: failed to build the test's tokio runtime");
            let guard = options.runtime(rt.handle().clone()).verify_none();
            let out = rt.block_on(body_then_check(body, guard));
            drop(rt); // only now: cancels what leaked, after it was reported
            out
        }
        Flavor::Local => run_local(builder, options, body),
    };
    settle(outcome, verdict)
}

#[cfg(taskleak_hooks)]
fn run_local<F: Future>(mut builder: Builder, options: Options, body: F) -> Outcome<F::Output> {
    let rt = builder
        .build_local(Default::default())
        .expect("taskleak: failed to build the test's tokio LocalRuntime");
    let guard = options.runtime(rt.handle().clone()).verify_none();
    let out = rt.block_on(body_then_check(body, guard));
    drop(rt);
    out
}

#[cfg(not(taskleak_hooks))]
fn run_local<F: Future>(_: Builder, _: Options, _: F) -> Outcome<F::Output> {
    panic!(
        "taskleak: flavor = \"local\" needs tokio's LocalRuntime, which tokio only builds with \
         `--cfg tokio_unstable` (in .cargo/config.toml: [build] rustflags = [\"--cfg\", \"tokio_unstable\"])"
    )
}

/// Runs a synchronous test body inside a `verify_none` scope and checks it.
pub fn run_sync<T: TestOutput>(options: Options, body: impl FnOnce() -> T) -> T {
    let guard = options.verify_none();
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    let verdict = guard.check();
    settle(outcome, verdict)
}

async fn body_then_check<F: Future>(body: F, guard: crate::Guard) -> Outcome<F::Output> {
    // Catch a failed assertion so the leak check still runs, in the
    // runtime, and the panic resumes afterwards with its own message.
    let outcome = CatchUnwind(Box::pin(body)).await;
    let verdict = guard.check_async().await;
    (outcome, verdict)
}

/// The test's verdict: its own panic or `Err` first, then the leaks.
fn settle<T: TestOutput>(outcome: Result<T, Box<dyn Any + Send>>, verdict: Result<(), Leaks>) -> T {
    match (outcome, verdict) {
        (Ok(out), Ok(())) => out,
        (Ok(out), Err(leaks)) if out.is_failure() => {
            // Both are reported: the leaks here, the `Err` by libtest.
            eprintln!("{}", leaks.for_stderr());
            out
        }
        (Ok(_), Err(leaks)) => panic!("{}", leaks.for_stderr()),
        (Err(payload), verdict) => {
            // The assertion message was printed when it panicked; the leaks
            // follow it, and the original panic resumes (no double panic).
            if let Err(leaks) = verdict {
                eprintln!("{}", leaks.for_stderr());
            }
            panic::resume_unwind(payload)
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
