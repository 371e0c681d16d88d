//! taskleak's hooks on one builder: installed by `track_tasks()`, kept as
//! values so that a hook the user sets afterwards through
//! [`crate::Tracked`] runs beside them instead of replacing them, and
//! watched, so that one replaced through tokio's builder anyway is found
//! out (see [`switched_off`]).

use std::panic::Location;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::Builder;

use super::Ends;
#[cfg(taskleak_hooks)]
use super::activity;
use crate::capture::scope::Owner;

/// What the hooks of one builder share with the rest of the crate.
pub(crate) struct Installed {
    /// The last task that ended on its runtimes.
    pub(crate) ends: Ends,
    /// The scope its runtimes belong to: the one open where `track_tasks()`
    /// was called, or the one the harness opens for the runtime it built.
    pub(crate) owner: Owner,
    /// taskleak's hooks, to compose a user's hook with.
    pub(crate) ours: Ours,
}

/// taskleak's hooks of one builder, as values: each closure installed on
/// the builder holds a copy of what its hook needs (no extra indirection
/// on the hot path) and one of `marks`, which tells whether the builder
/// still holds it (see [`Ours::replaced`]).
pub(crate) struct Ours {
    /// Where `track_tasks()` was called.
    at: &'static Location<'static>,
    /// The scope the runtime was configured in, for its threads.
    configured_in: Option<Arc<crate::capture::scope::Scope>>,
    #[cfg(taskleak_hooks)]
    tag: u64,
    #[cfg(taskleak_hooks)]
    token: Arc<Token>,
    #[cfg(taskleak_hooks)]
    owner: Owner,
    #[cfg(taskleak_hooks)]
    ends: Ends,
    /// One per hook kind, in [`HOOKS`]'s order.
    marks: [Arc<()>; HOOKS.len()],
}

/// The hooks taskleak installs, by tokio's setter names.
const HOOKS: [&str; 6] = [
    "on_thread_start",
    "on_thread_stop",
    "on_task_spawn",
    "on_before_task_poll",
    "on_after_task_poll",
    "on_task_terminate",
];

/// Whether `builder` has an `on_thread_start` or `on_thread_stop` hook
/// already. tokio 1.54 keeps them in private fields with no getter, so
/// they cannot be composed with; its `Debug` shows whether they are set
/// (it does not show the task hooks).
pub(crate) fn thread_hooks_set(builder: &Builder) -> bool {
    let shown = format!("{builder:?}");
    shown.contains("after_start: Some") || shown.contains("before_stop: Some")
}

/// Installs taskleak's hooks on `builder`; `at` is where `track_tasks()`
/// was called.
///
/// These replace any hook of the same kind set earlier on the builder
/// (tokio keeps one of each, and gives none back); `track_tasks()` refuses
/// a builder with thread hooks set (see [`thread_hooks_set`]).
pub(crate) fn install(builder: &mut Builder, at: &'static Location<'static>) -> Installed {
    let ends = Ends::default();
    let owner = Owner::here();
    let ours = Ours {
        at,
        // Stable hooks: know the runtime's own threads, which a check of
        // OS threads reports only for the scope the runtime was
        // configured in.
        configured_in: crate::capture::scope::current(),
        #[cfg(taskleak_hooks)]
        tag: activity::new_tag(),
        #[cfg(taskleak_hooks)]
        token: Arc::new(Token::new(at)),
        #[cfg(taskleak_hooks)]
        owner: owner.clone(),
        #[cfg(taskleak_hooks)]
        ends: ends.clone(),
        marks: Default::default(),
    };
    ours.on_thread_start(builder, || {});
    ours.on_thread_stop(builder, || {});
    #[cfg(taskleak_hooks)]
    {
        ours.on_task_spawn(builder, |_| {});
        ours.on_before_task_poll(builder, |_| {});
        ours.on_after_task_poll(builder, |_| {});
        ours.on_task_terminate(builder, |_| {});
    }
    Installed { ends, owner, ours }
}

impl Ours {
    /// The first of taskleak's hooks that no builder or runtime holds any
    /// more: one set through tokio's builder replaced it. Each hook's mark
    /// is held here and by the closure installed on the builder (which the
    /// runtimes built from it share), so here alone means replaced.
    pub(crate) fn replaced(&self) -> Option<&'static str> {
        let installed = if cfg!(taskleak_hooks) { 6 } else { 2 };
        HOOKS
            .iter()
            .zip(&self.marks)
            .take(installed)
            .find_map(|(name, mark)| (Arc::strong_count(mark) == 1).then_some(*name))
    }

    /// Remembers that `hook` was replaced: every check fails from now on.
    pub(crate) fn switched_off(&self, hook: &'static str) {
        note(SwitchedOff {
            at: self.at,
            hook,
            runtime: None,
        });
    }

    /// Sets `builder`'s `on_thread_start` to taskleak's, then `user`.
    pub(crate) fn on_thread_start(&self, b: &mut Builder, user: impl Fn() + Send + Sync + 'static) {
        let mark = self.marks[0].clone();
        let configured_in = self.configured_in.clone();
        #[cfg(taskleak_hooks)]
        let tag = self.tag;
        b.on_thread_start(move || {
            let _held = &mark;
            crate::capture::threads::runtime_thread_started(configured_in.clone());
            #[cfg(taskleak_hooks)]
            activity::thread_started(tag);
            user()
        });
    }

    /// Sets `builder`'s `on_thread_stop` to `user`, then taskleak's.
    pub(crate) fn on_thread_stop(&self, b: &mut Builder, user: impl Fn() + Send + Sync + 'static) {
        let mark = self.marks[1].clone();
        b.on_thread_stop(move || {
            let _held = &mark;
            user();
            crate::capture::threads::runtime_thread_stopped();
            #[cfg(taskleak_hooks)]
            activity::thread_stopped();
        });
    }
}

/// The task hooks, each taskleak's then the user's (the user's first at a
/// task's end).
#[cfg(taskleak_hooks)]
impl Ours {
    pub(crate) fn on_task_spawn(
        &self,
        b: &mut Builder,
        user: impl Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    ) {
        use std::sync::atomic::Ordering::Relaxed;
        let mark = self.marks[2].clone();
        let (tag, token, owner) = (self.tag, self.token.clone(), self.owner.clone());
        b.on_task_spawn(move |meta| {
            let _held = &mark;
            // Runs synchronously on the spawning thread before the first
            // poll, so `try_id()` is the spawning task (if any).
            if !token.spawned.load(Relaxed) {
                token.spawned.store(true, Relaxed);
            }
            super::LAST_HOOKED.set(Some(meta.id()));
            let current = tokio::task::try_id();
            let (id, at) = (meta.id(), meta.spawned_at());
            crate::capture::registry::spawned(id, at, current, Some(&owner), tag);
            user(meta)
        });
    }

    pub(crate) fn on_before_task_poll(
        &self,
        b: &mut Builder,
        user: impl Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    ) {
        let mark = self.marks[3].clone();
        let (tag, token) = (self.tag, self.token.clone());
        b.on_before_task_poll(move |meta| {
            let _held = &mark;
            // No activity slot: the spawn hook did not claim one (or a
            // newer task took it). If no spawn hook of this builder ever
            // ran, it is not taskleak's any more.
            if !activity::before_poll(meta.id(), tag) {
                token.polled_unseen();
            }
            user(meta)
        });
    }

    pub(crate) fn on_after_task_poll(
        &self,
        b: &mut Builder,
        user: impl Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    ) {
        let mark = self.marks[4].clone();
        let tag = self.tag;
        b.on_after_task_poll(move |meta| {
            let _held = &mark;
            user(meta);
            activity::after_poll(meta.id(), tag)
        });
    }

    pub(crate) fn on_task_terminate(
        &self,
        b: &mut Builder,
        user: impl Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    ) {
        use crate::capture::registry;
        let mark = self.marks[5].clone();
        let ends = self.ends.clone();
        b.on_task_terminate(move |meta| {
            let _held = &mark;
            user(meta);
            registry::terminated(meta.id());
            ends.store(
                registry::id_u64(meta.id()),
                std::sync::atomic::Ordering::Relaxed,
            );
        });
    }
}

/// Set by one builder's spawn hook, looked at by its poll hook: a poll on
/// a runtime whose spawn hook never ran means that hook is not taskleak's
/// any more.
#[cfg(taskleak_hooks)]
struct Token {
    spawned: std::sync::atomic::AtomicBool,
    noted: std::sync::atomic::AtomicBool,
    at: &'static Location<'static>,
}

#[cfg(taskleak_hooks)]
impl Token {
    fn new(at: &'static Location<'static>) -> Token {
        Token {
            spawned: Default::default(),
            noted: Default::default(),
            at,
        }
    }

    /// A task was polled without an activity slot: if this builder's
    /// spawn hook never ran, its runtime runs without taskleak's spawn
    /// hook; remembered once.
    #[cold]
    fn polled_unseen(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.spawned.load(Relaxed) || self.noted.swap(true, Relaxed) {
            return;
        }
        let runtime = tokio::runtime::Handle::try_current()
            .ok()
            .map(|h| format!("{:?}", super::runtime_key(&h)));
        note(SwitchedOff {
            at: self.at,
            hook: "on_task_spawn",
            runtime,
        });
    }
}

fn note(off: SwitchedOff) {
    SWITCHED_OFF.lock().push(off);
    ANY_SWITCHED_OFF.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A runtime set up with `track_tasks()` whose spawn hook was replaced
/// afterwards: no check can see its tasks.
#[derive(Clone, Debug)]
pub(crate) struct SwitchedOff {
    /// Where `track_tasks()` was called.
    pub(crate) at: &'static Location<'static>,
    /// The hook that was replaced.
    pub(crate) hook: &'static str,
    /// The runtime, as its id shows.
    pub(crate) runtime: Option<String>,
}

static SWITCHED_OFF: Mutex<Vec<SwitchedOff>> = Mutex::new(Vec::new());
static ANY_SWITCHED_OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The first runtime found running with tracking switched off, if any.
pub(crate) fn switched_off() -> Option<SwitchedOff> {
    if !ANY_SWITCHED_OFF.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    SWITCHED_OFF.lock().first().cloned()
}
