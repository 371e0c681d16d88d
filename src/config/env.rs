//! Environment configuration, read once per process.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `TASKLEAK` | `fail`, `warn`, `off`, `record` (write the baseline) | `fail` |
//! | `TASKLEAK_GRACE` | a duration: `250ms`, `2s` | 500 ms |
//! | `TASKLEAK_BACKTRACE` | `full` (or `1`), `short` (or `0`), `off` | `full` |
//!
//! A bad value is an error naming the variable and what it accepts, raised
//! at the first guard or tracked runtime: never a silent default.

use std::sync::LazyLock;
use std::time::Duration;

use super::duration;

/// What a check does with leaks (`TASKLEAK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Fail the test with the report (the default).
    Fail,
    /// Print the report and let the test pass.
    Warn,
    /// Do not check at all.
    Off,
}

/// How much of each survivor's origin is recorded (`TASKLEAK_BACKTRACE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backtraces {
    /// Spawn site, spawn chain and the spawn-site backtrace (the default).
    Full,
    /// Spawn site and spawn chain: no stack walk at spawn, the cheapest.
    Short,
    /// Spawn site only.
    Off,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Env {
    pub(crate) mode: Option<Mode>,
    pub(crate) grace: Option<Duration>,
    pub(crate) backtraces: Option<Backtraces>,
    /// `TASKLEAK=record`: write the run's leaks to the baseline.
    pub(crate) record: bool,
}

static ENV: LazyLock<Result<Env, String>> =
    LazyLock::new(|| Env::from_lookup(|k| std::env::var(k).ok()));

/// The environment's settings; panics on a bad value, with the reason.
#[track_caller]
pub(crate) fn get() -> &'static Env {
    match &*ENV {
        Ok(env) => env,
        Err(e) => panic!("taskleak: {e}"),
    }
}

impl Env {
    pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Env, String> {
        let non_empty = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let record = non_empty("TASKLEAK").is_some_and(|v| v.trim() == "record");
        let mode = match non_empty("TASKLEAK") {
            None => None,
            Some(_) if record => None,
            Some(v) => Some(parse_mode(&v).map_err(|_| {
                format!("TASKLEAK={v:?} is not valid; use one of: fail, warn, off, record")
            })?),
        };
        let grace = match non_empty("TASKLEAK_GRACE") {
            None => None,
            Some(v) => Some(duration::parse(&v).map_err(|e| format!("TASKLEAK_GRACE: {e}"))?),
        };
        let backtraces = match non_empty("TASKLEAK_BACKTRACE") {
            None => None,
            Some(v) => {
                Some(parse_backtraces(&v).map_err(|e| format!("TASKLEAK_BACKTRACE={v:?} {e}"))?)
            }
        };
        Ok(Env {
            mode,
            grace,
            backtraces,
            record,
        })
    }
}

pub(crate) fn parse_mode(v: &str) -> Result<Mode, String> {
    match v.trim() {
        "fail" => Ok(Mode::Fail),
        "warn" => Ok(Mode::Warn),
        "off" => Ok(Mode::Off),
        _ => Err("is not valid; use one of: fail, warn, off".into()),
    }
}

/// Also `RUST_BACKTRACE`'s values, so one habit serves both: `1` (and
/// `full`) show the spawn-site backtrace, `0` shows none (spawn sites and
/// chains only, as `short`).
pub(crate) fn parse_backtraces(v: &str) -> Result<Backtraces, String> {
    match v.trim() {
        "full" | "1" => Ok(Backtraces::Full),
        "short" | "0" => Ok(Backtraces::Short),
        "off" => Ok(Backtraces::Off),
        _ => Err("is not valid; use one of: full (or 1), short (or 0), off".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<Env, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn reads_each_variable() {
        assert_eq!(env(&[]), Ok(Env::default()));
        let e = env(&[
            ("TASKLEAK", "warn"),
            ("TASKLEAK_GRACE", "250ms"),
            ("TASKLEAK_BACKTRACE", "short"),
        ])
        .unwrap();
        assert_eq!(e.mode, Some(Mode::Warn));
        assert_eq!(e.grace, Some(Duration::from_millis(250)));
        assert_eq!(e.backtraces, Some(Backtraces::Short));
        assert_eq!(env(&[("TASKLEAK", "off")]).unwrap().mode, Some(Mode::Off));
        assert_eq!(env(&[("TASKLEAK", "")]).unwrap().mode, None);
    }

    #[test]
    fn backtrace_takes_rust_backtraces_values() {
        let b = |v| env(&[("TASKLEAK_BACKTRACE", v)]).unwrap().backtraces;
        assert_eq!(b("1"), Some(Backtraces::Full));
        assert_eq!(b("full"), Some(Backtraces::Full));
        assert_eq!(b("0"), Some(Backtraces::Short));
    }

    #[test]
    fn bad_values_name_the_variable_and_the_choices() {
        assert_eq!(
            env(&[("TASKLEAK", "maybe")]).unwrap_err(),
            "TASKLEAK=\"maybe\" is not valid; use one of: fail, warn, off, record"
        );
        let rec = env(&[("TASKLEAK", "record")]).unwrap();
        assert!(rec.record && rec.mode.is_none());
        assert_eq!(
            env(&[("TASKLEAK_BACKTRACE", "long")]).unwrap_err(),
            "TASKLEAK_BACKTRACE=\"long\" is not valid; use one of: full (or 1), short (or 0), off"
        );
        let e = env(&[("TASKLEAK_GRACE", "soon")]).unwrap_err();
        assert!(
            e.starts_with("TASKLEAK_GRACE: \"soon\" is not a duration"),
            "{e}"
        );
    }
}
