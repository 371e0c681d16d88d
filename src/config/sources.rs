//! The one owner of the process's settings: the environment, `configure!`
//! and the config file, each read once and merged once into the base
//! layer every check stands on, and where the config file and baseline
//! live.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use super::configure;
use super::env;
use super::error::ConfigError;
use super::file::{self, Places};
use super::layer::Layer;

/// Where the config file and the baseline are, found once per process.
static PLACES: LazyLock<Places> = LazyLock::new(file::places);

/// The workspace root of the package under test, found once per process.
static WORKSPACE: LazyLock<PathBuf> = LazyLock::new(|| file::workspace_root(&file::package()));

/// Environment > `configure!` > config file, or the first source that
/// holds a bad value (in that order).
static BASE: LazyLock<Result<Layer, ConfigError>> = LazyLock::new(|| {
    let env = env::from_lookup(|k| std::env::var(k).ok())?;
    let configured = configure::layer()?;
    let filed = match &PLACES.config {
        Some(path) => file::load(path)?,
        None => Layer::default(),
    };
    Ok(Layer::merge([&env, &configured, &filed]))
});

/// The process's settings; panics with the reason when a source holds a
/// value taskleak cannot use, so that the first check (or tracked
/// runtime) says what to fix.
#[track_caller]
pub(crate) fn base() -> &'static Layer {
    match &*BASE {
        Ok(layer) => layer,
        Err(e) => panic!("{e}"),
    }
}

/// Raises any configuration error now, at a place the user will see it.
#[track_caller]
pub(crate) fn validate() {
    base();
}

pub(crate) fn places() -> &'static Places {
    &PLACES
}

/// The root of the workspace the tests run in (the package's directory
/// when it is in no workspace). Relative paths given for the whole run
/// (`TASKLEAK_REPORT_DIR`) are resolved from it, not from each member's
/// directory (the working directory of its test processes): one place for
/// the run, as `CARGO_TARGET_DIR` is.
pub(crate) fn workspace() -> &'static Path {
    &WORKSPACE
}
