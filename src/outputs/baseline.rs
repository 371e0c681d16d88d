//! Writing the baseline (`TASKLEAK=record`): the one place it changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::file::Places;
use crate::suite::baseline::{Baseline, Binary, path};

/// Merges one process's recording into the baseline file: the tests that
/// ran a check here get exactly the leaks recorded here; other tests'
/// entries (other binaries, other nextest processes) stay. Under a lock
/// on the directory, written by an atomic rename. Returns the path and how
/// many leaks this process recorded, or why nothing was written (a file
/// that cannot be read or parsed is left as it is: it is a team's data).
pub(crate) fn record(
    places: &Places,
    binary: &Binary,
    checked: &BTreeSet<String>,
    leaked: &BTreeMap<(String, String), usize>,
) -> Result<(PathBuf, usize), String> {
    let file = path(places);
    let part = (binary.clone(), checked.clone(), leaked.clone());
    record_all(&file, std::slice::from_ref(&part))
}

/// One binary's part of a recording: the tests it checked and the tasks
/// each leaked per site.
pub(crate) type Part = (Binary, BTreeSet<String>, BTreeMap<(String, String), usize>);

/// [`record`] for several binaries at once (`cargo taskleak baseline`,
/// from a whole run's ledgers), into the baseline file `file`.
pub(crate) fn record_all(file: &Path, parts: &[Part]) -> Result<(PathBuf, usize), String> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // A link (to a file shared by several workspaces, say) stays a link:
    // the file it points to is the one replaced.
    let file = through_links(file.to_path_buf())?;
    let dir = file.parent().unwrap_or(dir);
    let _lock =
        super::lock::Lock::take(dir).map_err(|e| format!("cannot lock {}: {e}", dir.display()))?;
    let mut baseline = Baseline::load(&file)?;
    let mut n = 0;
    for (binary, checked, leaked) in parts {
        baseline.replace(binary, checked, leaked);
        n += leaked.values().sum::<usize>();
    }
    super::files::write_atomic(&file, baseline.to_toml().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok((file, n))
}

/// The file `path` names once its symbolic links are followed (it need
/// not exist).
fn through_links(mut path: PathBuf) -> Result<PathBuf, String> {
    for _ in 0..40 {
        match std::fs::read_link(&path) {
            Ok(target) => {
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                path = base.join(target);
            }
            // Not a link, or nothing there yet: this is the file.
            Err(_) => return Ok(path),
        }
    }
    Err(format!(
        "{}: too many levels of symbolic links",
        path.display()
    ))
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
                .map(|(a, b)| ((a.to_string(), b.to_string()), 1))
                .collect::<BTreeMap<_, _>>()
        };
        let rec = |binary: &Binary, checked: &[&str], leaked: &[(&str, &str)]| {
            record(&places, binary, &set(checked), &pairs(leaked)).unwrap();
        };
        let (x, y) = (Binary::new("p", "x"), Binary::new("p", "y"));
        rec(&x, &["a", "b"], &[("a", "s:1"), ("b", "s:2")]);
        // Another process ran only `b` (fixed) and `c`.
        rec(&x, &["b", "c"], &[("c", "s:3")]);
        // Another binary, with a test `a` of its own.
        rec(&y, &["a"], &[("a", "s:4")]);
        // A binary of the same name in another package of the workspace.
        let other = Binary::new("q", "x");
        rec(&other, &["a"], &[("a", "s:5")]);
        let b = Baseline::load(&path(&places)).unwrap();
        let one = |t, s| (t, s, Some(1));
        assert_eq!(b.entries(&x), [one("a", "s:1"), one("c", "s:3")]);
        assert_eq!(b.entries(&y), [one("a", "s:4")]);
        assert_eq!(b.entries(&other), [one("a", "s:5")]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
