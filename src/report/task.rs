//! One leaked task as a report shows it, and its ancestors' spawn sites.

use std::panic::Location;
use std::time::Duration;

use tokio::task::Id;

use super::stuck::Suspension;
use crate::task::{Activity, Frame, Kind, NotDumped};

/// One task that was still running when its check gave up waiting.
///
/// ```
/// # fn f(task: &taskleak::LeakedTask) {
/// println!("task {} spawned at {}, alive for {:?}", task.id(), task.spawned_at(), task.age());
/// for site in task.chain() {
///     println!("  by task {} spawned at {}", site.task(), site.location());
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LeakedTask {
    pub(crate) id: Id,
    pub(crate) kind: Kind,
    pub(crate) spawned_at: &'static Location<'static>,
    pub(crate) parent: Option<Id>,
    pub(crate) age: Duration,
    pub(crate) chain: Vec<SpawnSite>,
    pub(crate) chain_cut: bool,
    pub(crate) backtrace: Vec<Frame>,
    /// The first frame in the user's workspace, when the spawn site is in
    /// a dependency (a library spawning on the user's behalf).
    pub(crate) reached_from: Option<Frame>,
    /// Tests running when it was spawned in a plain `spawn_blocking`
    /// closure, when several were (the suite gate names them).
    pub(crate) running: Vec<String>,
    /// Its chain began in a test whose check was over when it was spawned
    /// (a task that test left running spawned it): that test's name.
    pub(crate) after_check: Option<String>,
    /// In the scope of a test whose check never ran, seen by the suite
    /// gate (the process exited while the test ran): that test's name.
    pub(crate) unchecked_test: Option<String>,
    pub(crate) activity: Option<Activity>,
    /// From a task dump: `None` when none was taken for this task's runtime;
    /// `Some(empty)` when tokio could trace nothing it waits on.
    pub(crate) stuck_in: Option<Vec<Suspension>>,
    /// `stuck_in`, each as one line (`Suspension::path`), for the accessor.
    pub(crate) stuck_paths: Option<Vec<String>>,
    /// Why `stuck_in` is `None` although dumps were taken.
    pub(crate) not_dumped: Option<NotDumped>,
    /// Its activity was lost (another task took its slot); it was alive.
    pub(crate) activity_lost: bool,
}

impl LeakedTask {
    /// The task's id.
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) -> tokio::task::Id { task.id() }
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }

    /// Where it was spawned: the caller of `tokio::spawn` (or `JoinSet::spawn`, …).
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) {
    /// println!("{}:{}", task.spawned_at().file(), task.spawned_at().line());
    /// # }
    /// ```
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// The task that spawned it, if it was spawned from a tracked task
    /// rather than from the test body or a thread.
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) {
    /// if let Some(parent) = task.parent() { println!("spawned by task {parent}"); }
    /// # }
    /// ```
    pub fn parent(&self) -> Option<Id> {
        self.parent
    }

    /// How long it had been alive when the check ended.
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) { assert!(task.age() > std::time::Duration::ZERO); }
    /// ```
    pub fn age(&self) -> Duration {
        self.age
    }

    /// The spawn sites of its ancestors: its parent first, then the
    /// parent's parent, up to the task spawned from the test body. A
    /// chain deeper than 64 spawns is cut: it holds the nearest few
    /// ancestors only, and the report says where it was cut.
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) {
    /// let root = task.chain().last().map_or(task.spawned_at(), |s| s.location());
    /// # }
    /// ```
    pub fn chain(&self) -> &[SpawnSite] {
        &self.chain
    }

    /// The user's frames of the spawn-site backtrace, the spawn call first.
    /// Empty when frames were not captured (`TASKLEAK_BACKTRACE=short`).
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) {
    /// if let Some(top) = task.backtrace().first() { println!("{}", top.function()); }
    /// # }
    /// ```
    pub fn backtrace(&self) -> &[Frame] {
        &self.backtrace
    }

    /// When the spawn site is in a dependency (a library spawned it on
    /// the user's behalf): the innermost frame of the spawn-site backtrace
    /// that lies in the user's workspace, the code that called into the
    /// library.
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) {
    /// if let Some(frame) = task.reached_from() {
    ///     println!("reached from {}:{}", frame.file().unwrap_or("?"), frame.line().unwrap_or(0));
    /// }
    /// # }
    /// ```
    pub fn reached_from(&self) -> Option<&Frame> {
        self.reached_from.as_ref()
    }

    /// The tests whose scopes were open when it was spawned, when it was
    /// spawned inside a plain `tokio::task::spawn_blocking` closure while
    /// several tests ran (so no single test owns it; the suite gate
    /// reports it). Empty otherwise.
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) {
    /// for test in task.running_tests() { println!("while {test} ran"); }
    /// # }
    /// ```
    pub fn running_tests(&self) -> &[String] {
        &self.running
    }

    /// The test its spawn chain began in, when that test's check was over
    /// before this task was spawned: a task the earlier test left running
    /// (a shared dispatcher) spawned it. Such a task belongs to the one
    /// test running then, or to none (the suite gate reports it).
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) {
    /// if let Some(test) = task.after_check() { println!("left running by {test}"); }
    /// # }
    /// ```
    pub fn after_check(&self) -> Option<&str> {
        self.after_check.as_deref()
    }

    /// How it was polled, from tokio's poll hooks.
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) {
    /// if let Some(activity) = task.activity() { println!("{:?}", activity.verdict()); }
    /// # }
    /// ```
    pub fn activity(&self) -> Option<&Activity> {
        self.activity.as_ref()
    }

    /// Where it is suspended, one line per tokio future it waits on, like
    /// `my_app::serve → TcpListener::accept`. `None` without a task dump
    /// (the `taskdump` feature, on Linux; the runtime `#[leak_check]`
    /// builds is dumped, and a current-thread runtime by a check inside its
    /// `block_on` such as [`Guard::check_async`](crate::Guard::check_async);
    /// a multi-thread runtime of your own is not, since a tokio dump can
    /// leave it unable to shut down; the report then says why); empty when
    /// it waits on something tokio cannot trace, such as
    /// `std::future::pending()` or a non-tokio channel.
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) {
    /// for place in task.stuck_in().unwrap_or_default() { println!("stuck in {place}"); }
    /// # }
    /// ```
    pub fn stuck_in(&self) -> Option<&[String]> {
        self.stuck_paths.as_deref()
    }

    /// Is it a `spawn_blocking` closure (recorded by
    /// [`taskleak::spawn_blocking`](crate::spawn_blocking))?
    ///
    /// ```
    /// # fn f(task: &taskleak::LeakedTask) { if task.is_blocking() { println!("a blocking closure"); } }
    /// ```
    pub fn is_blocking(&self) -> bool {
        self.kind == Kind::Blocking
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// It is reported after its runtime's shutdown cancelled it: no
    /// activity is left (none was lost), and no dump can be taken.
    pub(crate) fn cancelled(&mut self) {
        self.activity_lost = false;
        self.not_dumped = Some(NotDumped::Cancelled);
    }

    /// Spawn sites from this task to the root: identical leaks share it.
    pub(crate) fn chain_key(&self) -> Vec<&'static Location<'static>> {
        std::iter::once(self.spawned_at)
            .chain(self.chain.iter().map(|s| s.location))
            .collect()
    }
}

/// An ancestor in a leaked task's spawn chain.
///
/// ```
/// # fn f(site: &taskleak::SpawnSite) {
/// println!("task {} spawned at {}", site.task(), site.location());
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpawnSite {
    pub(crate) task: Id,
    pub(crate) location: &'static Location<'static>,
}

impl SpawnSite {
    /// The ancestor's id.
    ///
    /// ```
    /// # fn f(site: &taskleak::SpawnSite) -> tokio::task::Id { site.task() }
    /// ```
    pub fn task(&self) -> Id {
        self.task
    }

    /// Where the ancestor was spawned.
    ///
    /// ```
    /// # fn f(site: &taskleak::SpawnSite) { println!("{}", site.location()); }
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }
}

impl LeakedTask {
    /// A task known by its id, kind and spawn site; the judge adds the rest.
    pub(crate) fn new(id: Id, kind: Kind, spawned_at: &'static Location<'static>) -> LeakedTask {
        LeakedTask {
            id,
            kind,
            spawned_at,
            parent: None,
            age: Duration::ZERO,
            chain: Vec::new(),
            chain_cut: false,
            backtrace: Vec::new(),
            reached_from: None,
            running: Vec::new(),
            after_check: None,
            unchecked_test: None,
            activity: None,
            stuck_in: None,
            stuck_paths: None,
            not_dumped: None,
            activity_lost: false,
        }
    }
}
