//! An exclusive lock between processes on the files of one directory (the
//! baseline's `.config/`, the report directory), held while a process
//! reads, merges and replaces them.
//!
//! On Unix it is an OS advisory lock (`flock`) on the directory itself:
//! the OS releases it when its holder ends, however it ends, so no lock
//! can go stale and nothing is left behind in the directory. Elsewhere, a
//! `.taskleak.lock` file created with `create_new` (atomic on every
//! platform), which a process that died holding it leaves behind: one
//! older than a minute is taken over.

use std::path::Path;
use std::time::{Duration, Instant};

/// How long a process waits for another's lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(20);

/// Held while alive.
pub(crate) struct Lock {
    #[cfg(unix)]
    _dir: std::fs::File,
    #[cfg(not(unix))]
    file: std::path::PathBuf,
}

impl Lock {
    /// Locks `dir`, waiting up to 20 s for another process to let go.
    #[cfg(unix)]
    pub(crate) fn take(dir: &Path) -> std::io::Result<Lock> {
        use std::os::fd::AsRawFd as _;
        let file = std::fs::File::open(dir)?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            // SAFETY: `flock` takes a descriptor, which `file` owns and
            // keeps open for as long as the lock is held; no memory is
            // passed.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(Lock { _dir: file });
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EWOULDBLOCK) => {}
                _ => return Err(e),
            }
            if Instant::now() >= deadline {
                return Err(busy(dir));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Locks `dir`, waiting up to 20 s for another process to let go.
    #[cfg(not(unix))]
    pub(crate) fn take(dir: &Path) -> std::io::Result<Lock> {
        const STALE: Duration = Duration::from_secs(60);
        let file = dir.join(".taskleak.lock");
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&file)
            {
                Ok(_) => return Ok(Lock { file }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&file)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > STALE);
                    if stale {
                        let _ = std::fs::remove_file(&file);
                        continue;
                    }
                    if Instant::now() >= deadline {
                        return Err(busy(dir));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(not(unix))]
impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

fn busy(dir: &Path) -> std::io::Error {
    std::io::Error::other(format!(
        "another process held the lock on {} for over {}s",
        dir.display(),
        LOCK_WAIT.as_secs()
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Taken again once let go; a leftover `.lock` file (from an older
    /// taskleak, or a killed process) does not matter.
    #[test]
    fn a_lock_is_released_with_its_holder() {
        let dir = std::env::temp_dir().join(format!("taskleak-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("taskleak-baseline.toml.lock"), "").unwrap();
        let start = Instant::now();
        let held = Lock::take(&dir).unwrap();
        // Another open file description is another holder: it must wait.
        let other = std::thread::spawn({
            let dir = dir.clone();
            move || {
                let t = Instant::now();
                drop(Lock::take(&dir).unwrap());
                t.elapsed()
            }
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        let waited = other.join().unwrap();
        assert!(waited >= Duration::from_millis(80), "{waited:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
