//! `Options::threads`: OS threads started in the scope and still running.
//!
//! One test in its own binary: the thread listing is process-wide, so
//! parallel tests would see each other's threads (see the README).

use std::sync::mpsc;
use std::time::Duration;

use taskleak::BuilderExt;

#[test]
fn a_leaked_os_thread_is_reported_by_name_and_a_joined_one_is_not() {
    let options = || {
        taskleak::Options::new()
            .grace(Duration::from_millis(50))
            .threads(true)
    };

    // Runtime threads of a tracked runtime are tokio's, not leaks.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .track_tasks()
        .build()
        .unwrap();
    let guard = options().verify_none();
    rt.block_on(async { tokio::task::spawn_blocking(|| ()).await.unwrap() });
    std::thread::Builder::new()
        .name("joined-worker".into())
        .spawn(|| ())
        .unwrap()
        .join()
        .unwrap();
    guard.check().unwrap();

    let (stop, stopped) = mpsc::channel::<()>();
    let guard = options().verify_none();
    let leaked = std::thread::Builder::new()
        .name("file-watcher".into())
        .spawn(move || stopped.recv())
        .unwrap();
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.threads().len(), 1, "{leaks}");
    assert_eq!(leaks.threads()[0].name(), "file-watcher");
    assert!(leaks.tasks().is_empty());
    let report = leaks.to_string();
    assert!(report.contains("leaked 1 thread"), "{report}");
    assert!(report.contains("\"file-watcher\""), "{report}");
    drop(stop);
    leaked.join().unwrap().unwrap_err();
}
