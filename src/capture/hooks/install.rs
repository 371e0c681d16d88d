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

type ThreadHook = Arc<dyn Fn() + Send + Sync>;
#[cfg(taskleak_hooks)]
type TaskHook = Arc<dyn Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync>;

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

/// taskleak's hooks of one builder.
pub(crate) struct Ours {
    /// Where `track_tasks()` was called.
    at: &'static Location<'static>,
    thread_start: ThreadHook,
    thread_stop: ThreadHook,
    #[cfg(taskleak_hooks)]
    spawn: TaskHook,
    #[cfg(taskleak_hooks)]
    before_poll: TaskHook,
    #[cfg(taskleak_hooks)]
    after_poll: TaskHook,
    #[cfg(taskleak_hooks)]
    terminate: TaskHook,
}

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
    // Stable hooks: know the runtime's own threads, which a check of OS
    // threads reports only for the scope the runtime was configured in.
    let configured_in = crate::capture::scope::current();
    #[cfg(taskleak_hooks)]
    let tag = activity::new_tag();
    let thread_start: ThreadHook = Arc::new(move || {
        crate::capture::threads::runtime_thread_started(configured_in.clone());
        #[cfg(taskleak_hooks)]
        activity::thread_started(tag);
    });
    let thread_stop: ThreadHook = Arc::new(|| {
        crate::capture::threads::runtime_thread_stopped();
        #[cfg(taskleak_hooks)]
        activity::thread_stopped();
    });
    #[cfg(taskleak_hooks)]
    let ours = {
        use crate::capture::registry;
        use std::sync::atomic::Ordering::Relaxed;
        let token = Arc::new(Token::new(at));
        let spawn: TaskHook = {
            let (token, owner) = (token.clone(), owner.clone());
            Arc::new(move |meta| {
                // Runs synchronously on the spawning thread before the
                // first poll, so `try_id()` is the spawning task (if any).
                if !token.spawned.load(Relaxed) {
                    token.spawned.store(true, Relaxed);
                }
                activity::spawned(meta.id(), tag);
                super::LAST_HOOKED.set(Some(meta.id()));
                let current = tokio::task::try_id();
                registry::spawned(meta.id(), meta.spawned_at(), current, Some(&owner));
            })
        };
        let before_poll: TaskHook = Arc::new(move |meta| {
            // A task polled on a runtime whose spawn hook never ran: ours
            // was replaced after `track_tasks()`.
            if !token.spawned.load(Relaxed) {
                token.switched_off();
            }
            activity::before_poll(meta.id(), tag)
        });
        let after_poll: TaskHook = Arc::new(move |meta| activity::after_poll(meta.id(), tag));
        let terminate: TaskHook = {
            let ends = ends.clone();
            Arc::new(move |meta| {
                registry::terminated(meta.id());
                activity::terminated(meta.id());
                ends.store(registry::id_u64(meta.id()), Relaxed);
            })
        };
        Ours {
            at,
            thread_start,
            thread_stop,
            spawn,
            before_poll,
            after_poll,
            terminate,
        }
    };
    #[cfg(not(taskleak_hooks))]
    let ours = Ours {
        at,
        thread_start,
        thread_stop,
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
    /// more: one set through tokio's builder replaced it. Each hook is
    /// held here and by the closure installed on the builder (which the
    /// runtimes built from it share), so here alone means replaced.
    pub(crate) fn replaced(&self) -> Option<&'static str> {
        let alone = |count: usize| count == 1;
        #[allow(unused_mut)] // without the cfg, no task hooks
        let mut hooks = vec![
            (
                "on_thread_start",
                alone(Arc::strong_count(&self.thread_start)),
            ),
            (
                "on_thread_stop",
                alone(Arc::strong_count(&self.thread_stop)),
            ),
        ];
        #[cfg(taskleak_hooks)]
        hooks.extend([
            ("on_task_spawn", alone(Arc::strong_count(&self.spawn))),
            (
                "on_before_task_poll",
                alone(Arc::strong_count(&self.before_poll)),
            ),
            (
                "on_after_task_poll",
                alone(Arc::strong_count(&self.after_poll)),
            ),
            (
                "on_task_terminate",
                alone(Arc::strong_count(&self.terminate)),
            ),
        ]);
        hooks
            .into_iter()
            .find_map(|(name, gone)| gone.then_some(name))
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
        let ours = self.thread_start.clone();
        b.on_thread_start(move || {
            ours();
            user()
        });
    }

    /// Sets `builder`'s `on_thread_stop` to `user`, then taskleak's.
    pub(crate) fn on_thread_stop(&self, b: &mut Builder, user: impl Fn() + Send + Sync + 'static) {
        let ours = self.thread_stop.clone();
        b.on_thread_stop(move || {
            user();
            ours()
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
        let ours = self.spawn.clone();
        b.on_task_spawn(move |meta| {
            ours(meta);
            user(meta)
        });
    }

    pub(crate) fn on_before_task_poll(
        &self,
        b: &mut Builder,
        user: impl Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    ) {
        let ours = self.before_poll.clone();
        b.on_before_task_poll(move |meta| {
            ours(meta);
            user(meta)
        });
    }

    pub(crate) fn on_after_task_poll(
        &self,
        b: &mut Builder,
        user: impl Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    ) {
        let ours = self.after_poll.clone();
        b.on_after_task_poll(move |meta| {
            user(meta);
            ours(meta)
        });
    }

    pub(crate) fn on_task_terminate(
        &self,
        b: &mut Builder,
        user: impl Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    ) {
        let ours = self.terminate.clone();
        b.on_task_terminate(move |meta| {
            user(meta);
            ours(meta)
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

    /// Remembers, once, that this builder's runtime runs without
    /// taskleak's spawn hook.
    #[cold]
    fn switched_off(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.noted.swap(true, Relaxed) {
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
