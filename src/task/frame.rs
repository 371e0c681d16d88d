//! One resolved stack frame, as the hooks (task dumps) produce it and the
//! report prints it.

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
    pub(crate) function: String,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
}

impl Frame {
    pub(crate) fn new(function: String, file: Option<&Path>, line: Option<u32>) -> Frame {
        Frame {
            function,
            file: file.map(relative),
            line,
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
}

/// The nearest directory holding a `Cargo.lock`, from the working
/// directory up: the workspace root, which is also what `Location::file()`
/// paths are relative to, so frames and spawn sites read alike.
static ROOT: LazyLock<Option<PathBuf>> = LazyLock::new(|| {
    let cwd = std::env::current_dir().ok()?;
    let root = cwd.ancestors().find(|d| d.join("Cargo.lock").is_file());
    Some(root.unwrap_or(&cwd).to_path_buf())
});

fn relative(path: &Path) -> String {
    let rel = ROOT
        .as_deref()
        .and_then(|root| path.strip_prefix(root).ok())
        .unwrap_or(path);
    rel.display().to_string()
}
