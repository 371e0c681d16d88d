//! One settings layer type and one merge. Every source (a check's
//! `Options`, the environment, `configure!`, the config file) reads into a
//! [`Layer`]; [`Layer::merge`] stacks them nearest first; [`Settings`] is
//! the result with the built-in defaults filled in.
//!
//! Precedence: a check's own, then `TASKLEAK_*`, then `configure!`, then
//! `.config/taskleak.toml`, then built-in. Ignore rules do not override
//! each other: every layer's apply, the nearest first.

use std::time::Duration;

use super::DEFAULT_GRACE;
use super::ignore::Ignore;
use super::values::{Backtraces, Mode};

/// What one source set; `None` where it said nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Layer {
    pub(crate) grace: Option<Duration>,
    pub(crate) mode: Option<Mode>,
    pub(crate) backtraces: Option<Backtraces>,
    pub(crate) ignore: Vec<Ignore>,
    pub(crate) suite_gate: Option<bool>,
}

impl Layer {
    /// `layers`, nearest first, as one layer.
    pub(crate) fn merge<'a>(layers: impl IntoIterator<Item = &'a Layer>) -> Layer {
        let mut out = Layer::default();
        for l in layers {
            out.grace = out.grace.or(l.grace);
            out.mode = out.mode.or(l.mode);
            out.backtraces = out.backtraces.or(l.backtraces);
            out.suite_gate = out.suite_gate.or(l.suite_gate);
            out.ignore.extend(l.ignore.iter().cloned());
        }
        out
    }
}

/// The settings a check runs with: its own over the process's, with the
/// built-in defaults where nothing was set.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) grace: Duration,
    pub(crate) mode: Mode,
    pub(crate) backtraces: Backtraces,
    pub(crate) rules: Rules,
}

impl Settings {
    /// `own` (a check's layer) over `base` (the process's, merged once).
    pub(crate) fn resolve(own: Layer, base: &'static Layer) -> Settings {
        Settings {
            grace: own.grace.or(base.grace).unwrap_or(DEFAULT_GRACE),
            mode: own.mode.or(base.mode).unwrap_or(Mode::Fail),
            backtraces: own
                .backtraces
                .or(base.backtraces)
                .unwrap_or(Backtraces::Full),
            rules: Rules {
                own: own.ignore,
                shared: &base.ignore,
                test: None,
            },
        }
    }
}

/// The ignore rules in force for one check: its own, then the process's
/// (kept where they are, not copied per check), and the test they judge
/// for, whose own frames no rule matches.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rules {
    own: Vec<Ignore>,
    shared: &'static [Ignore],
    test: Option<String>,
}

impl Rules {
    /// The check's own rules and the process's, apart: the process's are
    /// the same slice for every check.
    pub(crate) fn parts(&self) -> (&[Ignore], &'static [Ignore]) {
        (&self.own, self.shared)
    }

    /// The test being checked (`module::test_fn`, as libtest names its
    /// thread), if known.
    pub(crate) fn test(&self) -> Option<&str> {
        self.test.as_deref()
    }

    /// These rules, judging for `test`.
    pub(crate) fn for_test(self, test: Option<String>) -> Rules {
        Rules { test, ..self }
    }

    /// Rules in their order of precedence.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Ignore> + Clone {
        self.own.iter().chain(self.shared)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.own.is_empty() && self.shared.is_empty()
    }

    /// Does a rule need function names (spawn-site frames)?
    pub(crate) fn need_frames(&self) -> bool {
        self.iter().any(Ignore::is_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    fn rule(p: &str) -> Ignore {
        Ignore::parse(p, Origin::Configure("here:1")).unwrap()
    }

    /// Each setting from the nearest layer that has it; rules from all.
    #[test]
    fn the_nearest_layer_wins_and_rules_add_up() {
        let check = Layer {
            grace: Some(Duration::from_millis(1)),
            ignore: vec![rule("a::b")],
            ..Layer::default()
        };
        let env = Layer {
            grace: Some(Duration::from_millis(2)),
            mode: Some(Mode::Warn),
            ..Layer::default()
        };
        let file = Layer {
            mode: Some(Mode::Off),
            backtraces: Some(Backtraces::Short),
            suite_gate: Some(true),
            ignore: vec![rule("c.rs")],
            ..Layer::default()
        };
        let m = Layer::merge([&check, &env, &Layer::default(), &file]);
        assert_eq!(m.grace, Some(Duration::from_millis(1)));
        assert_eq!(m.mode, Some(Mode::Warn));
        assert_eq!(m.backtraces, Some(Backtraces::Short));
        assert_eq!(m.suite_gate, Some(true));
        assert_eq!(m.ignore, [rule("a::b"), rule("c.rs")]);
        let base: &'static Layer = Box::leak(Box::new(Layer::merge([&env, &file])));
        let s = Settings::resolve(check, base);
        assert_eq!(s.grace, Duration::from_millis(1));
        assert_eq!(s.mode, Mode::Warn);
        assert_eq!(s.rules.iter().count(), 2);
        let none = Settings::resolve(Layer::default(), Box::leak(Box::default()));
        assert_eq!(
            (none.grace, none.mode, none.backtraces),
            (DEFAULT_GRACE, Mode::Fail, Backtraces::Full)
        );
    }
}
