//! Scopes: which test a task belongs to.
//!
//! A guard opens a scope on its thread. Tasks spawned from that thread
//! outside any task join it; tasks spawned by a task join their parent's
//! scope, until that scope's check is over (the whole rule, with its
//! fallbacks, is `registry::place`). Scopes nest: a task counts toward its scope and every enclosing
//! one, so an outer check also sees what an inner guard let go.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

pub(crate) struct Scope {
    /// The test's name: libtest names each test's thread after the test.
    pub(crate) name: Option<String>,
    pub(crate) parent: Option<Arc<Scope>>,
    /// Live tracked tasks in this scope and its nested scopes, split in
    /// lanes (see [`lane`]) so that workers spawning at once do not bounce
    /// one cache line between them. A task leaves the lane it entered, so
    /// no lane goes below zero and a sum of lanes is never short of a task
    /// that stayed live while they were read.
    alive: [Lane; LANES],
    /// A check ran on this scope: its tasks are claimed (see the suite
    /// gate), and it takes no new ones.
    checked: AtomicBool,
    /// Its check is over (judged): a task of this scope that spawns from
    /// now on spawns for no checked scope (see [`Scope::finished`]).
    done: AtomicBool,
    /// A path ignore rule of its check needs spawn-site frames, even where
    /// `TASKLEAK_BACKTRACE` turned their capture off.
    needs_frames: AtomicBool,
    /// Checks blocked on `changed`; terminations only lock when non-zero.
    waiters: AtomicUsize,
    /// Something other than a task's end has news for a waiting check
    /// (symbols it waited for are in): see [`Scope::poke`].
    poked: AtomicBool,
    lock: Mutex<()>,
    changed: Condvar,
}

const LANES: usize = 8;

#[repr(align(128))] // a lane per cache line pair: no false sharing
struct Lane(AtomicUsize);

/// This thread's lane in every scope's live count.
pub(crate) fn lane() -> u8 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static LANE: u8 = (NEXT.fetch_add(1, Relaxed) % LANES) as u8;
    }
    LANE.try_with(|l| *l).unwrap_or(0)
}

thread_local! {
    /// The open scopes of this thread, innermost last.
    static OPEN: RefCell<Vec<Arc<Scope>>> = const { RefCell::new(Vec::new()) };
}

/// Every scope opened and not yet checked, in the whole process: for a
/// spawn that neither a thread nor a task places (see [`sole_open`]).
static UNCHECKED: Mutex<Vec<Weak<Scope>>> = Mutex::new(Vec::new());

impl Scope {
    /// Opens a scope nested in this thread's innermost one, and makes it
    /// the thread's current scope until [`Scope::close`].
    pub(crate) fn open() -> Arc<Scope> {
        let name = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map(str::to_owned);
        let scope = Arc::new(Scope {
            name,
            parent: current(),
            alive: [const { Lane(AtomicUsize::new(0)) }; LANES],
            checked: AtomicBool::new(false),
            done: AtomicBool::new(false),
            needs_frames: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
            poked: AtomicBool::new(false),
            lock: Mutex::new(()),
            changed: Condvar::new(),
        });
        OPEN.with(|open| open.borrow_mut().push(scope.clone()));
        let mut unchecked = UNCHECKED.lock();
        unchecked.retain(|s| s.strong_count() > 0);
        unchecked.push(Arc::downgrade(&scope));
        scope
    }

    /// Makes an existing scope this thread's current one (a thread spawned
    /// on behalf of a test), until the returned value is dropped.
    pub(crate) fn adopt(scope: Arc<Scope>) -> Adopted {
        OPEN.with(|open| open.borrow_mut().push(scope.clone()));
        Adopted(scope)
    }

    /// Stops new spawns from this thread joining the scope. Tasks already in
    /// it stay in it, and so do the tasks they spawn.
    pub(crate) fn close(self: &Arc<Self>) {
        // try_with: a guard may be dropped during thread-local teardown.
        let _ = OPEN.try_with(|open| {
            let mut open = open.borrow_mut();
            if let Some(i) = open.iter().rposition(|s| Arc::ptr_eq(s, self)) {
                open.remove(i);
            }
        });
    }

    /// The check started: the scope's tasks are claimed, and from now on
    /// it takes no new task (a thread that adopted it spawns into no
    /// scope, so the suite gate still sees what it leaks).
    pub(crate) fn mark_checked(&self) {
        self.checked.store(true, SeqCst);
        UNCHECKED
            .lock()
            .retain(|s| s.strong_count() > 0 && !std::ptr::eq(s.as_ptr(), self));
    }

    pub(crate) fn is_checked(&self) -> bool {
        self.checked.load(SeqCst)
    }

    /// The check is over: its verdict is out, and nothing spawned from now
    /// on can change it.
    pub(crate) fn mark_done(&self) {
        self.done.store(true, SeqCst);
    }

    /// Is every check that would see this scope's tasks over (this
    /// scope's and each enclosing one's)? Then a task this scope's tasks
    /// spawn would be seen by no check: it is placed as if spawned by no
    /// task (see `registry::place`). While an enclosing check is still to
    /// come, it stays here and that check sees it.
    pub(crate) fn finished(&self) -> bool {
        let mut s = Some(self);
        while let Some(scope) = s {
            if !scope.done.load(SeqCst) {
                return false;
            }
            s = scope.parent.as_deref();
        }
        true
    }

    /// Spawns into this scope capture frames whatever `TASKLEAK_BACKTRACE`
    /// says (a path ignore rule of its check needs them).
    pub(crate) fn require_frames(&self) {
        self.needs_frames.store(true, Relaxed);
    }

    /// Does a check of this scope or an enclosing one need frames?
    pub(crate) fn needs_frames(&self) -> bool {
        let mut s = Some(self);
        while let Some(scope) = s {
            if scope.needs_frames.load(Relaxed) {
                return true;
            }
            s = scope.parent.as_deref();
        }
        false
    }

    /// Did a check run on this scope or one enclosing it?
    pub(crate) fn claimed(&self) -> bool {
        let mut s = Some(self);
        while let Some(scope) = s {
            if scope.checked.load(SeqCst) {
                return true;
            }
            s = scope.parent.as_deref();
        }
        false
    }

    pub(crate) fn alive(&self) -> usize {
        self.alive.iter().map(|l| l.0.load(SeqCst)).sum()
    }

    /// Is `self` this scope or one it encloses?
    pub(crate) fn within(self: &Arc<Self>, outer: &Arc<Scope>) -> bool {
        let mut s = Some(self);
        while let Some(scope) = s {
            if Arc::ptr_eq(scope, outer) {
                return true;
            }
            s = scope.parent.as_ref();
        }
        false
    }

    /// A task joined this scope, counted in `lane`.
    pub(crate) fn enter(self: &Arc<Self>, lane: u8) {
        let mut s = Some(self);
        while let Some(scope) = s {
            scope.alive[usize::from(lane)].0.fetch_add(1, SeqCst);
            s = scope.parent.as_ref();
        }
    }

    /// A task of this scope, counted in `lane`, terminated.
    pub(crate) fn exit(self: &Arc<Self>, lane: u8) {
        let mut s = Some(self);
        while let Some(scope) = s {
            scope.alive[usize::from(lane)].0.fetch_sub(1, SeqCst);
            // SeqCst pairs with `wait_for_change`: either the waiter sees the
            // new count, or we see the waiter and wake it under the lock.
            if scope.waiters.load(SeqCst) > 0 {
                let _held = scope.lock.lock();
                scope.changed.notify_all();
            }
            s = scope.parent.as_ref();
        }
    }

    /// Wakes a check waiting in [`Scope::wait_for_change`] though no task
    /// ended.
    pub(crate) fn poke(&self) {
        let _held = self.lock.lock();
        self.poked.store(true, SeqCst);
        self.changed.notify_all();
    }

    /// Blocks until the live count differs from `seen`, `deadline` passes,
    /// or the scope is poked. Returns the current count. Woken by the
    /// terminate event itself, so a check returns as soon as the last task
    /// ends. `None`: no deadline (a grace period too long to add to now).
    pub(crate) fn wait_for_change(&self, seen: usize, deadline: Option<Instant>) -> usize {
        self.waiters.fetch_add(1, SeqCst);
        let mut held = self.lock.lock();
        while self.alive() == seen && !self.poked.swap(false, SeqCst) {
            match deadline {
                Some(d) => {
                    if self.changed.wait_until(&mut held, d).timed_out() {
                        break;
                    }
                }
                None => self.changed.wait(&mut held),
            }
        }
        drop(held);
        self.waiters.fetch_sub(1, SeqCst);
        self.alive()
    }
}

/// A scope adopted by a thread; dropping it lets go.
pub(crate) struct Adopted(Arc<Scope>);

impl Drop for Adopted {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The scope a runtime belongs to: the one open where it was set up
/// (`track_tasks()` inside a test), or the one `#[leak_check]` opened for
/// the runtime it built. A task spawned onto the runtime that neither a
/// parent task nor its thread places joins it (see `registry::place`).
#[derive(Clone, Default)]
pub(crate) struct Owner(Arc<parking_lot::RwLock<Option<Arc<Scope>>>>);

impl Owner {
    /// Owned by this thread's open scope, if any.
    pub(crate) fn here() -> Owner {
        Owner(Arc::new(parking_lot::RwLock::new(current_unchecked())))
    }

    /// From now on owned by this thread's open scope (the harness, once
    /// the test's scope is open).
    pub(crate) fn claim_here(&self) {
        *self.0.write() = current_unchecked();
    }

    pub(crate) fn get(&self) -> Option<Arc<Scope>> {
        self.0.read().clone()
    }
}

/// This thread's innermost open scope.
pub(crate) fn current() -> Option<Arc<Scope>> {
    OPEN.try_with(|open| open.borrow().last().cloned())
        .ok()
        .flatten()
}

/// The scope a task spawned now from this thread (outside any task) joins:
/// the innermost open one not yet checked. A thread that adopted a test's
/// scope may outlive the test's check; what it spawns after that is no
/// longer the test's.
pub(crate) fn current_unchecked() -> Option<Arc<Scope>> {
    let mut s = current();
    while let Some(scope) = s.as_ref().filter(|s| s.is_checked()) {
        s = scope.parent.clone();
    }
    s
}

/// The one scope open in the process, the innermost when they nest; or,
/// when tests in several threads have scopes open, their names.
pub(crate) fn sole_open() -> Result<Arc<Scope>, Vec<String>> {
    let open: Vec<Arc<Scope>> = UNCHECKED
        .lock()
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|s| !s.is_checked())
        .collect();
    // Leave out scopes that enclose another: the inner one is more precise.
    let innermost: Vec<&Arc<Scope>> = open
        .iter()
        .filter(|outer| {
            !open
                .iter()
                .any(|inner| !Arc::ptr_eq(inner, outer) && inner.within(outer))
        })
        .collect();
    match innermost.as_slice() {
        [one] => Ok(Arc::clone(one)),
        many => Err(many
            .iter()
            .map(|s| s.name.clone().unwrap_or_else(|| "<unnamed thread>".into()))
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn nested_scopes_count_toward_their_parents() {
        let outer = Scope::open();
        let inner = Scope::open();
        assert!(Arc::ptr_eq(inner.parent.as_ref().unwrap(), &outer));
        inner.enter(lane());
        assert_eq!((outer.alive(), inner.alive()), (1, 1));
        assert!(inner.within(&outer) && !outer.within(&inner));
        inner.close();
        assert!(Arc::ptr_eq(&current().unwrap(), &outer));
        inner.exit(lane());
        assert_eq!((outer.alive(), inner.alive()), (0, 0));
        outer.close();
        assert!(current().is_none());
    }

    /// Waits on a scope with one live task while another thread, 20 ms
    /// later, does `act`: the count the wait returned, and whether it
    /// returned long before its 10 s deadline.
    fn wait_while(act: fn(&Arc<Scope>)) -> (usize, bool) {
        let scope = Scope::open();
        scope.close();
        scope.enter(3);
        let s = scope.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            act(&s);
        });
        let start = Instant::now();
        let seen = scope.wait_for_change(1, Some(start + Duration::from_secs(10)));
        let woken = start.elapsed() < Duration::from_secs(5);
        t.join().unwrap();
        if seen == 1 {
            scope.exit(3);
        }
        (seen, woken)
    }

    #[test]
    fn a_waiter_wakes_on_exit_not_on_the_deadline() {
        assert_eq!(wait_while(|s| s.exit(3)), (0, true));
    }

    /// The lookup thread's news wakes a check though no task ended.
    #[test]
    fn a_poke_wakes_a_waiter_whose_tasks_are_still_alive() {
        assert_eq!(wait_while(|s| s.poke()), (1, true), "woken by the poke");
    }
}
