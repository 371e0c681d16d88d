//! Spawning what tokio's hooks do not see, so that checks see it anyway:
//! blocking closures, `LocalSet` tasks, and plain threads.
//!
//! Each is a drop-in replacement for the tokio or std function of the same
//! name that also records the spawn site and the scope.

use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::task::{Id, JoinHandle};

use crate::capture::registry::{self, Kind};
use crate::capture::scope::Scope;

/// `tokio::task::spawn_blocking`, recorded: a closure still running after
/// the grace period is reported as a leaked blocking task, with this call's
/// location as its spawn site.
///
/// tokio fires no spawn hook for blocking tasks, so without this wrapper a
/// check can only count them (see docs/what-taskleak-sees.md).
///
/// ```
/// # use taskleak::BuilderExt;
/// # let rt = tokio::runtime::Builder::new_multi_thread().enable_all().track_tasks().build().unwrap();
/// let guard = taskleak::verify_none();
/// rt.block_on(async {
///     let sum = taskleak::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap();
///     assert_eq!(sum, 55);
/// });
/// guard.check().unwrap();
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let at = Location::caller();
    let spawner = tokio::task::try_id();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let handle = tokio::task::spawn_blocking(move || {
        // Forget the record when the closure ends, even by panic, also on
        // runtimes whose terminate hook would not.
        struct Ended(Option<Id>);
        impl Drop for Ended {
            fn drop(&mut self) {
                if let Some(id) = self.0 {
                    registry::terminated(id);
                }
            }
        }
        let _wait_for_the_record = done_rx.recv();
        let _ended = Ended(tokio::task::try_id());
        f()
    });
    // Recorded before the closure may start (it waits for `done_tx`), so a
    // quick closure cannot end before its record exists.
    registry::spawned_as(Kind::Blocking, handle.id(), at, spawner, None);
    let _ = done_tx.send(());
    handle
}

/// `tokio::task::spawn_local`, recorded: for tasks on a `LocalSet`, where
/// tokio runs no task hooks. (On a `LocalRuntime` the hooks do run, and
/// plain `tokio::task::spawn_local` is tracked already.)
///
/// ```
/// # use taskleak::BuilderExt;
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().track_tasks().build().unwrap();
/// let guard = taskleak::verify_none();
/// let local = tokio::task::LocalSet::new();
/// local.block_on(&rt, async {
///     let rc = std::rc::Rc::new(5); // !Send is fine
///     let n = taskleak::spawn_local(async move { *rc + 1 }).await.unwrap();
///     assert_eq!(n, 6);
/// });
/// guard.check().unwrap();
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let at = Location::caller();
    let spawner = tokio::task::try_id();
    let id = Rc::new(Cell::new(None));
    let handle = tokio::task::spawn_local(ForgetOnDrop {
        future: Box::pin(future),
        id: id.clone(),
    });
    // A local task is not polled before this returns: recording it after
    // the spawn cannot race with its end.
    registry::spawned_as(Kind::Local, handle.id(), at, spawner, None);
    id.set(Some(handle.id()));
    handle
}

/// Wraps a local task's future: dropping it (completion, abort, or the
/// `LocalSet` going away) forgets the record.
struct ForgetOnDrop<F: ?Sized> {
    id: Rc<Cell<Option<Id>>>,
    future: Pin<Box<F>>,
}

impl<F: Future + ?Sized> Future for ForgetOnDrop<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<F: ?Sized> Drop for ForgetOnDrop<F> {
    fn drop(&mut self) {
        if let Some(id) = self.id.get() {
            registry::terminated(id);
        }
    }
}

/// Threads that carry the spawning test's scope.
pub mod thread {
    use super::*;

    /// `std::thread::spawn`, but tasks the new thread spawns (outside any
    /// task) belong to the spawning test's scope, as if the test body had
    /// spawned them.
    ///
    /// ```
    /// # use taskleak::BuilderExt;
    /// # let rt = tokio::runtime::Builder::new_multi_thread().enable_all().track_tasks().build().unwrap();
    /// let handle = rt.handle().clone();
    /// let guard = taskleak::verify_none();
    /// taskleak::thread::spawn(move || {
    ///     handle.spawn(std::future::pending::<()>()); // the test's leak
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(guard.check().unwrap_err().tasks().len(), 1);
    /// ```
    pub fn spawn<F, T>(f: F) -> std::thread::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let scope = registry::scope_here(tokio::task::try_id());
        std::thread::spawn(move || {
            let _adopted = scope.map(Scope::adopt);
            f()
        })
    }
}
