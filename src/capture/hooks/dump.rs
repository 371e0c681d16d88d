//! Task dumps (`Handle::dump`, tokio's `taskdump` feature): where each
//! survivor is suspended right now.
//!
//! A multi-thread runtime's dump makes every worker meet at a barrier, and
//! tokio 1.54 gives up on a worker after 250 ms without undoing its arrival:
//! a dump started while a worker is stuck in one long poll leaves the
//! barrier out of step and wedges the runtime for good (its shutdown then
//! never returns). So a dump is started only when no worker of the runtime
//! is inside a long poll, it runs on a thread of its own, and a dump that
//! does not finish in time is left to finish there, never cancelled.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::Id;

use crate::task::Frame;

/// One backtrace per tokio leaf future a task waits on, innermost first.
pub(crate) type Traces = HashMap<Id, Vec<Vec<Frame>>>;

/// A poll that has lasted this long when a dump would start may not end
/// within tokio's 250 ms barrier timeout.
const LONG_POLL: Duration = Duration::from_millis(10);
/// How long to wait for workers inside a long poll to leave it.
pub(crate) const POLL_WAIT: Duration = Duration::from_secs(1);
/// How long to wait for a started dump and its symbols.
pub(crate) const DUMP_WAIT: Duration = Duration::from_secs(5);

/// Dumps a multi-thread runtime, from any thread; `Err` says why there is
/// no dump.
pub(crate) fn of_multi_thread(handle: &Handle) -> Result<Traces, String> {
    debug_assert_eq!(handle.runtime_flavor(), RuntimeFlavor::MultiThread);
    let start = Instant::now();
    while let Some((thread, task, took)) = super::activity::long_poll(handle.id(), LONG_POLL) {
        if tokio::task::try_id().is_some_and(|me| crate::capture::registry::id_u64(me) == task) {
            return Err(format!(
                "the check itself blocks worker thread `{thread}` of this runtime (it runs \
                 inside task {task}), and a task dump must wait for every worker; use \
                 `check_async().await` there"
            ));
        }
        if start.elapsed() >= POLL_WAIT {
            return Err(format!(
                "worker thread `{thread}` is inside one poll of task {task} (for {}, after {} \
                 of waiting for it to end): tokio's task dump must wait for every worker, and \
                 one started now could wedge the runtime",
                crate::util::human(took),
                crate::util::human(POLL_WAIT),
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let runtime = handle.clone();
    crate::util::own_thread::spawn("taskleak-dump", move || {
        // A plain thread may block on a multi-thread runtime's handle;
        // the dump itself runs on a thread tokio starts for it.
        let dump = runtime.block_on(runtime.dump());
        let _ = tx.send(traces(&dump));
    })
    .map_err(|e| format!("could not start a thread for the task dump: {e}"))?;
    rx.recv_timeout(DUMP_WAIT).map_err(|_| {
        format!(
            "its runtime's task dump did not finish within {} (a worker may have entered a long \
             poll after it began); it was left to finish on its own thread, not cancelled",
            crate::util::human(DUMP_WAIT)
        )
    })
}

/// Dumps the current-thread runtime this thread is inside (`block_on`),
/// which tokio can only do from here. `None` when there is none.
pub(crate) fn of_this_thread() -> Option<Traces> {
    let handle = Handle::try_current().ok()?;
    if handle.runtime_flavor() == RuntimeFlavor::MultiThread {
        return None;
    }
    // A current-thread runtime's dump is done when first polled.
    let mut dump = pin!(handle.dump());
    match dump.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(dump) => Some(traces(&dump)),
        Poll::Pending => None,
    }
}

fn traces(dump: &tokio::runtime::Dump) -> Traces {
    let mut out = HashMap::new();
    for task in dump.tasks().iter() {
        let traces = task
            .trace()
            .resolve_backtraces()
            .iter()
            .map(|bt| {
                bt.frames()
                    .flat_map(|f| f.symbols())
                    .map(|s| {
                        Frame::new(
                            s.name_demangled()
                                .map(strip_hash)
                                .unwrap_or("<unknown>")
                                .to_owned(),
                            s.filename(),
                            s.lineno(),
                        )
                    })
                    .collect()
            })
            .collect();
        out.insert(task.id(), traces);
    }
    out
}

/// `foo::bar::h0123456789abcdef` → `foo::bar`.
fn strip_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            head
        }
        _ => name,
    }
}
