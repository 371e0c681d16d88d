//! The command that ran the tests — `cargo test …` or
//! `cargo nextest run …`, read from the parent of the test process — and
//! what it says about the run: whether it ran every test of the
//! workspace, or a part (a package, a target, a name filter, one
//! partition of several). Only a whole run, or every partition of one,
//! can tell that a rule matched nothing anywhere.
//!
//! Reading it is conservative: an argument this module does not know
//! makes the run partial, so an unknown option can hide a stale rule but
//! never call a needed one stale.

/// The test runner's command line and working directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Invocation {
    /// Its arguments, the program first (`cargo`, `cargo-nextest`).
    pub(crate) args: Vec<String>,
    /// Its working directory.
    pub(crate) cwd: String,
    /// That directory selects every package of the workspace by itself
    /// (see [`all_packages`]).
    pub(crate) all_packages: bool,
}

/// How much of the workspace a run covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// Every test of every package.
    Whole,
    /// Partition `k` of `n` (nextest's `--partition hash:k/n` or
    /// `count:k/n`) of a run that is otherwise whole.
    Partition(u32, u32),
    /// A part, and why (the argument that chose it).
    Part(String),
}

/// Cargo's and nextest's options that take a value and choose nothing.
const VALUED: &[&str] = &[
    "--features",
    "-F",
    "--profile",
    "-P",
    "--cargo-profile",
    "-j",
    "--jobs",
    "--test-threads",
    "--target-dir",
    "--color",
    "--message-format",
    "--config",
    "-Z",
    "--retries",
    "--status-level",
    "--final-status-level",
    "--failure-output",
    "--success-output",
    "--max-fail",
    "--no-tests",
    "--target",
    "--manifest-path",
    "--archive-file",
    "--workspace-remap",
    "--cargo-metadata",
    "--binaries-metadata",
    "--extract-to",
    "--tool-config-file",
];

/// Options without a value that choose nothing.
const FLAGS: &[&str] = &[
    "--workspace",
    "--all",
    "--all-features",
    "--no-default-features",
    "--release",
    "-r",
    "--no-fail-fast",
    "--fail-fast",
    "--locked",
    "--offline",
    "--frozen",
    "-q",
    "--quiet",
    "-v",
    "-vv",
    "--verbose",
    "--no-capture",
    "--nocapture",
    "--hide-progress-bar",
    "--no-run",
    "--keep-going",
    "--timings",
    "--ignore-rust-version",
    "--future-incompat-report",
];

/// Options that run a part of the workspace's tests.
const CHOOSING: &[&str] = &[
    "-p",
    "--package",
    "--exclude",
    "--lib",
    "--bin",
    "--bins",
    "--test",
    "--tests",
    "--example",
    "--examples",
    "--bench",
    "--benches",
    "--all-targets",
    "--doc",
    "-E",
    "--filterset",
    "--filter-expr",
    "--run-ignored",
    "--skip",
    "--exact",
    "--ignored",
];

impl Invocation {
    /// What the run covered.
    pub(crate) fn coverage(&self) -> Coverage {
        let mut args = self.args.iter().map(String::as_str).peekable();
        // Up to the subcommand: `cargo test` (or its built-in alias `t`),
        // `cargo-nextest nextest run` (`cargo nextest run` starts it as
        // `cargo-nextest nextest run`; `r` is its alias). A user's own
        // alias is not read: the run counts as a part.
        let mut found = false;
        for a in args.by_ref() {
            if matches!(a, "test" | "t" | "run" | "r") {
                found = true;
                break;
            }
        }
        if !found {
            return Coverage::Part("not run by `cargo test` or `cargo nextest run`".into());
        }
        let mut workspace = self.all_packages;
        let mut partition = None;
        while let Some(a) = args.next() {
            let (name, inline) = match a.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v)),
                _ => (a, None),
            };
            match name {
                // Everything after `--` goes to the test binaries: any of
                // it may choose tests.
                "--" => {
                    let rest: Vec<String> = args.by_ref().map(str::to_owned).collect();
                    if crate::util::chooses_tests(rest.iter().cloned()) {
                        return Coverage::Part(format!("`-- {}`", rest.join(" ")));
                    }
                }
                "--workspace" | "--all" => workspace = true,
                "--partition" => {
                    let v = inline
                        .map(str::to_owned)
                        .or_else(|| args.next().map(str::to_owned));
                    match v.as_deref().and_then(parse_partition) {
                        Some(p) => partition = Some(p),
                        None => {
                            return Coverage::Part(format!(
                                "`--partition {}`",
                                v.unwrap_or_default()
                            ));
                        }
                    }
                }
                n if FLAGS.contains(&n) => {}
                n if VALUED.contains(&n) => {
                    if inline.is_none() {
                        args.next();
                    }
                }
                // `-j4`, `-Fx`: a short option with its value attached.
                n if n.len() > 2 && !n.starts_with("--") && VALUED.contains(&&n[..2]) => {}
                n if CHOOSING.contains(&n) => return Coverage::Part(format!("`{a}`")),
                n if n.starts_with('-') => {
                    return Coverage::Part(format!("`{a}` (not known to taskleak)"));
                }
                _ => return Coverage::Part(format!("the filter `{a}`")),
            }
        }
        if !workspace {
            return Coverage::Part(
                "one package: without `--workspace`, in a package's directory".into(),
            );
        }
        match partition {
            Some((k, n)) if n > 1 => Coverage::Partition(k, n),
            _ => Coverage::Whole,
        }
    }
}

/// `hash:2/3` or `count:2/3` → (2, 3).
fn parse_partition(v: &str) -> Option<(u32, u32)> {
    let (_, kn) = v.split_once(':')?;
    let (k, n) = kn.split_once('/')?;
    let (k, n) = (k.parse().ok()?, n.parse().ok()?);
    (k >= 1 && k <= n).then_some((k, n))
}

/// Does a run in `cwd` select every package without `--workspace`? A
/// virtual manifest does, and so does a workspace of one package.
pub(crate) fn all_packages(cwd: &std::path::Path, workspace_root: &std::path::Path) -> bool {
    let Ok(text) = std::fs::read_to_string(cwd.join("Cargo.toml")) else {
        return false;
    };
    let has = |key| crate::config::file::manifest_has(&text, key);
    // A virtual manifest, or a package with no workspace of its own, at
    // the root of none.
    !has("package") || (!has("workspace") && cwd == workspace_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cov(args: &str, all: bool) -> Coverage {
        let inv = Invocation {
            args: args.split(' ').map(str::to_owned).collect(),
            cwd: String::new(),
            all_packages: all,
        };
        inv.coverage()
    }

    #[test]
    fn whole_runs_partitions_and_parts() {
        assert_eq!(cov("cargo test --workspace", false), Coverage::Whole);
        assert_eq!(cov("cargo test", true), Coverage::Whole);
        assert_eq!(cov("cargo t --workspace", false), Coverage::Whole);
        assert_eq!(
            cov("cargo-nextest nextest r --workspace", false),
            Coverage::Whole
        );
        assert_eq!(
            cov("cargo test -j 2 --features=full --no-fail-fast", true),
            Coverage::Whole
        );
        assert_eq!(
            cov("cargo test -- --test-threads=1 --nocapture", true),
            Coverage::Whole
        );
        assert!(matches!(cov("cargo test", false), Coverage::Part(_)));
        assert_eq!(
            cov(
                "/x/cargo-nextest nextest run --workspace --partition hash:2/3",
                false
            ),
            Coverage::Partition(2, 3)
        );
        assert_eq!(
            cov("cargo-nextest nextest run --partition=count:1/1", true),
            Coverage::Whole
        );
        for part in [
            "cargo test -p a",
            "cargo test --test client",
            "cargo test server",
            "cargo test -- --skip slow",
            "cargo-nextest nextest run -E test(foo)",
            "cargo test --frobnicate",
            "cargo-nextest nextest run --partition hash:4/3",
            "rustc x",
        ] {
            assert!(matches!(cov(part, true), Coverage::Part(_)), "{part}");
        }
    }
}
