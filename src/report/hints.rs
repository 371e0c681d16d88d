//! The advice a report gives for what this build cannot show (spawn
//! sites, where tasks are stuck), decided from the build's facts: tokio's
//! version, `--cfg tokio_unstable`, the `taskdump` feature and the target.
//! So it never suggests a step that would not build (the `taskdump`
//! feature on a tokio older than 1.48) or one already taken (the cfg, to a
//! build that has it but an old tokio).

/// What this build is made of.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Build {
    /// tokio's version, from the Cargo.lock `build.rs` read; `None`:
    /// unknown, assumed new enough.
    pub(crate) tokio: Option<(u64, u64, u64)>,
    pub(crate) unstable: bool,
    /// Task dumps are compiled in.
    pub(crate) dumps: bool,
    /// The target is one tokio can dump tasks on.
    pub(crate) dump_target: bool,
    /// Built without the cfg although a `.cargo/config.toml` asks for it:
    /// a `RUSTFLAGS` variable replaced the file's rustflags.
    pub(crate) cfg_replaced: bool,
}

/// The first tokio whose `TaskMeta::spawned_at` is right (see build.rs).
const SPAWN_SITES: (u64, u64, u64) = (1, 46, 1);
/// The first tokio whose task dumps are a cargo feature.
const TASKDUMP: (u64, u64, u64) = (1, 48, 0);

impl Build {
    /// This build.
    pub(crate) fn this() -> Build {
        let mut parts = env!("TASKLEAK_TOKIO_VERSION").split('.');
        let mut next = || parts.next()?.parse::<u64>().ok();
        let tokio = (|| Some((next()?, next()?, next()?)))();
        let unstable = cfg!(tokio_unstable);
        Build {
            tokio,
            unstable,
            cfg_replaced: !unstable && crate::config::cargo::asks_here().is_some(),
            dumps: cfg!(taskleak_taskdump),
            dump_target: cfg!(all(
                target_os = "linux",
                any(
                    target_arch = "x86",
                    target_arch = "x86_64",
                    target_arch = "aarch64",
                    target_arch = "s390x"
                )
            )),
        }
    }

    fn older_than(&self, version: (u64, u64, u64)) -> bool {
        self.tokio.is_some_and(|v| v < version)
    }

    fn tokio_text(&self) -> String {
        self.tokio
            .map_or_else(|| "tokio".into(), |(a, b, c)| format!("tokio {a}.{b}.{c}"))
    }

    /// How to get spawn sites, for a report whose tasks were counted.
    pub(crate) fn spawn_sites(&self) -> String {
        let cfg = if self.cfg_replaced {
            "add `--cfg tokio_unstable` to RUSTFLAGS, which replaces the rustflags of the \
             .cargo/config.toml that asks for it"
        } else {
            "build with `--cfg tokio_unstable` (in .cargo/config.toml: \
             [build] rustflags = [\"--cfg\", \"tokio_unstable\"])"
        };
        let upgrade = format!(
            "use tokio 1.46.1 or newer (cargo update -p tokio): {} has no \
             TaskMeta::spawned_at",
            self.tokio_text()
        );
        match (self.unstable, self.older_than(SPAWN_SITES)) {
            (false, true) => format!("{cfg}, and {upgrade}"),
            (true, true) => upgrade,
            (_, false) => cfg.to_owned(),
        }
    }

    /// How to see where tasks are stuck, if this build cannot and could.
    pub(crate) fn dumps(&self) -> Option<String> {
        if self.dumps || !self.dump_target {
            return None;
        }
        let feature = "enable taskleak's `taskdump` feature";
        Some(if self.older_than(TASKDUMP) {
            format!(
                "use tokio 1.48 or newer (cargo update -p tokio; {} has no task dumps \
                 to enable), then {feature}",
                self.tokio_text()
            )
        } else if !self.unstable {
            format!("{feature} and build with `--cfg tokio_unstable`")
        } else {
            feature.into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(tokio: (u64, u64, u64), unstable: bool) -> Build {
        Build {
            tokio: Some(tokio),
            unstable,
            dumps: false,
            dump_target: true,
            cfg_replaced: false,
        }
    }

    /// The cfg is set, tokio is too old: the advice is tokio, not the cfg.
    #[test]
    fn spawn_sites_advice_fits_the_tokio() {
        let old = build((1, 45, 0), true).spawn_sites();
        assert!(old.starts_with("use tokio 1.46.1 or newer"), "{old}");
        assert!(
            old.contains("tokio 1.45.0 has no TaskMeta::spawned_at"),
            "{old}"
        );
        assert!(!old.contains("--cfg"), "{old}");
        let no_cfg = build((1, 54, 0), false).spawn_sites();
        assert!(
            no_cfg.starts_with("build with `--cfg tokio_unstable`"),
            "{no_cfg}"
        );
        assert!(!no_cfg.contains("newer"), "{no_cfg}");
        // The config file asks for the cfg, RUSTFLAGS replaced it.
        let replaced = Build {
            cfg_replaced: true,
            ..build((1, 54, 0), false)
        }
        .spawn_sites();
        assert!(
            replaced.starts_with("add `--cfg tokio_unstable` to RUSTFLAGS"),
            "{replaced}"
        );
        let neither = build((1, 41, 0), false).spawn_sites();
        assert!(
            neither.contains("--cfg tokio_unstable") && neither.contains("1.46.1"),
            "{neither}"
        );
    }

    /// tokio 1.47 has no `taskdump` feature: enabling taskleak's would
    /// fail to build, so the advice starts with tokio.
    #[test]
    fn dump_advice_never_suggests_what_would_not_build() {
        let t147 = build((1, 47, 0), true).dumps().unwrap();
        assert!(t147.starts_with("use tokio 1.48 or newer"), "{t147}");
        assert!(t147.contains("tokio 1.47.0 has no task dumps"), "{t147}");
        let new = build((1, 54, 1), true).dumps().unwrap();
        assert_eq!(new, "enable taskleak's `taskdump` feature");
        let no_cfg = build((1, 54, 1), false).dumps().unwrap();
        assert!(
            no_cfg.ends_with("build with `--cfg tokio_unstable`"),
            "{no_cfg}"
        );
        let compiled = Build {
            dumps: true,
            ..build((1, 54, 1), true)
        };
        assert_eq!(compiled.dumps(), None);
        let mac = Build {
            dump_target: false,
            ..build((1, 54, 1), true)
        };
        assert_eq!(mac.dumps(), None, "no target tokio cannot dump on");
    }
}
