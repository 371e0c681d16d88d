//! Starting one of taskleak's own threads. A new thread bears its
//! spawner's name until it has set its own; a check of the threads a test
//! started (`Options::threads`) reads names, and would take one of
//! taskleak's, caught in that moment, for the test's. So the name is set
//! from the spawner, before `spawn` returns.

use std::io;
use std::thread::{Builder, JoinHandle};

/// Spawns `f` on a thread named `name` (which starts with `taskleak-`),
/// named from here on Linux.
pub(crate) fn spawn<F, T>(name: &'static str, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    debug_assert!(name.starts_with("taskleak-"));
    let thread = Builder::new().name(name.into()).spawn(f)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::thread::JoinHandleExt;
        // Linux keeps 15 bytes of a name (16 with the NUL); a longer one is
        // refused whole (ERANGE), so it is cut as std cuts it.
        let mut bytes = name.as_bytes()[..name.len().min(15)].to_vec();
        bytes.push(0);
        // SAFETY: the thread is neither joined nor detached, so its handle
        // is valid; the name is NUL-terminated and at most 16 bytes.
        unsafe {
            libc::pthread_setname_np(thread.as_pthread_t(), bytes.as_ptr().cast());
        }
    }
    Ok(thread)
}

#[cfg(test)]
mod tests {
    /// The name is there as soon as `spawn` returns, cut to what Linux
    /// keeps, while the thread itself has not yet run.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_is_named_before_it_runs() {
        use std::os::unix::thread::JoinHandleExt;
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let thread = super::spawn("taskleak-symbols", move || {
            let _ = wait.recv();
        })
        .unwrap();
        let tid = {
            // The kernel's name of the thread, by its pthread handle.
            let mut buf = [0u8; 16];
            // SAFETY: a valid handle, a 16-byte buffer.
            let rc = unsafe {
                libc::pthread_getname_np(thread.as_pthread_t(), buf.as_mut_ptr().cast(), buf.len())
            };
            assert_eq!(rc, 0);
            let end = buf.iter().position(|b| *b == 0).unwrap();
            String::from_utf8_lossy(&buf[..end]).into_owned()
        };
        assert_eq!(tid, "taskleak-symbol");
        go.send(()).unwrap();
        thread.join().unwrap();
    }
}
