//! The environment's layer of settings (read once per process, by
//! `sources`).
//!
//! | variable | values | default |
//! |---|---|---|
//! | `TASKLEAK` | `fail`, `warn`, `off`, `record` (write the baseline) | `fail` |
//! | `TASKLEAK_GRACE` | a duration: `250ms`, `2s` | 500 ms |
//! | `TASKLEAK_BACKTRACE` | `full` (or `1`), `short` (or `0`), `off` | `full` |
//!
//! A bad value is an error naming the variable and what it accepts, raised
//! at the first guard or tracked runtime: never a silent default.

use super::duration;
use super::error::{ConfigError, Source};
use super::layer::Layer;
use super::values::{BACKTRACES, MODES, Mode, parse_backtraces, parse_mode};

/// The environment's layer, from `var` (`std::env::var` in a run).
pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Layer, ConfigError> {
    let non_empty = |k: &str| var(k).filter(|v| !v.trim().is_empty());
    let bad = |key: &str, message: String| ConfigError::one(Source::Env, key, message);
    let mode = match non_empty("TASKLEAK") {
        None => None,
        Some(v) if v.trim() == "record" => Some(Mode::Record),
        Some(v) => Some(parse_mode(&v).map_err(|_| {
            bad(
                "TASKLEAK",
                format!("TASKLEAK={v:?} is not valid; use one of: {MODES}, record"),
            )
        })?),
    };
    let grace = match non_empty("TASKLEAK_GRACE") {
        None => None,
        Some(v) => Some(
            duration::parse(&v)
                .map_err(|e| bad("TASKLEAK_GRACE", format!("TASKLEAK_GRACE: {e}")))?,
        ),
    };
    let backtraces = match non_empty("TASKLEAK_BACKTRACE") {
        None => None,
        Some(v) => Some(parse_backtraces(&v).map_err(|_| {
            bad(
                "TASKLEAK_BACKTRACE",
                format!("TASKLEAK_BACKTRACE={v:?} is not valid; use one of: {BACKTRACES}"),
            )
        })?),
    };
    Ok(Layer {
        mode,
        grace,
        backtraces,
        ..Layer::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::values::Backtraces;
    use std::time::Duration;

    fn env(vars: &[(&str, &str)]) -> Result<Layer, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            .map_err(|e| e.problems[0].message.clone())
    }

    #[test]
    fn reads_each_variable() {
        assert_eq!(env(&[]), Ok(Layer::default()));
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
        assert_eq!(rec.mode, Some(Mode::Record));
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
