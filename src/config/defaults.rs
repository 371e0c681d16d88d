//! Binary-wide defaults (`taskleak::configure!` and `.config/taskleak.toml`),
//! and how every setting is resolved: attribute or `Options` > environment >
//! `configure!` > the config file > built-in.
//!
//! When a binary has both `configure!` and a config file, `configure!`'s
//! value wins for each key it sets (it is the nearer, per-binary one), the
//! file's apply to the rest, and the ignore rules of both apply.

use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use super::DEFAULT_GRACE;
use super::duration;
use super::env::{self, Backtraces, Mode};
use super::file::{self, FileConfig, Places};
use super::ignore::{Ignore, Origin};

/// What `configure!` set, validated.
#[derive(Debug, Default)]
pub(crate) struct Defaults {
    pub(crate) grace: Option<Duration>,
    pub(crate) mode: Option<Mode>,
    pub(crate) backtraces: Option<Backtraces>,
    pub(crate) ignore: Vec<Ignore>,
    pub(crate) suite_gate: Option<bool>,
}

static DEFAULTS: OnceLock<Result<Defaults, String>> = OnceLock::new();

/// Collects `configure!`'s settings; runs before `main` (from a `ctor`), so
/// it stores errors instead of panicking: the first guard raises them.
#[doc(hidden)]
#[derive(Debug)]
pub struct Config {
    at: &'static str,
    defaults: Defaults,
    errors: Vec<String>,
}

impl Config {
    #[doc(hidden)]
    pub fn new(at: &'static str) -> Config {
        Config {
            at,
            defaults: Defaults::default(),
            errors: Vec::new(),
        }
    }

    #[doc(hidden)]
    pub fn grace(&mut self, grace: &str) {
        match duration::parse(grace) {
            Ok(d) => self.defaults.grace = Some(d),
            Err(e) => self.errors.push(format!("grace: {e}")),
        }
    }

    #[doc(hidden)]
    pub fn ignore(&mut self, patterns: &[&str]) {
        for p in patterns {
            match Ignore::parse(p, Origin::Configure(self.at)) {
                Ok(rule) => self.defaults.ignore.push(rule),
                Err(e) => self.errors.push(format!("ignore: {e}")),
            }
        }
    }

    #[doc(hidden)]
    pub fn mode(&mut self, mode: &str) {
        match env::parse_mode(mode) {
            Ok(m) => self.defaults.mode = Some(m),
            Err(e) => self.errors.push(format!("mode: {mode:?} {e}")),
        }
    }

    #[doc(hidden)]
    pub fn backtrace(&mut self, backtrace: &str) {
        match env::parse_backtraces(backtrace) {
            Ok(b) => self.defaults.backtraces = Some(b),
            Err(e) => self.errors.push(format!("backtrace: {backtrace:?} {e}")),
        }
    }

    #[doc(hidden)]
    pub fn suite_gate(&mut self, on: bool) {
        self.defaults.suite_gate = Some(on);
    }

    #[doc(hidden)]
    pub fn install(self) {
        let at = self.at;
        let result = if self.errors.is_empty() {
            Ok(self.defaults)
        } else {
            Err(format!(
                "taskleak::configure! at {at}: {}",
                self.errors.join("; ")
            ))
        };
        if DEFAULTS.set(result).is_err() {
            // Keep the first; the error surfaces at the first guard.
            SECOND.get_or_init(|| at);
        }
    }
}

/// Where a second `configure!` was, to say so.
static SECOND: OnceLock<&'static str> = OnceLock::new();

/// `configure!`'s defaults; panics with the reason if it was invalid.
#[track_caller]
pub(crate) fn get() -> Option<&'static Defaults> {
    if let Some(second) = SECOND.get() {
        panic!("taskleak::configure! is used twice (again at {second}); keep one per test binary");
    }
    match DEFAULTS.get() {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => panic!("{e}"),
    }
}

/// Where the config file and the baseline are, found once per process.
static PLACES: LazyLock<Places> = LazyLock::new(file::places);

/// The config file's settings, read at the first check.
static FILE: LazyLock<Option<Result<FileConfig, String>>> =
    LazyLock::new(|| PLACES.config.as_deref().map(file::load));

pub(crate) fn places() -> &'static Places {
    &PLACES
}

/// The config file's settings, if there is one; panics with the reason if
/// it is invalid.
#[track_caller]
pub(crate) fn file() -> Option<&'static FileConfig> {
    match &*FILE {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => panic!("{e}"),
    }
}

/// Raises any configuration error now, at a place the user will see it.
#[track_caller]
pub(crate) fn validate() {
    env::get();
    get();
    file();
}

/// Whether the suite gate is on: `configure!`'s word, else the file's.
pub(crate) fn suite_gate() -> bool {
    get()
        .and_then(|d| d.suite_gate)
        .or(file().and_then(|f| f.suite_gate))
        .unwrap_or(false)
}

pub(crate) fn grace(explicit: Option<Duration>) -> Duration {
    explicit
        .or(env::get().grace)
        .or(get().and_then(|d| d.grace))
        .or(file().and_then(|f| f.grace))
        .unwrap_or(DEFAULT_GRACE)
}

pub(crate) fn mode() -> Mode {
    env::get()
        .mode
        .or(get().and_then(|d| d.mode))
        .or(file().and_then(|f| f.mode))
        .unwrap_or(Mode::Fail)
}

pub(crate) fn backtraces() -> Backtraces {
    chosen_backtraces().unwrap_or(Backtraces::Full)
}

/// The backtrace setting, if the environment, `configure!` or the config
/// file chose one.
pub(crate) fn chosen_backtraces() -> Option<Backtraces> {
    env::get()
        .backtraces
        .or(get().and_then(|d| d.backtraces))
        .or(file().and_then(|f| f.backtraces))
}

/// `configure!`'s and the config file's ignore rules, which apply to every
/// check and the gate.
pub(crate) fn ignores<'a>() -> impl Iterator<Item = &'a Ignore> {
    let configured: &'a [Ignore] = get().map_or(&[], |d| &d.ignore);
    let filed: &'a [Ignore] = file().map_or(&[], |f| &f.ignore);
    configured.iter().chain(filed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One grammar: `TASKLEAK_GRACE` and `configure!` accept the same
    /// strings, and refuse the same ones with the grammar crate's message
    /// (the attribute's compile errors are pinned by tests/ui/).
    #[test]
    fn environment_and_configure_share_the_duration_grammar() {
        for text in [
            "250ms", "1.5s", "1m", "500us", "500µs", "100ns", "0", // accepted
            "250", "1_000ms", "1m 30s", "-1s", ".5s", "fast", "0.5ns", // refused
        ] {
            let env = env::Env::from_lookup(|k| (k == "TASKLEAK_GRACE").then(|| text.to_owned()));
            let mut config = Config::new("here:1");
            config.grace(text);
            match taskleak_grammar::parse_duration(text) {
                Ok(d) => {
                    assert_eq!(env.map(|e| e.grace), Ok(Some(d)), "{text:?}");
                    assert_eq!(config.defaults.grace, Some(d), "{text:?}");
                }
                Err(e) => {
                    assert_eq!(env, Err(format!("TASKLEAK_GRACE: {e}")), "{text:?}");
                    assert_eq!(config.errors, [format!("grace: {e}")], "{text:?}");
                }
            }
        }
    }

    #[test]
    fn options_and_configure_share_the_pattern_grammar() {
        let copied = "hyper_util::client::legacy::pool::PoolInner<T,K>::spawn_idle_interval";
        for text in [copied, "<my::Pool<M> as Trait>::f", "src/a.rs:4"] {
            let mut config = Config::new("here:1");
            config.ignore(&[text]);
            assert!(config.errors.is_empty(), "{text:?}: {:?}", config.errors);
            let _ = crate::Options::new().ignore(text);
        }
        for text in ["", "a.rs:0", "my crate", "src/a.rs:4:9"] {
            let want = taskleak_grammar::parse_pattern(text)
                .unwrap_err()
                .to_string();
            let mut config = Config::new("here:1");
            config.ignore(&[text]);
            assert_eq!(config.errors, [format!("ignore: {want}")], "{text:?}");
            let panic =
                std::panic::catch_unwind(|| crate::Options::new().ignore(text)).expect_err(text);
            let msg = panic.downcast_ref::<String>().expect("a String panic");
            assert_eq!(msg, &format!("taskleak: {want}"), "{text:?}");
        }
    }
}
