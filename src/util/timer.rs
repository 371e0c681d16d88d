//! A bounded wait for a future, timed by a thread.

use std::future::Future;
use std::time::Duration;

/// `fut`, unless it takes longer than `limit`. Timed by a thread, not by
/// tokio's timer: the runtime may have no time driver, or a paused clock.
/// The timer thread ends as soon as `fut` does.
pub(crate) async fn within<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (cancel, cancelled) = std::sync::mpsc::channel::<()>();
    super::own_thread::spawn("taskleak-timer", move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(limit) {
            let _ = tx.send(());
        }
    })
    .ok()?;
    let mut fut = std::pin::pin!(fut);
    let mut rx = std::pin::pin!(rx);
    let out = std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(out));
        }
        rx.as_mut().poll(cx).map(|_| None)
    })
    .await;
    drop(cancel);
    out
}
