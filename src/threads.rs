//! OS threads started during a check's scope (opt-in, Linux).
//!
//! A thread is identified by its kernel id in `/proc/self/task`, named by
//! its `comm`. Threads of tracked runtimes (workers and the blocking pool,
//! which idles for seconds after a `spawn_blocking`) and taskleak's own
//! helper threads are not the test's. The listing is process-wide: other
//! tests running in parallel threads of one `cargo test` process show up
//! too, so this is exact under nextest or `--test-threads=1`.

use std::collections::HashSet;

use parking_lot::Mutex;

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

/// Threads started by tracked runtimes and still running.
static RUNTIME_THREADS: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

pub(crate) fn runtime_thread_started() {
    if let Some(tid) = current_tid() {
        RUNTIME_THREADS
            .lock()
            .get_or_insert_with(HashSet::new)
            .insert(tid);
    }
}

pub(crate) fn runtime_thread_stopped() {
    if let Some(tid) = current_tid() {
        if let Some(set) = RUNTIME_THREADS.lock().as_mut() {
            set.remove(&tid);
        }
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

/// Threads alive now that were not in `before` and are not a tracked
/// runtime's or taskleak's own.
pub(crate) fn new_since(before: &HashSet<u32>) -> Vec<LeakedThread> {
    let Some(now) = snapshot() else {
        return Vec::new();
    };
    let runtime = RUNTIME_THREADS.lock().clone().unwrap_or_default();
    let mut out: Vec<LeakedThread> = now
        .difference(before)
        .filter(|tid| !runtime.contains(tid))
        .filter_map(|&tid| {
            let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
            let name = name.trim_end().to_owned();
            (!name.starts_with("taskleak-")).then_some(LeakedThread { tid, name })
        })
        .collect();
    out.sort_by_key(|t| t.tid);
    out
}
