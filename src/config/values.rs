//! The values a setting can take, and their one grammar: the environment,
//! `configure!` and the config file all parse with these functions, so the
//! same word means the same thing everywhere and is refused with the same
//! list of choices.

/// What a check does with leaks (`TASKLEAK`, `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Fail the test with the report (the default).
    Fail,
    /// Print the report and let the test pass.
    Warn,
    /// Do not check at all.
    Off,
    /// `TASKLEAK=record`: note every leak for the baseline and pass.
    Record,
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

/// The modes a file or `configure!` may set (`record` is a run's choice,
/// made in the environment).
pub(crate) const MODES: &str = "fail, warn, off";
/// The backtrace settings, with `RUST_BACKTRACE`'s spellings.
pub(crate) const BACKTRACES: &str = "full (or 1), short (or 0), off";

pub(crate) fn parse_mode(v: &str) -> Result<Mode, String> {
    match v.trim() {
        "fail" => Ok(Mode::Fail),
        "warn" => Ok(Mode::Warn),
        "off" => Ok(Mode::Off),
        _ => Err(format!("is not valid; use one of: {MODES}")),
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
        _ => Err(format!("is not valid; use one of: {BACKTRACES}")),
    }
}

/// What a setting accepts, by its key in any source (`mode`, `TASKLEAK`).
pub(crate) fn accepted(key: &str) -> Option<&'static str> {
    Some(match key {
        "TASKLEAK" => "fail, warn, off, record",
        "mode" => MODES,
        "TASKLEAK_BACKTRACE" | "backtrace" => BACKTRACES,
        "TASKLEAK_GRACE" | "grace" => taskleak_grammar::DURATION_FORMS,
        "suite_gate" => "true, false",
        "ignore" => {
            "a function path (my_crate::worker), a file (src/pool.rs) or a line (src/pool.rs:88)"
        }
        _ => return None,
    })
}
