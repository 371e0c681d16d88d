//! One resolved stack frame, as the hooks (task dumps) produce it and the
//! report prints it, and whose code it is: the user's or the runtime's.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// One resolved stack frame of a spawn-site backtrace.
///
/// ```
/// # fn show(task: &taskleak::LeakedTask) {
/// for frame in task.backtrace() {
///     println!("{} at {}:{}", frame.function(), frame.file().unwrap_or("?"), frame.line().unwrap_or(0));
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    function: String,
    file: Option<String>,
    line: Option<u32>,
    home: Home,
}

/// Where a frame's code lives, which decides whether a report shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Home {
    /// The user's workspace: the crate under test, its tests, its members.
    Workspace,
    /// A third-party crate (hyper, reqwest, futures, ...): the user's
    /// frames too, since the user chose the library and can ignore it.
    Dependency,
    /// tokio, std, core, alloc, libtest, taskleak: plumbing between the
    /// user's code and a spawn, never shown and never matched by a rule.
    Runtime,
}

impl Frame {
    pub(crate) fn new(function: String, file: Option<&Path>, line: Option<u32>) -> Frame {
        let home = home(&function, file);
        Frame {
            function,
            file: file.map(relative),
            line,
            home,
        }
    }

    /// The demangled function name, without the hash suffix.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The source file, relative to the workspace root when inside it.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// The line in [`Frame::file`].
    pub fn line(&self) -> Option<u32> {
        self.line
    }

    /// Is this the user's code (workspace or a third-party crate), not
    /// tokio's, std's, libtest's or taskleak's?
    pub(crate) fn is_user(&self) -> bool {
        self.home != Home::Runtime
    }

    /// Is this code in the user's workspace?
    pub(crate) fn in_workspace(&self) -> bool {
        self.home == Home::Workspace
    }
}

/// Crates whose code is the runtime's, by the name cargo gives their
/// source directory (`tokio-1.54.1`) and by the first segment of their
/// functions (for frames without a file: no debug info).
const RUNTIME_DIRS: &[&str] = &["tokio", "taskleak", "taskleak-macros"];
const RUNTIME_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "tokio",
    "taskleak",
    "taskleak_macros",
];

/// taskleak's own sources (in its repository, or its unpacked package).
const OWN_SOURCES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");

/// Where the code of a frame lives, decided by its file: the standard
/// library's sources (`/rustc/<hash>/library/...`, libtest included),
/// a runtime crate's package directory, taskleak's sources, the user's
/// workspace, or else a dependency. A crate's name alone never decides: a
/// test crate named `test` (`tests/test.rs`) is the user's, not libtest.
fn home(function: &str, file: Option<&Path>) -> Home {
    let Some(file) = file else {
        return home_by_name(function);
    };
    let path = file.to_string_lossy().replace('\\', "/");
    if path.starts_with("/rustc/") || path.contains("/rustlib/src/rust/library/") {
        return Home::Runtime;
    }
    // Not Rust: the C library's thread start (`./nptl/pthread_create.c`,
    // `clone3.S`), whose relative paths would otherwise read as the
    // workspace's.
    if !path.ends_with(".rs") {
        return Home::Runtime;
    }
    if path.starts_with(OWN_SOURCES) {
        return Home::Runtime;
    }
    // The workspace first: a directory of the user's may look like a
    // package's (`target/tokio-1.46.1/` holding a copy of their crate).
    if in_workspace(&path) {
        return Home::Workspace;
    }
    let in_runtime_package = path.split('/').any(|dir| {
        dir.rsplit_once('-').is_some_and(|(name, version)| {
            RUNTIME_DIRS.contains(&name) && version.starts_with(|c: char| c.is_ascii_digit())
        })
    });
    if in_runtime_package {
        Home::Runtime
    } else {
        Home::Dependency
    }
}

/// Is `path` (a frame's file, or a `Location::file()`) in the user's
/// workspace? Relative paths are (cargo gives workspace members' sources
/// relative paths, dependencies' absolute ones), as are absolute paths
/// under the workspace root that are not in a package cache.
pub(crate) fn in_workspace(path: &str) -> bool {
    let path = path.replace('\\', "/");
    if path.contains("/.cargo/registry/") || path.contains("/.cargo/git/") {
        return false;
    }
    if !Path::new(&path).is_absolute() {
        return true;
    }
    ROOT.as_deref()
        .is_some_and(|root| Path::new(&path).starts_with(root))
}

/// Is a function, known by name only (a task dump's frame), the user's?
pub(crate) fn is_user_function(name: &str) -> bool {
    home_by_name(name) != Home::Runtime
}

/// For a frame without a file: `crate::path::fn`, `<crate::Type as
/// Trait>::fn`, the crate being the first segment. Generic parameters
/// (`<F as Future>::poll`), bare C symbols (`main`, `clone3`) and the
/// runtime's crates are not the user's; anything else counts as a
/// dependency, since where it lives is unknown.
fn home_by_name(name: &str) -> Home {
    let name = name
        .trim_start_matches(['<', '&', '*'])
        .trim_start_matches("mut ")
        .trim_start_matches("dyn ");
    let Some((root, _)) = name.split_once("::") else {
        return Home::Runtime;
    };
    let is_crate_name = root
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !root.is_empty();
    if is_crate_name && !RUNTIME_CRATES.contains(&root) {
        Home::Dependency
    } else {
        Home::Runtime
    }
}

/// The nearest directory holding a `Cargo.lock`, from the working
/// directory up: the workspace root, which is also what `Location::file()`
/// paths are relative to, so frames and spawn sites read alike.
static ROOT: LazyLock<Option<PathBuf>> = LazyLock::new(|| {
    let cwd = std::env::current_dir().ok()?;
    let root = cwd.ancestors().find(|d| d.join("Cargo.lock").is_file());
    Some(root.unwrap_or(&cwd).to_path_buf())
});

/// `path` relative to the workspace root when it is under it; a
/// dependency's from its package directory (`tokio-util-0.7.20/src/…`), not
/// from `$CARGO_HOME`, which differs between machines and says nothing.
pub(crate) fn relative(path: &Path) -> String {
    if let Some(rel) = ROOT
        .as_deref()
        .and_then(|root| path.strip_prefix(root).ok())
    {
        return rel.display().to_string();
    }
    let text = path.display().to_string();
    in_package_cache(&text).map_or_else(|| text.clone(), str::to_owned)
}

/// The part of `path` from the package directory on, when it is in
/// cargo's package cache: `…/registry/src/<index>/<package>/…` or
/// `…/git/checkouts/<repository>/<revision>/…`.
fn in_package_cache(path: &str) -> Option<&str> {
    if let Some((_, rest)) = path.split_once("/registry/src/") {
        return rest.split_once('/').map(|(_index, package)| package);
    }
    path.split_once("/git/checkouts/").map(|(_, rest)| rest)
}

/// `a::f::{{closure}}::{{closure}}` → `a::f`.
pub(crate) fn without_closures(mut function: &str) -> &str {
    while let Some(outer) = function.strip_suffix("::{{closure}}") {
        function = outer;
    }
    function
}

/// The user's frames of a resolved backtrace, innermost (the spawn call)
/// first, with repeats of one line and of one function merged: an async
/// fn, its body's closure and the closure `#[test]` wraps it in are one
/// frame, the innermost (where the call is).
pub(crate) fn user_frames(all: &[Frame]) -> Vec<Frame> {
    let mut out: Vec<Frame> = Vec::new();
    for f in all.iter().filter(|f| f.is_user()) {
        let repeat = out.last().is_some_and(|last| {
            (last.file() == f.file() && last.line() == f.line())
                || without_closures(last.function()) == without_closures(f.function())
        });
        if !repeat {
            out.push(f.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: Option<&str>) -> Frame {
        Frame::new(function.into(), file.map(Path::new), Some(1))
    }

    #[test]
    fn where_code_lives_decides_whose_frame_it_is() {
        let registry = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        for (function, file) in [
            (
                "std::thread::spawn",
                "/rustc/0123abcd/library/std/src/thread/mod.rs",
            ),
            ("test::run_test", "/rustc/0123abcd/library/test/src/lib.rs"),
            (
                "tokio::task::spawn",
                &format!("{registry}/tokio-1.54.1/src/task/spawn.rs"),
            ),
            (
                "taskleak::registry::spawned",
                &format!("{OWN_SOURCES}registry.rs"),
            ),
            ("start_thread", "./nptl/pthread_create.c"),
            ("__libc_start_main_impl", "./csu/../csu/libc-start.c"),
            (
                "clone3",
                "./misc/../sysdeps/unix/sysv/linux/x86_64/clone3.S",
            ),
        ] {
            assert!(!frame(function, Some(file)).is_user(), "{file}");
        }
        let hyper = frame(
            "hyper_util::client::legacy::pool::PoolInner<T,K>::spawn_idle_interval",
            Some(&format!(
                "{registry}/hyper-util-0.1.10/src/client/legacy/pool.rs"
            )),
        );
        assert!(hyper.is_user() && !hyper.in_workspace());
        // Shown from its package directory, not from $CARGO_HOME.
        assert_eq!(
            hyper.file(),
            Some("hyper-util-0.1.10/src/client/legacy/pool.rs")
        );
        // A test crate named `test` is the user's, libtest or not.
        let own_test = frame("test::helper", Some("tests/test.rs"));
        assert!(own_test.is_user() && own_test.in_workspace());
        let absolute = ROOT.as_ref().unwrap().join("tests/client.rs");
        assert!(frame("client::t", absolute.to_str()).in_workspace());
        // A workspace directory named like a package is still the user's.
        let copy = ROOT
            .as_ref()
            .unwrap()
            .join("target/tokio-1.46.1/tmp/app/src/lib.rs");
        assert!(frame("app::metrics::start", copy.to_str()).in_workspace());
    }

    #[test]
    fn without_a_file_the_name_decides() {
        for name in [
            "tokio::runtime::task::harness::Harness<T,S>::poll",
            "<core::pin::Pin<P> as core::future::future::Future>::poll",
            "<F as core::future::future::Future>::poll",
            "std::sys::backtrace::__rust_begin_short_backtrace",
            "taskleak::registry::spawned",
            "main",
            "clone3",
            "0x7f00deadbeef",
        ] {
            assert!(!frame(name, None).is_user(), "{name}");
        }
        for name in [
            "leaky_server::main::{{closure}}",
            "<my_app::Server as core::future::future::Future>::poll",
            "test::helper",
        ] {
            assert!(frame(name, None).is_user(), "{name}");
        }
    }

    /// A test function shows as one frame: its body's closure (where the
    /// spawn is), not also the fn and the closure `#[test]` wraps it in.
    #[test]
    fn one_function_is_one_frame() {
        let at = |function: &str, line| {
            Frame::new(function.into(), Some(Path::new("tests/x.rs")), Some(line))
        };
        let all = [
            at("x::leaks::{{closure}}", 14),
            Frame::new(
                "core::future::poll".into(),
                Some(Path::new("/rustc/0/library/core/src/f.rs")),
                Some(1),
            ),
            at("x::leaks", 11),
            at("x::leaks::{{closure}}", 10),
            at("x::helper", 30),
        ];
        let shown: Vec<_> = user_frames(&all)
            .iter()
            .map(|f| format!("{} {}", f.function(), f.line().unwrap()))
            .collect();
        assert_eq!(shown, ["x::leaks::{{closure}} 14", "x::helper 30"]);
    }
}
