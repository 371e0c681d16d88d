//! `taskleak::configure!`'s layer: the macro's constructor feeds a
//! [`Config`] before `main`, which stores what it could not use instead of
//! panicking there; `sources` raises it at the first check.

use std::sync::OnceLock;

use super::duration;
use super::error::{ConfigError, Problem, Source};
use super::ignore::{Ignore, Origin};
use super::layer::Layer;
use super::values;

/// What `configure!` set, or what was wrong with it; the first one
/// installed, and where a second one was.
static INSTALLED: OnceLock<(&'static str, Result<Layer, ConfigError>)> = OnceLock::new();
static SECOND: OnceLock<&'static str> = OnceLock::new();

/// Collects `configure!`'s settings; runs before `main` (from a `ctor`), so
/// it stores errors instead of panicking: the first guard raises them.
#[doc(hidden)]
#[derive(Debug)]
pub struct Config {
    at: &'static str,
    defaults: Layer,
    errors: Vec<String>,
}

impl Config {
    #[doc(hidden)]
    pub fn new(at: &'static str) -> Config {
        Config {
            at,
            defaults: Layer::default(),
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
        match values::parse_mode(mode) {
            Ok(m) => self.defaults.mode = Some(m),
            Err(e) => self.errors.push(format!("mode: {mode:?} {e}")),
        }
    }

    #[doc(hidden)]
    pub fn backtrace(&mut self, backtrace: &str) {
        match values::parse_backtraces(backtrace) {
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
            let problems = self.errors.into_iter().map(|message| {
                let key = message.split(':').next().unwrap_or_default().to_owned();
                Problem::new(None, &key, message)
            });
            Err(ConfigError::new(Source::Configure(at), problems.collect()))
        };
        if INSTALLED.set((at, result)).is_err() {
            // Keep the first; the error surfaces at the first guard.
            SECOND.get_or_init(|| at);
        }
    }
}

/// `configure!`'s layer (empty without one), or why it cannot be used.
pub(crate) fn layer() -> Result<Layer, ConfigError> {
    let Some((first, installed)) = INSTALLED.get() else {
        return Ok(Layer::default());
    };
    if let Some(second) = SECOND.get() {
        let message = format!("used again at {second}; keep one per test binary");
        return Err(ConfigError::one(Source::Configure(first), "", message));
    }
    installed.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env;

    /// One grammar: `TASKLEAK_GRACE` and `configure!` accept the same
    /// strings, and refuse the same ones with the grammar crate's message
    /// (the attribute's compile errors are pinned by tests/ui/).
    #[test]
    fn environment_and_configure_share_the_duration_grammar() {
        for text in [
            "250ms", "1.5s", "1m", "500us", "500µs", "100ns", "0", // accepted
            "250", "1_000ms", "1m 30s", "-1s", ".5s", "fast", "0.5ns", // refused
        ] {
            let env = env::from_lookup(|k| (k == "TASKLEAK_GRACE").then(|| text.to_owned()))
                .map_err(|e| e.problems[0].message.clone());
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
