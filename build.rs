//! cfgs from the build's settings:
//!
//! - `taskleak_hooks`: `--cfg tokio_unstable` and a tokio with the task
//!   hooks taskleak tracks tasks with (`TaskMeta::spawned_at`, which is
//!   right from tokio 1.46.1). With an older tokio taskleak still builds
//!   and checks count live tasks, as without the cfg, and this script says
//!   so: adding taskleak never has to upgrade a project's tokio.
//!
//! - `taskleak_frame_pointers`: `-C force-frame-pointers=yes` is in the
//!   rustflags (Linux x86_64), so the spawn hook can walk frame pointers
//!   (~5 ns a frame) instead of applying unwind tables (~11 ns a frame);
//! - `taskleak_runtime_id` (tokio's `runtime::Id` is there: 1.49, or any
//!   with `tokio_unstable`) and `taskleak_runtime_name` (`Builder::name`,
//!   1.51; the crate's own tests use it);
//! - `taskleak_taskdump`: tokio can dump tasks here (`--cfg tokio_unstable`,
//!   the `taskdump` feature, tokio 1.48 or newer, Linux on x86, x86_64,
//!   aarch64 or s390x).
//!
//! tokio's version is read from the Cargo.lock above the build's output
//! directory (the workspace's, when the target directory is inside it);
//! when there is none to be found, a new enough tokio is assumed.

use std::path::{Path, PathBuf};

/// The first tokio with what `taskleak_hooks` needs: spawn and terminate
/// hooks (1.40), poll hooks (1.44), `TaskMeta::spawned_at` (1.46.0, right
/// for `tokio::spawn` from 1.46.1) and `build_local` by value (1.46).
const HOOKS: (u64, u64, u64) = (1, 46, 1);
/// The first tokio whose task dumps are a cargo feature, `taskdump`.
const TASKDUMP: (u64, u64, u64) = (1, 48, 0);
/// The first tokio with `runtime::Id` outside `tokio_unstable`.
const RUNTIME_ID: (u64, u64, u64) = (1, 49, 0);
/// The first tokio with `Builder::name` (`#[leak_check(name = ..)]`).
const RUNTIME_NAME: (u64, u64, u64) = (1, 51, 0);

fn main() {
    println!("cargo::rustc-check-cfg=cfg(taskleak_frame_pointers)");
    println!("cargo::rustc-check-cfg=cfg(taskleak_taskdump)");
    println!("cargo::rustc-check-cfg=cfg(taskleak_hooks)");
    println!("cargo::rustc-check-cfg=cfg(taskleak_runtime_id)");
    println!("cargo::rustc-check-cfg=cfg(taskleak_runtime_name)");
    println!("cargo::rustc-check-cfg=cfg(taskleak_old_tokio)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();

    let unstable = std::env::var_os("CARGO_CFG_TOKIO_UNSTABLE").is_some();
    let taskdump = std::env::var_os("CARGO_FEATURE_TASKDUMP").is_some();
    let tokio = tokio_version();
    // For the reports' advice (src/report/hints.rs); empty when unknown.
    let version = tokio.map_or(String::new(), |(a, b, c)| format!("{a}.{b}.{c}"));
    println!("cargo::rustc-env=TASKLEAK_TOKIO_VERSION={version}");
    let at_least = |min| tokio.is_none_or(|v| v >= min);
    if unstable || at_least(RUNTIME_ID) {
        println!("cargo::rustc-cfg=taskleak_runtime_id");
    }
    if at_least(RUNTIME_NAME) {
        println!("cargo::rustc-cfg=taskleak_runtime_name");
    }
    if unstable && at_least(HOOKS) {
        println!("cargo::rustc-cfg=taskleak_hooks");
    } else if let (true, Some((a, b, c))) = (unstable, tokio) {
        // A dependency's build warnings are not shown: say it at run time too.
        println!("cargo::rustc-cfg=taskleak_old_tokio");
        println!(
            "cargo::warning=taskleak: tokio {a}.{b}.{c} has no TaskMeta::spawned_at, so checks \
             count live tasks instead of naming each leaked task's spawn site; tokio 1.46.1 or \
             newer has it (cargo update -p tokio)"
        );
    }
    if unstable
        && taskdump
        && at_least(TASKDUMP)
        && os == "linux"
        && ["aarch64", "x86", "x86_64", "s390x"].contains(&arch.as_str())
    {
        println!("cargo::rustc-cfg=taskleak_taskdump");
    }

    let mut on = false;
    let mut args = flags.split('\x1f').peekable();
    while let Some(arg) = args.next() {
        // `-C force-frame-pointers=yes` or `-Cforce-frame-pointers=yes`.
        let value = match arg {
            "-C" | "--codegen" => args.next().unwrap_or(""),
            _ => arg.strip_prefix("-C").unwrap_or(""),
        };
        if let Some(setting) = value.strip_prefix("force-frame-pointers") {
            on = matches!(setting, "" | "=yes" | "=y" | "=on" | "=true");
        }
    }
    if on && arch == "x86_64" && os == "linux" {
        println!("cargo::rustc-cfg=taskleak_frame_pointers");
    }
}

/// tokio 1.x's version in the Cargo.lock of the build, if one is found.
fn tokio_version() -> Option<(u64, u64, u64)> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR")?);
    let lock = out
        .ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|f| f.is_file())?;
    println!("cargo::rerun-if-changed={}", lock.display());
    tokio_in_lock(&lock)
}

/// Reads `[[package]] name = "tokio" version = "1.x.y"` from a lock file.
fn tokio_in_lock(lock: &Path) -> Option<(u64, u64, u64)> {
    let text = std::fs::read_to_string(lock).ok()?;
    let mut is_tokio = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            is_tokio = false;
        } else if line == "name = \"tokio\"" {
            is_tokio = true;
        } else if let Some(v) = line.strip_prefix("version = \"").filter(|_| is_tokio) {
            let mut parts = v.trim_end_matches('"').split(['.', '-', '+']);
            let mut next = || parts.next()?.parse::<u64>().ok();
            let version = (next()?, next()?, next()?);
            if version.0 == 1 {
                return Some(version);
            }
        }
    }
    None
}
