//! OS threads started during a check's scope (opt-in, Linux).
//!
//! A thread is identified by its kernel id in `/proc/self/task`, named by
//! its `comm`. Threads of tracked runtimes built outside the check's scope
//! (workers and the blocking pool, which idles for seconds after a
//! `spawn_blocking`) and taskleak's own helper threads are not the test's;
//! those of a runtime built inside the scope and still alive are. The listing is process-wide: other
//! tests running in parallel threads of one `cargo test` process show up
//! too, so this is exact under nextest or `--test-threads=1`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::capture::scope::Scope;

/// A thread alive after the grace period that was not there at the start.
///
/// ```
/// # fn f(leaks: &taskleak::Leaks) {
/// for t in leaks.threads() {
///     println!("thread {} {:?} still running", t.tid(), t.name());
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakedThread {
    pub(crate) tid: u32,
    pub(crate) name: String,
}

impl LeakedThread {
    /// The kernel's thread id.
    ///
    /// ```
    /// # fn f(t: &taskleak::LeakedThread) { println!("{}", t.tid()); }
    /// ```
    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// Its name (`comm`: at most 15 bytes, as the kernel keeps it).
    ///
    /// ```
    /// # fn f(t: &taskleak::LeakedThread) { println!("{}", t.name()); }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Threads started by tracked runtimes and still running, with the scope
/// open where the runtime was configured (`track_tasks()`).
static RUNTIME_THREADS: Mutex<Option<HashMap<u32, Option<Arc<Scope>>>>> = Mutex::new(None);

pub(crate) fn runtime_thread_started(owner: Option<Arc<Scope>>) {
    if let Some(tid) = current_tid() {
        RUNTIME_THREADS
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(tid, owner);
    }
}

pub(crate) fn runtime_thread_stopped() {
    if let Some(tid) = current_tid()
        && let Some(set) = RUNTIME_THREADS.lock().as_mut()
    {
        set.remove(&tid);
    }
}

#[cfg(target_os = "linux")]
fn current_tid() -> Option<u32> {
    // SAFETY: gettid has no preconditions.
    Some(unsafe { libc::syscall(libc::SYS_gettid) } as u32)
}

#[cfg(not(target_os = "linux"))]
fn current_tid() -> Option<u32> {
    None
}

/// The process's thread ids now (`None` where there is no `/proc`).
pub(crate) fn snapshot() -> Option<HashSet<u32>> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
    )
}

/// Threads alive now that were not in `before`, leaving out taskleak's own
/// and those of tracked runtimes built outside `scope`.
pub(crate) fn new_since(before: &HashSet<u32>, scope: &Arc<Scope>) -> Vec<LeakedThread> {
    let Some(now) = snapshot() else {
        return Vec::new();
    };
    let others: HashSet<u32> = RUNTIME_THREADS
        .lock()
        .iter()
        .flatten()
        .filter(|(_, owner)| owner.as_ref().is_none_or(|o| !o.within(scope)))
        .map(|(tid, _)| *tid)
        .collect();
    let mut out: Vec<LeakedThread> = now
        .difference(before)
        .filter(|tid| !others.contains(tid))
        .filter_map(|&tid| {
            let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
            let name = name.trim_end().to_owned();
            (!name.starts_with("taskleak-")).then_some(LeakedThread { tid, name })
        })
        .collect();
    out.sort_by_key(|t| t.tid);
    out
}
