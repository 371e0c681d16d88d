//! The symbol cache a test binary's processes share: a second process
//! takes the names the first one looked up in debug info instead of
//! loading it, and a binary of another build never reads them.
//!
//! Lookups are counted per process (not timed), so each fixture runs in a
//! child process of this same test binary, or of a copy of it whose build
//! id was changed, with the cache in a directory of its own.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{forever, multi_thread, output_within};

mod helper {
    /// A task that never ends, with this function in its spawn backtrace.
    #[inline(never)]
    pub fn spawn_metrics() {
        drop(tokio::spawn(super::forever()));
    }
}

#[test]
#[ignore = "fixture"]
fn fixture_ignored_by_a_function_path() {
    let rt = multi_thread();
    let guard = taskleak::Options::new()
        .ignore("symbol_cache::helper")
        .verify_none();
    rt.spawn(async { helper::spawn_metrics() });
    guard.check().unwrap();
    let (debug_info, shared) = taskleak::__private::symbol_sources();
    let _ = writeln!(std::io::stderr(), "symbol sources: {debug_info} {shared}");
}

#[test]
#[ignore = "fixture"]
fn fixture_a_leak_is_looked_up_during_the_grace() {
    let rt = multi_thread();
    let guard = taskleak::Options::new()
        .grace(Duration::from_millis(1500))
        .verify_none();
    rt.spawn(forever());
    // 200 ms before the grace ends; the lookups start 400 ms before.
    let during = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(1300));
        taskleak::__private::symbol_sources().0
    });
    let leaks = guard.check().unwrap_err();
    assert_eq!(leaks.tasks().len(), 1);
    let during = during.join().unwrap();
    let _ = writeln!(std::io::stderr(), "looked up during the grace: {during}");
}

/// Runs the fixture with `binary` and the cache in `cache`; returns how
/// many addresses it looked up in debug info and found in the cache.
fn run(binary: &Path, cache: &Path) -> (usize, usize) {
    let mut cmd = Command::new(binary);
    cmd.args([
        "--ignored",
        "--exact",
        "fixture_ignored_by_a_function_path",
        "--test-threads=1",
    ]);
    for (var, _) in std::env::vars() {
        if var.starts_with("TASKLEAK") || var.starts_with("NEXTEST") {
            cmd.env_remove(var);
        }
    }
    cmd.env("TASKLEAK_SYMBOL_CACHE", cache);
    let out = output_within(cmd, Duration::from_secs(60));
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let counts = text
        .lines()
        .find_map(|l| l.strip_prefix("symbol sources: "))
        .unwrap_or_else(|| panic!("no counts in:\n{text}"));
    let (a, b) = counts.trim().split_once(' ').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// An empty directory of this test's own.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("symbol_cache")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The cache files in `dir`, by name (the build ids).
fn cache_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn the_second_process_of_a_binary_reuses_the_first_ones_lookups() {
    let cache = fresh_dir("reuse");
    let me = std::env::current_exe().unwrap();
    let (debug_info, shared) = run(&me, &cache);
    assert!(debug_info > 0, "the first process looks names up");
    assert_eq!(shared, 0);
    assert_eq!(cache_files(&cache).len(), 1, "one file, for this build");
    let (debug_info, shared) = run(&me, &cache);
    assert_eq!(debug_info, 0, "the second process loads no debug info");
    assert!(shared > 0);
}

#[test]
fn a_binary_of_another_build_never_reads_the_cache() {
    let cache = fresh_dir("rebuilt");
    let me = std::env::current_exe().unwrap();
    run(&me, &cache);
    let [id] = &cache_files(&cache)[..] else {
        panic!("{:?}", cache_files(&cache));
    };
    // The same code under another build id: a copy with one byte of its
    // GNU build id note changed.
    let id_bytes: Vec<u8> = (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&id[i..i + 2], 16).unwrap())
        .collect();
    let mut bytes = std::fs::read(&me).unwrap();
    let at = bytes
        .windows(id_bytes.len())
        .position(|w| w == id_bytes)
        .expect("the build id is in the binary");
    bytes[at] ^= 0xff;
    let rebuilt = cache
        .parent()
        .unwrap()
        .join(format!("rebuilt-bin-{}", std::process::id()));
    std::fs::write(&rebuilt, &bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rebuilt, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let other = format!("{:02x}{}", id_bytes[0] ^ 0xff, &id[2..]);
    // The old build's file under the new build's name too: its first
    // line names the old build, so it is not trusted either.
    std::fs::copy(cache.join(id), cache.join(&other)).unwrap();

    let (debug_info, shared) = run(&rebuilt, &cache);
    assert!(debug_info > 0, "another build looks its names up");
    assert_eq!(shared, 0, "and reads nothing cached for the old one");
    let (debug_info, shared) = run(&rebuilt, &cache);
    assert_eq!((debug_info, shared > 0), (0, true), "it shares its own");
    let _ = std::fs::remove_file(&rebuilt);
}

/// A failing check's report does not wait for its names after the grace:
/// they were looked up while it ran (counted, not timed: the lookups had
/// begun 200 ms before the grace ended).
#[test]
fn a_leaks_frames_are_looked_up_before_its_grace_ends() {
    let mut cmd = common::this_binary(&[
        "--ignored",
        "--exact",
        "fixture_a_leak_is_looked_up_during_the_grace",
        "--test-threads=1",
    ]);
    cmd.env("TASKLEAK_SYMBOL_CACHE", "off");
    let out = output_within(cmd, Duration::from_secs(60));
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let during: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("looked up during the grace: "))
        .unwrap_or_else(|| panic!("no count in:\n{text}"))
        .trim()
        .parse()
        .unwrap();
    assert!(during > 0, "{text}");
}
