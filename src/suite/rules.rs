//! The run's tally of ignore rules: every rule a check or the process's
//! configuration put in force, once per (pattern, origin) however many
//! checks use it, and whether any check used it. At the end of the test
//! binary a rule that matched nothing can be pointed out (ignore lists rot
//! otherwise), in time linear in the number of distinct rules.
//!
//! Checks never mark rules while they judge: the judge returns each
//! rule's [`Use`] with its verdict, and the output step records it here.

use std::collections::{HashMap, HashSet};

use parking_lot::Mutex;

use crate::config::ignore::Use;
use crate::config::{Ignore, Origin};

struct Tally {
    rules: Vec<(String, Origin, Use)>,
    /// Rules by where they were written (a config file's rule has a line
    /// of its own; one check's or `configure!`'s rules share one), so a
    /// lookup allocates nothing.
    index: HashMap<Origin, Vec<usize>>,
    /// The process's shared rule lists already registered, by address:
    /// every check stands on the same one, which may hold 10^5 rules.
    shared: HashSet<usize>,
}

static TALLY: Mutex<Option<Tally>> = Mutex::new(None);

fn with_tally<T>(f: impl FnOnce(&mut Tally) -> T) -> T {
    let mut tally = TALLY.lock();
    f(tally.get_or_insert_with(|| Tally {
        rules: Vec::new(),
        index: HashMap::new(),
        shared: HashSet::new(),
    }))
}

impl Tally {
    fn slot(&mut self, rule: &Ignore) -> &mut Use {
        let same = self.index.entry(rule.origin()).or_default();
        let found = same
            .iter()
            .copied()
            .find(|&i| self.rules[i].0 == rule.pattern());
        let i = match found {
            Some(i) => i,
            None => {
                same.push(self.rules.len());
                let (pattern, origin) = (rule.pattern().to_owned(), rule.origin());
                self.rules.push((pattern, origin, Use::default()));
                self.rules.len() - 1
            }
        };
        &mut self.rules[i].2
    }
}

/// Puts `rules` in the tally, unused until a check says otherwise.
pub(crate) fn register<'a>(rules: impl IntoIterator<Item = &'a Ignore>) {
    with_tally(|t| {
        for rule in rules {
            t.slot(rule);
        }
    });
}

/// [`register`] for the process's rules, which every check shares: the
/// first call registers them, later ones cost a set lookup.
pub(crate) fn register_shared(rules: &'static [Ignore]) {
    with_tally(|t| {
        if t.shared.insert(rules.as_ptr() as usize) {
            for rule in rules {
                t.slot(rule);
            }
        }
    });
}

/// Adds what one check learnt of its rules. A rule the check learnt
/// nothing of is left alone (it was registered when the check began).
pub(crate) fn record<'a>(uses: impl IntoIterator<Item = (&'a Ignore, Use)>) {
    with_tally(|t| {
        for (rule, used) in uses {
            if used != Use::default() {
                let slot = t.slot(rule);
                *slot = slot.and(used);
            }
        }
    });
}

/// A rule that matched no task, for the notice at exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stale {
    pub(crate) pattern: String,
    pub(crate) origin: String,
    /// A `file:line` rule whose file held a spawn at another line.
    pub(crate) same_file: bool,
}

/// Rules that matched nothing in this process, with where they were
/// written, and whose staleness this process can tell: a check's own
/// rules (registered only when the check ran), and `configure!`'s when
/// `whole_binary` (it ran every test of the binary, which `configure!`
/// belongs to). Never the config file's: every test binary of the
/// workspace stands on them, and one binary cannot tell that none of the
/// others needs a rule. Nor rules that could not be judged.
pub(crate) fn stale(whole_binary: bool) -> Vec<Stale> {
    with_tally(|t| {
        t.rules
            .iter()
            .filter(|(_, origin, used)| {
                let judged_here = match origin {
                    Origin::Check(_) => true,
                    Origin::Configure(_) => whole_binary,
                    Origin::File(_) => false,
                };
                judged_here && !used.matched && !used.blind
            })
            .map(|(pattern, origin, used)| Stale {
                pattern: pattern.clone(),
                origin: origin.to_string(),
                same_file: used.same_file,
            })
            .collect()
    })
}

/// Every rule in force in this process, and what the checks learnt of
/// it: the process's ledger, for the run-level judgement.
pub(crate) fn all() -> Vec<(String, Origin, Use)> {
    with_tally(|t| t.rules.clone())
}

/// Is any rule in force in this process (registered by a check or the
/// process's configuration)?
pub(crate) fn any() -> bool {
    with_tally(|t| !t.rules.is_empty())
}

/// How many distinct rules with `pattern` are in the tally (other tests
/// of this process register theirs meanwhile).
#[cfg(test)]
fn registered(pattern: &str) -> usize {
    with_tally(|t| t.rules.iter().filter(|(p, ..)| p == pattern).count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::Location;

    /// A check's use of `rule` on one task, as the judge reports it.
    fn judged(rule: &Ignore, function: Option<&str>, location: Option<(&str, u32)>) {
        let used = Use {
            matched: function.is_some_and(|f| rule.matches_function(f))
                || location.is_some_and(|(f, l)| rule.matches_location(f, l)),
            same_file: location.is_some_and(|(f, l)| rule.same_file_elsewhere(f, l)),
            blind: false,
        };
        record([(rule, used)]);
    }

    #[test]
    fn a_rule_that_never_matched_is_stale_until_it_does() {
        let r = Ignore::parse("stale_probe::x", Origin::Configure("here:1")).unwrap();
        register([&r]);
        let is_stale = |wide| {
            stale(wide).iter().any(|s| {
                s.pattern == "stale_probe::x" && s.origin == "taskleak::configure! at here:1"
            })
        };
        assert!(is_stale(true));
        assert!(!is_stale(false), "configure! rules need the whole binary");
        assert!(r.matches_function("stale_probe::x::run"));
        judged(&r, Some("stale_probe::x::run"), None);
        assert!(!is_stale(true));
    }

    #[test]
    fn parsing_registers_nothing_and_one_rule_used_by_many_checks_is_one_entry() {
        let at = Location::caller();
        let before = registered("dedup_probe::x");
        let _first = Ignore::parse("dedup_probe::x", Origin::Check(at)).unwrap();
        assert_eq!(registered("dedup_probe::x"), before, "parsing is pure");
        for _ in 0..100_000 {
            let r = Ignore::parse("dedup_probe::x", Origin::Check(at)).unwrap();
            register([&r]);
        }
        assert_eq!(registered("dedup_probe::x"), before + 1);
        let again = Ignore::parse("dedup_probe::x", Origin::Check(at)).unwrap();
        register([&again]);
        assert!(again.matches_function("dedup_probe::x"));
        judged(&again, Some("dedup_probe::x"), None);
        // The registered copy shares the flag: no longer stale.
        assert!(!stale(false).iter().any(|s| s.pattern == "dedup_probe::x"));
    }

    #[test]
    fn a_path_rule_that_met_no_frames_is_not_stale() {
        let r = Ignore::parse("blind_probe::x", Origin::Check(Location::caller())).unwrap();
        register([&r]);
        let blind = Use {
            blind: true,
            ..Use::default()
        };
        record([(&r, blind)]);
        assert!(!stale(false).iter().any(|s| s.pattern == "blind_probe::x"));
    }

    #[test]
    fn a_line_rule_remembers_a_spawn_elsewhere_in_its_file() {
        let r = Ignore::parse("src/line_probe.rs:7", Origin::Check(Location::caller())).unwrap();
        register([&r]);
        assert!(!r.matches_location("src/line_probe.rs", 9));
        judged(&r, None, Some(("src/line_probe.rs", 9)));
        let s = stale(false);
        let s = s
            .iter()
            .find(|s| s.pattern == "src/line_probe.rs:7")
            .unwrap();
        assert!(s.same_file);
    }
}
