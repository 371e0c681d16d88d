//! The workspace's cargo configuration (`.cargo/config.toml`), read for
//! one fact: does it ask for `--cfg tokio_unstable`? A build without the
//! cfg whose configuration asks for it got its rustflags from somewhere
//! that replaces the file's: a `RUSTFLAGS` environment variable, most
//! often in CI. That is what taskleak names when it cannot see spawn
//! sites.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// The cargo configuration file at or above this package (or the working
/// directory) that asks for `--cfg tokio_unstable`, if one does.
pub(crate) fn asks_here() -> Option<PathBuf> {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())?;
    asks_for_tokio_unstable(&start)
}

/// The cargo configuration file at or above `start` (as cargo looks for
/// them, nearest first) whose `[build]` or `[target.*]` rustflags hold
/// `--cfg tokio_unstable`, if one does.
pub(crate) fn asks_for_tokio_unstable(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        ["config.toml", "config"]
            .into_iter()
            .map(|name| dir.join(".cargo").join(name))
            .find(|file| std::fs::read_to_string(file).is_ok_and(|text| sets_tokio_unstable(&text)))
    })
}

/// Do the rustflags in this cargo configuration hold `--cfg tokio_unstable`?
fn sets_tokio_unstable(text: &str) -> bool {
    let Ok(table) = DeTable::parse(text) else {
        return false;
    };
    let table = table.get_ref();
    fn as_table<'a, 'd>(v: &'a toml::Spanned<DeValue<'d>>) -> Option<&'a DeTable<'d>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        }
    }
    let build = table.get("build").and_then(as_table);
    let targets = table.get("target").and_then(as_table);
    let mut sections = build.into_iter().chain(
        targets
            .into_iter()
            .flat_map(|t| t.values().filter_map(as_table)),
    );
    sections.any(|section| {
        let Some(flags) = section.get("rustflags") else {
            return false;
        };
        let flags: Vec<&str> = match flags.get_ref() {
            DeValue::String(s) => s.split_whitespace().collect(),
            DeValue::Array(a) => a.iter().filter_map(|f| f.get_ref().as_str()).collect(),
            _ => Vec::new(),
        };
        flags
            .windows(2)
            .any(|w| w[0] == "--cfg" && w[1] == "tokio_unstable")
            || flags.contains(&"--cfg=tokio_unstable")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cfg_in_build_or_target_rustflags() {
        assert!(sets_tokio_unstable(
            "[build]\nrustflags = [\"--cfg\", \"tokio_unstable\"]\n"
        ));
        assert!(sets_tokio_unstable(
            "[target.x86_64-unknown-linux-gnu]\nrustflags = \"-C x --cfg tokio_unstable\"\n"
        ));
        assert!(!sets_tokio_unstable(
            "[build]\nrustflags = [\"--cfg\", \"other\"]\n"
        ));
        assert!(!sets_tokio_unstable("[env]\nX = \"tokio_unstable\"\n"));
        assert!(!sets_tokio_unstable("not toml ["));
        // This repository's own file.
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        assert!(asks_for_tokio_unstable(&here).is_some());
    }
}
