//! Writing the baseline (`TASKLEAK=record`): the one place it changes.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::config::file::Places;
use crate::suite::baseline::{Baseline, path};

/// Merges one process's recording into the baseline file: the tests that
/// ran a check here get exactly the leaks recorded here; other tests'
/// entries (other binaries, other nextest processes) stay. Under a lock
/// on the directory, written by an atomic rename. Returns the path and how
/// many leaks this process recorded, or why nothing was written (a file
/// that cannot be read or parsed is left as it is: it is a team's data).
pub(crate) fn record(
    places: &Places,
    binary: &str,
    checked: &BTreeSet<String>,
    leaked: &BTreeSet<(String, String)>,
) -> Result<(PathBuf, usize), String> {
    let file = path(places);
    std::fs::create_dir_all(&places.dir)
        .map_err(|e| format!("cannot create {}: {e}", places.dir.display()))?;
    let _lock = super::lock::Lock::take(&places.dir)
        .map_err(|e| format!("cannot lock {}: {e}", places.dir.display()))?;
    let mut baseline = Baseline::load(&file)?;
    baseline.replace(binary, checked, leaked);
    super::files::write_atomic(&file, baseline.to_toml().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok((file, leaked.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_replaces_only_the_tests_that_ran() {
        let dir = std::env::temp_dir().join(format!("taskleak-bl-{}", std::process::id()));
        let places = Places {
            config: None,
            dir: dir.join(".config"),
        };
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<BTreeSet<_>>()
        };
        let rec = |binary, checked: &[&str], leaked: &[(&str, &str)]| {
            record(&places, binary, &set(checked), &pairs(leaked)).unwrap();
        };
        rec("x", &["a", "b"], &[("a", "s:1"), ("b", "s:2")]);
        // Another process ran only `b` (fixed) and `c`.
        rec("x", &["b", "c"], &[("c", "s:3")]);
        // Another binary, with a test `a` of its own.
        rec("y", &["a"], &[("a", "s:4")]);
        let b = Baseline::load(&path(&places)).unwrap();
        let all: Vec<(&str, &str)> = b.entries("x").collect();
        assert_eq!(all, [("a", "s:1"), ("c", "s:3")]);
        let all: Vec<(&str, &str)> = b.entries("y").collect();
        assert_eq!(all, [("a", "s:4")]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
