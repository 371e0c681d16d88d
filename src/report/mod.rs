//! What a failed check returns: the leaked tasks, and how to print them.

pub(crate) mod ci;
mod color;
mod frames;
mod render;
mod stuck;

use std::collections::HashMap;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::Id;

pub(crate) use stuck::{NotDumped, Suspension};

use crate::config::defaults;
use crate::config::env::Backtraces;
use crate::config::{Ignore, Options};
use crate::capture::registry::{Kind, TaskRecord};
use crate::task::{Activity, Frame, Verdict};
use crate::capture::threads::LeakedThread;

/// The tasks a check found still running after the grace period.
///
/// `Display` renders the full report; `Debug` does too, so that
/// `check().unwrap()` prints something readable.
///
/// ```
/// # let guard = taskleak::verify_none();
/// match guard.check() {
///     Ok(()) => {}
///     Err(leaks) => {
///         for task in leaks.tasks() {
///             eprintln!("task {} spawned at {}", task.id(), task.spawned_at());
///         }
///         panic!("{leaks}");
///     }
/// }
/// ```
pub struct Leaks {
    pub(crate) test: Option<String>,
    pub(crate) grace: Duration,
    pub(crate) tasks: Vec<LeakedTask>,
    /// Survivors known only by number (no `tokio_unstable`: no identities).
    pub(crate) counted: usize,
    /// The check blocked a runtime thread, which may have kept its tasks
    /// from finishing.
    pub(crate) blocked_runtime: bool,
    /// Whether task dumps were taken (so an empty one means something).
    pub(crate) dumped: bool,
    /// Found by the suite gate at the end of the binary, not by a check.
    pub(crate) suite_end: bool,
    /// `spawn_blocking` closures still running, known only by number.
    pub(crate) blocking: usize,
    /// OS threads still running (`Options::threads`).
    pub(crate) threads: Vec<LeakedThread>,
}

impl Leaks {
    /// The leaked tasks, in spawn order (empty when taskleak could only
    /// count them; see [`Leaks::len`]).
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// let first = &leaks.tasks()[0];
    /// println!("{} spawned at {}", first.id(), first.spawned_at());
    /// # }
    /// ```
    pub fn tasks(&self) -> &[LeakedTask] {
        &self.tasks
    }

    /// How many leaks the report lists: the tasks of [`Leaks::tasks`],
    /// tasks and `spawn_blocking` closures known only by number, and the
    /// OS threads of [`Leaks::threads`]. Never 0 for a `Leaks` a check
    /// returned, in agreement with [`Leaks::is_empty`].
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// assert!(leaks.len() >= leaks.tasks().len() + leaks.threads().len());
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.task_count() + self.threads.len()
    }

    /// OS threads started in the scope and still running (with
    /// [`Options::threads`](crate::Options::threads)).
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// for t in leaks.threads() { println!("{}", t.name()); }
    /// # }
    /// ```
    pub fn threads(&self) -> &[LeakedThread] {
        &self.threads
    }

    /// Whether [`Leaks::len`] is 0; always false for a `Leaks` a check
    /// returned, since a check that found nothing returns `Ok`.
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// assert!(!leaks.is_empty());
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of the test that leaked (its thread's name), if known.
    ///
    /// ```
    /// # fn f(leaks: taskleak::Leaks) {
    /// println!("{}", leaks.test().unwrap_or("<unnamed>"));
    /// # }
    /// ```
    pub fn test(&self) -> Option<&str> {
        self.test.as_deref()
    }
}

impl std::error::Error for Leaks {}

impl Leaks {
    /// Leaked tasks, listed or only counted, `spawn_blocking` included:
    /// the headline's "leaked N tasks".
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.len() + self.counted + self.blocking
    }

    pub(crate) fn at_suite_end(tasks: Vec<LeakedTask>, grace: Duration) -> Leaks {
        Leaks {
            test: None,
            grace,
            tasks,
            counted: 0,
            blocked_runtime: false,
            dumped: false,
            suite_end: true,
            blocking: 0,
            threads: Vec::new(),
        }
    }

    /// Adds what task dumps of the runtimes the survivors live on say about
    /// each, or why they say nothing.
    pub(crate) fn attach_dumps(&mut self, dumps: HashMap<Id, crate::capture::hooks::Stuck>) {
        use crate::capture::hooks::Stuck;
        self.dumped = true;
        for task in &mut self.tasks {
            match (task.kind, dumps.get(&task.id)) {
                (Kind::Blocking, _) => task.not_dumped = Some(NotDumped::Blocking),
                (Kind::Local, _) => task.not_dumped = Some(NotDumped::Local),
                (Kind::Task, Some(Stuck::At(traces))) => {
                    task.set_stuck(traces);
                    task.not_dumped = None;
                }
                (Kind::Task, Some(Stuck::NotDumped(why))) => task.not_dumped = Some(why.clone()),
                (Kind::Task, None) => {}
            }
        }
    }

    /// Adds a task dump of the current-thread runtime the check runs in:
    /// the one place tokio can dump it from.
    pub(crate) fn attach_dump_here(&mut self, traces: &HashMap<Id, Vec<Vec<Frame>>>) {
        self.dumped = true;
        for task in &mut self.tasks {
            if task.kind != Kind::Task || task.stuck_in.is_some() {
                continue;
            }
            if let Some(traces) = traces.get(&task.id) {
                task.set_stuck(traces);
                task.not_dumped = None;
            } else if matches!(
                task.not_dumped,
                None | Some(NotDumped::CurrentThread | NotDumped::UnknownRuntime)
            ) {
                task.not_dumped = Some(NotDumped::NotInThisRuntime);
            }
        }
    }
}

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
    id: Id,
    kind: Kind,
    spawned_at: &'static Location<'static>,
    parent: Option<Id>,
    age: Duration,
    chain: Vec<SpawnSite>,
    chain_cut: bool,
    backtrace: Vec<Frame>,
    /// The first frame in the user's workspace, when the spawn site is in
    /// a dependency (a library spawning on the user's behalf).
    reached_from: Option<Frame>,
    /// Tests running when it was spawned in a plain `spawn_blocking`
    /// closure, when several were (the suite gate names them).
    running: Vec<String>,
    activity: Option<Activity>,
    /// From a task dump: `None` when none was taken for this task's runtime;
    /// `Some(empty)` when tokio could trace nothing it waits on.
    stuck_in: Option<Vec<Suspension>>,
    /// `stuck_in`, each as one line (`Suspension::path`), for the accessor.
    stuck_paths: Option<Vec<String>>,
    /// Why `stuck_in` is `None` although dumps were taken.
    not_dumped: Option<NotDumped>,
    /// Its activity was lost (another task took its slot); it was alive.
    activity_lost: bool,
}

impl LeakedTask {
    /// Sets where a task dump found it suspended (and the one-line paths
    /// `stuck_in()` lends out).
    fn set_stuck(&mut self, traces: &[Vec<Frame>]) {
        let places: Vec<Suspension> = traces.iter().map(|t| stuck::suspension(t)).collect();
        self.stuck_paths = Some(places.iter().map(Suspension::path).collect());
        self.stuck_in = Some(places);
    }

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
    /// parent's parent, up to the task spawned from the test body.
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
#[derive(Debug, Clone)]
pub struct SpawnSite {
    task: Id,
    location: &'static Location<'static>,
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

/// Drops the ignored survivors and builds the report of the others,
/// resolving symbols only where a rule or the report needs them.
pub(crate) fn leaked_tasks(records: &[Arc<TaskRecord>], options: &Options) -> Vec<LeakedTask> {
    // Ages and activity first, at one instant: resolving symbols can take
    // longer than the grace period the first time.
    let show_chain = defaults::backtraces() != Backtraces::Off;
    // Frames may be captured for path rules alone (TASKLEAK_BACKTRACE=short
    // with a path rule in force): shown only when asked for.
    let show_frames = defaults::backtraces() == Backtraces::Full;
    let now = crate::util::clock::precise();
    let snapshot: Vec<_> = records
        .iter()
        .map(|r| {
            let age = crate::util::clock::since(now, r.spawned);
            let activity = crate::capture::hooks::activity(r.id).map(|a| Activity { age, ..a });
            (age, activity)
        })
        .collect();
    records
        .iter()
        .zip(snapshot)
        .filter_map(|(r, (age, activity))| {
            let all = match by_sites(r, options, show_chain) {
                BySites::Ignored => return None,
                BySites::Undecided => match by_frames(r, options, true) {
                    ByFrames::Ignored => return None,
                    ByFrames::Reported(all) => Some(all),
                    ByFrames::Unknown => None, // not when resolving
                },
                BySites::Reported => None,
            };
            // A report resolves frames only to show them, or to point from
            // a dependency's spawn site back into the workspace.
            let needed = show_frames || !frames::in_workspace(r.location.file());
            let all = match all {
                Some(all) => all,
                None if needed => frames::resolve(&r.frames),
                None => Vec::new(),
            };
            let yours = frames::user_frames(&all);
            let reached_from = reached_from(r.location.file(), &yours);
            Some(LeakedTask {
                id: r.id,
                kind: r.kind,
                spawned_at: r.location,
                parent: r.parent_id,
                age,
                chain: if show_chain { chain(r) } else { Vec::new() },
                chain_cut: show_chain && r.parent_id.is_some() && r.parent.is_none(),
                backtrace: if show_frames { yours } else { Vec::new() },
                reached_from,
                running: r
                    .running
                    .as_deref()
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
                activity,
                stuck_in: None,
                stuck_paths: None,
                not_dumped: None,
                activity_lost: activity.is_none() && r.kind == Kind::Task && crate::TRACKING,
            })
        })
        .collect()
}

/// Whether the rules in force ignore every one of `records`, decided
/// without building a report and without looking up symbols: from spawn
/// sites, and from frames resolved before (by [`resolve_in_background`],
/// or by earlier checks). A test whose tasks end soon never loads debug
/// info.
pub(crate) fn all_ignored(records: &[Arc<TaskRecord>], options: &Options) -> bool {
    let show_chain = defaults::backtraces() != Backtraces::Off;
    let mut undecided = Vec::new();
    for r in records {
        match by_sites(r, options, show_chain) {
            BySites::Ignored => {}
            // One survivor the rules cannot hide: no early end, and
            // nothing to resolve for the others.
            BySites::Reported => return false,
            BySites::Undecided => undecided.push(r),
        }
    }
    undecided
        .iter()
        .all(|r| matches!(by_frames(r, options, false), ByFrames::Ignored))
}

/// Looks up, on a thread of its own, the symbols that the rules need to
/// judge those of `records` their spawn sites do not decide: the check
/// keeps waiting for its tasks meanwhile (the first lookup in a large
/// debug binary takes ~0.5 s), and judges them from the cache when it is
/// done. Only each task's frames up to the first that a rule matches.
/// `None` when nothing needed looking up, or it was looked up here (no
/// thread to spare). `done` runs on that thread when the lookups are in.
pub(crate) fn resolve_in_background(
    records: &[Arc<TaskRecord>],
    options: &Options,
    done: impl FnOnce() + Send + 'static,
) -> Option<std::thread::JoinHandle<()>> {
    let show_chain = defaults::backtraces() != Backtraces::Off;
    let undecided: Vec<Arc<TaskRecord>> = records
        .iter()
        .filter(|r| matches!(by_sites(r, options, show_chain), BySites::Undecided))
        .cloned()
        .collect();
    if undecided.is_empty() {
        return None;
    }
    let options = options.clone();
    let look_up = move || {
        for r in &undecided {
            by_frames(r, &options, true);
        }
    };
    let thread = {
        let look_up = look_up.clone();
        move || {
            look_up();
            done();
        }
    };
    match std::thread::Builder::new()
        .name("taskleak-symbols".into())
        .spawn(thread)
    {
        Ok(thread) => Some(thread),
        // Looked up here instead; the caller judges at once.
        Err(_) => {
            look_up();
            None
        }
    }
}

/// What the cheap part of the rules says about a task: its spawn site and
/// its ancestors' (each a `&'static Location`, no symbols needed).
enum BySites {
    Ignored,
    /// No rule can hide it: none matched a site, and it has no frames.
    Reported,
    /// Only its frames can tell.
    Undecided,
}

fn by_sites(record: &TaskRecord, options: &Options, with_ancestors: bool) -> BySites {
    if options.rules().next().is_none() {
        return BySites::Reported;
    }
    let ancestors = std::iter::successors(record.parent.as_deref(), |p| p.parent.as_deref())
        .filter(|_| with_ancestors);
    let mut sites = std::iter::once(record.location).chain(ancestors.map(|p| p.location));
    if record.frames.is_empty() {
        // A path rule that met a task without frames could not judge it:
        // never stale for that.
        options.rules().for_each(Ignore::met_without_frames);
    }
    let hit = sites.any(|l| {
        options
            .rules()
            .any(|rule| rule.matches_location(l.file(), l.line()))
    });
    if hit {
        BySites::Ignored
    } else if record.frames.is_empty() {
        BySites::Reported
    } else {
        BySites::Undecided
    }
}

enum ByFrames {
    Ignored,
    /// Every frame, resolved: none of the user's matched a rule.
    Reported(Vec<Frame>),
    /// A frame before any match was not resolved yet (`resolve` false).
    Unknown,
}

/// Matches the rules against the user's frames (see [`Frame::is_user`]),
/// resolving one address at a time and stopping at the first match: never
/// tokio's, std's, libtest's or taskleak's own frames, so a rule
/// `"mod.rs"` or `"tokio"` cannot hide every task.
fn by_frames(record: &TaskRecord, options: &Options, resolve: bool) -> ByFrames {
    let mut all = Vec::new();
    for &ip in record.frames.iter() {
        let frames = if resolve {
            frames::resolve_one(ip)
        } else {
            match frames::cached(ip) {
                Some(frames) => frames,
                None => return ByFrames::Unknown,
            }
        };
        let hit = frames.iter().filter(|f| f.is_user()).any(|f| {
            options.rules().any(|rule| {
                rule.matches_function(f.function())
                    || f.file()
                        .zip(f.line())
                        .is_some_and(|(file, line)| rule.matches_location(file, line))
            })
        });
        if hit {
            return ByFrames::Ignored;
        }
        all.extend(frames.iter().cloned());
    }
    ByFrames::Reported(all)
}

/// How many addresses this process looked up in debug info (the tests
/// count them: a passing check looks up none).
pub(crate) fn symbol_lookups() -> usize {
    frames::lookups()
}

/// Whether this process has looked up symbols already, so that its debug
/// info is loaded and more lookups are cheap.
pub(crate) fn symbols_loaded() -> bool {
    frames::lookups() > 0
}

/// For a spawn site in a dependency (a library spawning for the user):
/// the innermost of the user's frames that lies in the workspace.
fn reached_from(spawn_site: &str, yours: &[Frame]) -> Option<Frame> {
    if frames::in_workspace(spawn_site) {
        return None;
    }
    yours.iter().find(|f| f.in_workspace()).cloned()
}

fn chain(record: &TaskRecord) -> Vec<SpawnSite> {
    let mut out = Vec::new();
    let mut next = record.parent.as_deref();
    while let Some(p) = next {
        out.push(SpawnSite {
            task: p.id,
            location: p.location,
        });
        next = p.parent.as_deref();
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::Path;

    /// A report of one leaked task, as a failed check returns it.
    pub(crate) fn one_leak() -> Leaks {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let id = rt.spawn(async {}).id();
        let task = LeakedTask {
            id,
            kind: Kind::Task,
            spawned_at: Location::caller(),
            parent: None,
            age: Duration::ZERO,
            chain: Vec::new(),
            chain_cut: false,
            backtrace: Vec::new(),
            reached_from: None,
            running: Vec::new(),
            activity: None,
            stuck_in: None,
            stuck_paths: None,
            not_dumped: None,
            activity_lost: false,
        };
        Leaks {
            test: None,
            grace: Duration::ZERO,
            tasks: vec![task],
            counted: 0,
            blocked_runtime: false,
            dumped: false,
            suite_end: false,
            blocking: 0,
            threads: Vec::new(),
        }
    }

    /// Every check takes task dumps where the `taskdump` feature is
    /// compiled in, the suite gate never does: a hint to switch checks, or
    /// to enable what is already enabled, would not fit.
    #[test]
    fn the_dump_hint_fits_how_the_check_ran() {
        let text = one_leak().to_string();
        assert!(!text.contains("#[leak_check]"), "{text}");
        assert!(!text.contains("check_async"), "{text}");
        let hint = "enable taskleak's `taskdump` feature";
        assert_eq!(text.contains(hint), !cfg!(taskleak_taskdump), "{text}");
        let mut at_exit = one_leak();
        at_exit.suite_end = true;
        let text = at_exit.to_string();
        assert!(!text.contains("hint:"), "{text}");
        let mut dumped = one_leak();
        dumped.dumped = true;
        let text = dumped.to_string();
        assert!(!text.contains("hint:"), "{text}");
    }

    #[test]
    fn a_spawn_in_a_dependency_is_reached_from_the_first_workspace_frame() {
        let pool = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/\
                    hyper-util-0.1.10/src/client/legacy/pool.rs";
        let yours = [
            Frame::new(
                "hyper_util::rt::tokio::TokioExecutor::execute".into(),
                Some(Path::new(pool)),
                Some(127),
            ),
            Frame::new(
                "reqwest::Client::get".into(),
                Some(Path::new(
                    "/home/u/.cargo/registry/src/x/reqwest-0.12.0/src/client.rs",
                )),
                Some(9),
            ),
            Frame::new(
                "client::fetch".into(),
                Some(Path::new("tests/client.rs")),
                Some(42),
            ),
            Frame::new(
                "client::main".into(),
                Some(Path::new("tests/client.rs")),
                Some(50),
            ),
        ];
        let at = reached_from(pool, &yours).unwrap();
        assert_eq!((at.file(), at.line()), (Some("tests/client.rs"), Some(42)));
        // The report leads with it, right under the spawn site.
        let mut leaks = one_leak();
        leaks.tasks[0].reached_from = Some(at);
        let report = leaks.to_string();
        let site = report.find("spawned at ").unwrap();
        let reached = report
            .find("reached from tests/client.rs:42 (client::fetch)")
            .unwrap_or_else(|| panic!("{report}"));
        assert!(
            site < reached && !report[site..reached].contains("activity"),
            "{report}"
        );
        // A spawn site in the workspace needs no pointer.
        assert!(reached_from("tests/client.rs", &yours).is_none());
    }
}
