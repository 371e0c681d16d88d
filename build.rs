//! Two cfgs from the build's settings:
//!
//! - `taskleak_frame_pointers`: `-C force-frame-pointers=yes` is in the
//!   rustflags (Linux x86_64), so the spawn hook can walk frame pointers
//!   (~5 ns a frame) instead of applying unwind tables (~11 ns a frame);
//! - `taskleak_taskdump`: tokio can dump tasks here (`--cfg tokio_unstable`,
//!   the `taskdump` feature, Linux on x86, x86_64, aarch64 or s390x).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(taskleak_frame_pointers)");
    println!("cargo::rustc-check-cfg=cfg(taskleak_taskdump)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();

    let unstable = std::env::var_os("CARGO_CFG_TOKIO_UNSTABLE").is_some();
    let taskdump = std::env::var_os("CARGO_FEATURE_TASKDUMP").is_some();
    if unstable
        && taskdump
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
