//! Task dumps (`Handle::dump`, tokio's `taskdump` feature): where each
//! survivor is suspended right now.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::Id;

use crate::task::Frame;

/// A dump can hang while a worker is blocked; give up after this.
const DUMP_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) async fn suspended(handles: &[Handle]) -> HashMap<Id, Vec<Vec<Frame>>> {
    let current = Handle::try_current().ok();
    let mut out = HashMap::new();
    for handle in handles {
        // A current-thread runtime can only be dumped from inside itself.
        let inside = current.as_ref().is_some_and(|c| c.id() == handle.id());
        if handle.runtime_flavor() != RuntimeFlavor::MultiThread && !inside {
            continue;
        }
        let Some(dump) = within(DUMP_TIMEOUT, handle.dump()).await else {
            continue;
        };
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

/// `fut`, unless it takes longer than `limit`. Timed by a thread, not by
/// tokio's timer: the runtime may have no time driver, or a paused clock.
async fn within<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("taskleak-dump-timeout".into())
        .spawn(move || {
            std::thread::sleep(limit);
            let _ = tx.send(());
        })
        .ok()?;
    let mut fut = pin!(fut);
    let mut rx = pin!(rx);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        match rx.as_mut().poll(cx) {
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
