//! One error type for every source of settings: which source, the line in
//! a file, the key, and what it accepts. Raised at the first check or
//! tracked runtime, where the user sees it: never a silent default.

use std::fmt;

/// Where a bad setting was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A `TASKLEAK*` environment variable.
    Env,
    /// `taskleak::configure!`, at `file:line`.
    Configure(&'static str),
    /// The config file, as its path is shown.
    File(String),
}

/// One bad setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The line in the config file, when the problem has one.
    pub(crate) line: Option<usize>,
    /// The variable or key: `TASKLEAK_GRACE`, `grace`, `ignore`.
    pub(crate) key: String,
    /// What is wrong and what to write instead, as printed.
    pub(crate) message: String,
    /// What the key accepts, when it takes one of a set of forms.
    pub(crate) accepted: Option<&'static str>,
}

impl Problem {
    /// A problem with `key`, which knows what the key accepts.
    pub(crate) fn new(line: Option<usize>, key: &str, message: String) -> Problem {
        Problem {
            line,
            key: key.to_owned(),
            message,
            accepted: super::values::accepted(key),
        }
    }
}

/// Every bad setting of one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConfigError {
    pub(crate) source: Source,
    pub(crate) problems: Vec<Problem>,
}

impl ConfigError {
    pub(crate) fn new(source: Source, problems: Vec<Problem>) -> ConfigError {
        ConfigError { source, problems }
    }

    /// A problem without a line (the environment, `configure!`, a file
    /// that cannot be read).
    pub(crate) fn one(source: Source, key: &str, message: String) -> ConfigError {
        ConfigError::new(source, vec![Problem::new(None, key, message)])
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages = self.problems.iter().map(|p| p.message.as_str());
        match &self.source {
            Source::Env => {
                let all: Vec<&str> = messages.collect();
                write!(f, "taskleak: {}", all.join("; "))
            }
            Source::Configure(at) => {
                let all: Vec<&str> = messages.collect();
                write!(f, "taskleak::configure! at {at}: {}", all.join("; "))
            }
            Source::File(name) => {
                for (i, p) in self.problems.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "\n" };
                    match p.line {
                        Some(line) => write!(f, "{sep}taskleak: {name}:{line}: {}", p.message)?,
                        None => write!(f, "{sep}taskleak: {}", p.message)?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}
