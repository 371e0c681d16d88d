//! What `track_tasks()` does besides installing the hooks: raise a bad
//! configuration where the runtime is built, capture frames when a rule
//! of the process needs them, and arm the end of the binary.

/// [`BuilderExt::track_tasks`], returning what the harness watches.
#[track_caller]
pub(crate) fn track(builder: &mut tokio::runtime::Builder) -> crate::capture::hooks::Installed {
    let base = crate::config::base(); // raises a configuration error here
    if let Some(choice) = base.backtraces {
        // A path rule of the process's needs frames to be judged.
        let path_rule = base.ignore.iter().any(crate::config::Ignore::is_path);
        let frames = choice == crate::config::Backtraces::Full || path_rule;
        crate::capture::walk::CAPTURE_FRAMES.store(frames, std::sync::atomic::Ordering::Relaxed);
    }
    #[cfg(taskleak_old_tokio)]
    crate::outputs::notices::old_tokio();
    crate::suite::rules::register(&base.ignore); // the gate uses them
    crate::exit::arm();
    crate::exit::arm_gate_if_configured();
    crate::capture::hooks::install(builder)
}
