//! What `track_tasks()` does besides installing the hooks: raise a bad
//! configuration where the runtime is built, capture frames when a rule
//! of the process needs them, and arm the end of the binary; and the
//! builder it returns, whose hook setters keep taskleak's hooks.

use std::panic::Location;

use tokio::runtime::Builder;

use crate::capture::hooks::{self, Installed, Ours};

/// [`BuilderExt::track_tasks`](crate::BuilderExt::track_tasks), returning
/// what the harness watches.
///
/// # Panics
///
/// When `builder` has an `on_thread_start` or `on_thread_stop` hook
/// already: tokio cannot give it back to run beside taskleak's, so it
/// would be dropped silently.
#[track_caller]
pub(crate) fn track(builder: &mut Builder) -> Installed {
    let at = Location::caller();
    if hooks::thread_hooks_set(builder) {
        panic!(
            "taskleak: track_tasks() at {at} was called on a tokio Builder that has an \
             on_thread_start or on_thread_stop hook already (or was tracked already). tokio \
             keeps one hook of each kind and cannot give yours back to run beside taskleak's, \
             so it would be dropped. Set it after track_tasks(), which runs both: \
             `Builder::new_multi_thread().track_tasks().on_thread_start(f)`"
        );
    }
    install_on(builder, at)
}

/// [`track`] for a builder `#[leak_check]` made itself (`Builder::new_*`
/// and the attribute's settings, none of which sets a hook), so without
/// looking for thread hooks: that look formats the whole builder, which
/// every test paid for.
#[track_caller]
pub(crate) fn track_fresh(builder: &mut Builder) -> Installed {
    install_on(builder, Location::caller())
}

fn install_on(builder: &mut Builder, at: &'static Location<'static>) -> Installed {
    let base = crate::config::base(); // raises a configuration error here
    if let Some(choice) = base.backtraces {
        // A path rule of the process's needs frames to be judged.
        let path_rule = base.ignore.iter().any(crate::config::Ignore::is_path);
        let frames = choice == crate::config::Backtraces::Full || path_rule;
        crate::capture::walk::CAPTURE_FRAMES.store(frames, std::sync::atomic::Ordering::Relaxed);
    }
    #[cfg(taskleak_old_tokio)]
    crate::outputs::notices::old_tokio();
    crate::suite::rules::register_shared(&base.ignore); // the gate uses them
    crate::exit::arm();
    crate::exit::arm_gate_if_configured();
    hooks::install(builder, at)
}

/// Fails the check when a runtime's tracking was switched off after
/// `track_tasks()`: its tasks are invisible to every check, so no check
/// may pass as if they were not there. (Not while the thread is already
/// panicking: a second panic would abort.)
#[track_caller]
pub(crate) fn verify() {
    let Some(off) = hooks::switched_off() else {
        return;
    };
    if std::thread::panicking() {
        return;
    }
    let runtime = off.runtime.map(|r| format!(" ({r})")).unwrap_or_default();
    let hook = off.hook;
    panic!(
        "taskleak: tracking was switched off on the tokio runtime{runtime} set up with \
         track_tasks() at {}: its {hook} hook was set through tokio's Builder after \
         track_tasks() (once another builder method returned the plain Builder), which replaced \
         taskleak's (tokio keeps one hook of each kind), so checks cannot see that runtime's \
         tasks. Set hooks on what track_tasks() returns, which runs both: \
         `Builder::new_multi_thread().enable_all().track_tasks().{hook}(f)`",
        off.at
    );
}

/// A tokio runtime [`Builder`] with taskleak's hooks installed, returned
/// by [`track_tasks`](crate::BuilderExt::track_tasks). It is the builder
/// (it derefs to it, so every builder method works on it), except that
/// its hook setters keep taskleak's hooks: yours runs beside them.
///
/// tokio keeps one hook of each kind, so a hook set through the plain
/// builder after `track_tasks()` (once another builder method returned
/// it) replaces taskleak's; a check then fails, saying tracking was
/// switched off, rather than pass blind. Set hooks right after
/// `track_tasks()`, or through a binding of what it returns.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use taskleak::BuilderExt;
///
/// let started = Arc::new(AtomicUsize::new(0));
/// let count = started.clone();
/// let rt = tokio::runtime::Builder::new_multi_thread()
///     .worker_threads(2)
///     .enable_all()
///     .track_tasks()
///     .on_thread_start(move || {
///         count.fetch_add(1, Ordering::Relaxed); // runs, and so does taskleak's
///     })
///     .build()
///     .unwrap();
/// let guard = taskleak::verify_none();
/// rt.spawn(std::future::pending::<()>());
/// assert_eq!(guard.check().unwrap_err().tasks().len(), 1); // still tracked
/// assert!(started.load(Ordering::Relaxed) >= 2);
/// ```
pub struct Tracked<'a> {
    builder: &'a mut Builder,
    ours: Ours,
}

impl<'a> Tracked<'a> {
    pub(crate) fn new(builder: &'a mut Builder, ours: Ours) -> Tracked<'a> {
        Tracked { builder, ours }
    }

    /// tokio's [`Builder::on_thread_start`], run after taskleak's.
    ///
    /// ```
    /// # use taskleak::BuilderExt;
    /// let rt = tokio::runtime::Builder::new_multi_thread()
    ///     .track_tasks()
    ///     .on_thread_start(|| println!("a runtime thread started"))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_thread_start<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.ours.on_thread_start(self.builder, f);
        self
    }

    /// tokio's [`Builder::on_thread_stop`], run before taskleak's.
    ///
    /// ```
    /// # use taskleak::BuilderExt;
    /// let rt = tokio::runtime::Builder::new_multi_thread()
    ///     .track_tasks()
    ///     .on_thread_stop(|| println!("a runtime thread stopped"))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_thread_stop<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.ours.on_thread_stop(self.builder, f);
        self
    }
}

/// The task hooks (they need `--cfg tokio_unstable`, as tokio's do).
#[cfg(taskleak_hooks)]
impl Tracked<'_> {
    /// tokio's [`Builder::on_task_spawn`], run after taskleak's.
    ///
    /// ```
    /// # use taskleak::BuilderExt;
    /// let rt = tokio::runtime::Builder::new_current_thread()
    ///     .track_tasks()
    ///     .on_task_spawn(|meta| println!("spawned {}", meta.id()))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_task_spawn<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    {
        self.ours.on_task_spawn(self.builder, f);
        self
    }

    /// tokio's [`Builder::on_before_task_poll`], run after taskleak's.
    ///
    /// ```
    /// # use taskleak::BuilderExt;
    /// let rt = tokio::runtime::Builder::new_current_thread()
    ///     .track_tasks()
    ///     .on_before_task_poll(|_meta| {})
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_before_task_poll<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    {
        self.ours.on_before_task_poll(self.builder, f);
        self
    }

    /// tokio's [`Builder::on_after_task_poll`], run before taskleak's.
    ///
    /// ```
    /// # use taskleak::BuilderExt;
    /// let rt = tokio::runtime::Builder::new_current_thread()
    ///     .track_tasks()
    ///     .on_after_task_poll(|_meta| {})
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_after_task_poll<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    {
        self.ours.on_after_task_poll(self.builder, f);
        self
    }

    /// tokio's [`Builder::on_task_terminate`], run before taskleak's.
    ///
    /// ```
    /// # use taskleak::BuilderExt;
    /// let rt = tokio::runtime::Builder::new_current_thread()
    ///     .track_tasks()
    ///     .on_task_terminate(|meta| println!("ended {}", meta.id()))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_task_terminate<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&tokio::runtime::TaskMeta<'_>) + Send + Sync + 'static,
    {
        self.ours.on_task_terminate(self.builder, f);
        self
    }
}

/// The end of the builder chain: a hook of taskleak's that the builder no
/// longer holds was replaced through tokio's builder, and every check
/// fails from now on, saying so.
impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        if let Some(hook) = self.ours.replaced() {
            self.ours.switched_off(hook);
        }
    }
}

impl std::ops::Deref for Tracked<'_> {
    type Target = Builder;

    fn deref(&self) -> &Builder {
        self.builder
    }
}

impl std::ops::DerefMut for Tracked<'_> {
    fn deref_mut(&mut self) -> &mut Builder {
        self.builder
    }
}

impl std::fmt::Debug for Tracked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Tracked").field(&self.builder).finish()
    }
}
