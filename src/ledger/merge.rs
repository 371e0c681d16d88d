//! The whole run's judgement, from every ledger of it: a pure function of
//! the ledgers, the binaries' test lists and the baseline.
//!
//! Run-level facts are decided only where the run can know them: a rule
//! is stale, a baseline entry fixed, only when nothing matched it in a
//! run of everything it applies to, with spawn sites visible; a test ran
//! without a check only where the run is known to have run it.

use std::collections::{BTreeMap, BTreeSet};

use super::invocation::Coverage;
use super::load::Run;
use super::{Ledger, RuleKind};
use crate::suite::baseline::{Baseline, Binary};
use crate::suite::summary::{Entry, State};

/// A rule that matched nothing in the whole run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StaleRule {
    pub(crate) kind: RuleKind,
    pub(crate) pattern: String,
    pub(crate) origin: String,
}

/// Tests of one module of one binary that ran without a leak check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unchecked {
    /// The binary as nextest names it (`my-crate`, `my-crate::client`).
    pub(crate) binary: String,
    /// The tests' module path (`""` for the binary's top level).
    pub(crate) module: String,
    pub(crate) tests: Vec<String>,
}

/// The run's judgement.
#[derive(Debug, Default)]
pub(crate) struct RunVerdict {
    pub(crate) coverage: Option<Coverage>,
    /// Every process saw spawn sites.
    pub(crate) sites: bool,
    /// Summary entries; tests named `<binary> <test>`.
    pub(crate) entries: Vec<Entry>,
    /// Tests that ran under a check, `<binary> <test>`.
    pub(crate) checked_tests: Vec<String>,
    pub(crate) checked: usize,
    pub(crate) unchecked: Vec<Unchecked>,
    /// Binaries whose unchecked tests could not be counted (the run chose
    /// some of their tests: which ran is not known).
    pub(crate) uncounted: Vec<String>,
    pub(crate) stale: Vec<StaleRule>,
    /// Why rules (all, or those of the config file) were not judged.
    pub(crate) rules_not_judged: Option<String>,
    /// Ledgers cut short.
    pub(crate) broken: usize,
    /// How many processes' ledgers.
    pub(crate) processes: usize,
}

impl RunVerdict {
    /// Leaks that fail a run: not in the baseline, or more tasks than it
    /// records.
    pub(crate) fn new_leaks(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.state, State::Leaked | State::Warned | State::Grown))
    }

    /// What `--strict` also fails on: rules that matched nothing, entries
    /// that no longer leak.
    pub(crate) fn stale_or_fixed(&self) -> bool {
        !self.stale.is_empty() || self.entries.iter().any(|e| e.state == State::Fixed)
    }
}

/// A binary as nextest names it: the package for its unit tests, else
/// `package::binary`.
pub(crate) fn label(package: &str, binary: &str) -> String {
    if package.is_empty() || package.replace('-', "_") == binary {
        if package.is_empty() {
            binary.to_owned()
        } else {
            package.to_owned()
        }
    } else {
        format!("{package}::{binary}")
    }
}

/// What the run covered, from every invocation in it: whole, or every
/// partition of one, or a part.
fn coverage(ledgers: &[Ledger]) -> Coverage {
    let mut parts: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    let mut whole = false;
    for l in ledgers {
        match l.invocation.coverage() {
            Coverage::Whole => whole = true,
            Coverage::Partition(k, n) => {
                parts.entry(n).or_default().insert(k);
            }
            part @ Coverage::Part(_) => return part,
        }
    }
    if whole {
        return Coverage::Whole;
    }
    for (n, ks) in &parts {
        if ks.len() as u32 != *n {
            let missing: Vec<String> = (1..=*n)
                .filter(|k| !ks.contains(k))
                .map(|k| format!("{k}/{n}"))
                .collect();
            return Coverage::Part(format!(
                "partitions {} of the run are not among the ledgers given",
                missing.join(", ")
            ));
        }
    }
    Coverage::Whole
}

/// Judges the run. `baselines`: each baseline the ledgers name (by the
/// path they give), read.
pub(crate) fn judge(run: &Run, baselines: &BTreeMap<String, Baseline>) -> RunVerdict {
    let ledgers = &run.ledgers;
    let mut v = RunVerdict {
        broken: run.broken,
        processes: ledgers.len(),
        sites: ledgers.iter().all(|l| l.sites),
        ..RunVerdict::default()
    };
    if ledgers.is_empty() {
        return v;
    }
    let coverage = coverage(ledgers);
    let whole_run = coverage == Coverage::Whole;

    // Per binary: tests checked, leaks (max over processes: nextest may
    // run a test twice), known leaks, growth.
    type Key = (String, String);
    let mut checked: BTreeMap<Key, BTreeSet<&str>> = BTreeMap::new();
    let mut leaked: BTreeMap<(Key, &str, &str), (usize, bool)> = BTreeMap::new();
    let mut known: BTreeMap<(Key, &str, &str, &str), usize> = BTreeMap::new();
    let mut grown: BTreeMap<(Key, &str, &str), (usize, usize)> = BTreeMap::new();
    let mut whole_binary: BTreeSet<Key> = BTreeSet::new();
    let mut baseline_of: BTreeMap<Key, &str> = BTreeMap::new();
    for l in ledgers {
        let key = (l.package.clone(), l.binary.clone());
        checked
            .entry(key.clone())
            .or_default()
            .extend(l.checked.iter().map(String::as_str));
        for ((t, s), n) in &l.leaked {
            // A recording process wrote its leaks to the baseline: they
            // are known now, each its own entry.
            if l.record {
                let slot = known.entry((key.clone(), t, s, s)).or_default();
                *slot = (*slot).max(*n);
                continue;
            }
            let slot = leaked.entry((key.clone(), t, s)).or_default();
            slot.0 = slot.0.max(*n);
            slot.1 |= l.warned.contains(t);
        }
        for ((t, s, e), n) in &l.known {
            let slot = known.entry((key.clone(), t, s, e)).or_default();
            *slot = (*slot).max(*n);
        }
        for ((t, e), g) in &l.grown {
            grown.insert((key.clone(), t, e), *g);
        }
        if l.whole && !l.per_test {
            whole_binary.insert(key.clone());
        }
        baseline_of.insert(key, &l.baseline);
    }
    let name = |key: &Key, test: &str| format!("{} {test}", label(&key.0, &key.1));

    for ((key, t, s), (n, warned)) in &leaked {
        let state = if *warned {
            State::Warned
        } else {
            State::Leaked
        };
        v.entries
            .push(Entry::new(state, &name(key, t), s).tasks(*n));
    }
    // Tasks each entry matched, per test.
    let mut matched: BTreeMap<(Key, &str, &str), usize> = BTreeMap::new();
    for ((key, t, s, e), n) in &known {
        *matched.entry((key.clone(), t, e)).or_default() += n;
        v.entries.push(Entry::known(&name(key, t), s).tasks(*n));
        if s != e {
            v.entries.push(Entry::moved(&name(key, t), e, s).tasks(*n));
        }
    }
    for ((key, t, e), (recorded, now)) in &grown {
        v.entries
            .push(Entry::changed(&name(key, t), e, *now, *recorded));
    }
    // Fixed and fewer: per test, so a part of the run can tell them for
    // the tests it ran; never without spawn sites.
    for (key, tests) in &checked {
        let Some(baseline) = baseline_of.get(key).and_then(|p| baselines.get(*p)) else {
            continue;
        };
        let sites = ledgers
            .iter()
            .filter(|l| (&l.package, &l.binary) == (&key.0, &key.1))
            .all(|l| l.sites);
        if !sites {
            continue;
        }
        let binary = Binary::new(&key.0, &key.1);
        for (t, s, recorded) in baseline.entries(&binary) {
            if !tests.contains(t) || grown.contains_key(&(key.clone(), t, s)) {
                continue;
            }
            match matched.get(&(key.clone(), t, s)) {
                None => v.entries.push(Entry::fixed(&name(key, t), s)),
                Some(now) if recorded.is_some_and(|r| *now < r) => v.entries.push(Entry::changed(
                    &name(key, t),
                    s,
                    *now,
                    recorded.unwrap_or(0),
                )),
                Some(_) => {}
            }
        }
    }
    v.checked = checked.values().map(BTreeSet::len).sum();
    v.checked_tests = checked
        .iter()
        .flat_map(|(key, tests)| tests.iter().map(move |t| name(key, t)))
        .collect();

    // Tests that ran without a check.
    for (key, list) in &run.lists {
        let ran_all = whole_run || whole_binary.contains(key);
        let label = label(&key.0, &key.1);
        if !ran_all {
            v.uncounted.push(label);
            continue;
        }
        let empty = BTreeSet::new();
        let done = checked.get(key).unwrap_or(&empty);
        let mut by_module: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for t in list.run_by_default().filter(|t| !done.contains(t.as_str())) {
            let module = t.rsplit_once("::").map_or("", |(m, _)| m);
            by_module.entry(module).or_default().push(t.clone());
        }
        for (module, tests) in by_module {
            v.unchecked.push(Unchecked {
                binary: label.clone(),
                module: module.to_owned(),
                tests,
            });
        }
    }
    v.unchecked.sort_by(|a, b| {
        b.tests
            .len()
            .cmp(&a.tests.len())
            .then(a.binary.cmp(&b.binary))
    });

    // Rules: matched anywhere is used; judged only where the run covered
    // everything the rule applies to.
    v.rules_not_judged = if !v.sites {
        Some(
            "a process of the run could not see spawn sites (built without --cfg tokio_unstable)"
                .into(),
        )
    } else if let Coverage::Part(why) = &coverage {
        Some(format!(
            "the run was a part of the workspace's tests ({why}); the config file's rules apply to all of them"
        ))
    } else {
        None
    };
    let mut rules: BTreeMap<(StaleRule, Option<Key>), (bool, bool)> = BTreeMap::new();
    for l in ledgers {
        for r in &l.rules {
            let scope =
                (r.kind == RuleKind::Configure).then(|| (l.package.clone(), l.binary.clone()));
            let rule = StaleRule {
                kind: r.kind,
                pattern: r.pattern.clone(),
                origin: r.origin.clone(),
            };
            let slot = rules.entry((rule, scope)).or_default();
            slot.0 |= r.matched;
            slot.1 |= r.blind;
        }
    }
    for ((rule, scope), (matched, blind)) in rules {
        let judged = v.sites
            && match rule.kind {
                RuleKind::File => whole_run,
                RuleKind::Configure => {
                    whole_run || scope.is_some_and(|k| whole_binary.contains(&k))
                }
                RuleKind::Check => true,
            };
        if judged && !matched && !blind && !v.stale.contains(&rule) {
            v.stale.push(rule);
        }
    }
    v.coverage = Some(coverage);
    v
}

#[cfg(test)]
mod tests {
    use super::super::RuleUse;
    use super::super::invocation::Invocation;
    use super::super::load::TestList;
    use super::*;

    fn ledger(args: &str, binary: &str, checked: &[&str]) -> Ledger {
        Ledger {
            run: "r".into(),
            invocation: Invocation {
                args: args.split(' ').map(str::to_owned).collect(),
                cwd: "/w".into(),
                all_packages: true,
            },
            package: "p".into(),
            binary: binary.into(),
            whole: !args.contains("nextest"),
            per_test: args.contains("nextest"),
            sites: true,
            checked: checked.iter().map(|s| s.to_string()).collect(),
            baseline: "b.toml".into(),
            ..Ledger::default()
        }
    }

    fn file_rule(matched: bool) -> RuleUse {
        RuleUse {
            kind: RuleKind::File,
            pattern: "x::y".into(),
            origin: ".config/taskleak.toml:2".into(),
            matched,
            blind: false,
        }
    }

    fn run(ledgers: Vec<Ledger>) -> Run {
        let mut lists = BTreeMap::new();
        lists.insert(
            ("p".to_string(), "client".to_string()),
            TestList::from_libtest("a: test\nb: test\nm::c: test\nm::d: test\n", ""),
        );
        Run {
            ledgers,
            lists,
            ..Run::default()
        }
    }

    fn baselines() -> BTreeMap<String, Baseline> {
        let text = "[leaks.p.client]\na = { \"s:1\" = 1 }\nb = { \"s:2\" = 3 }\n\"m::c\" = { \"s:3\" = 1 }\n";
        BTreeMap::from([("b.toml".to_string(), Baseline::parse(text, "b").unwrap())])
    }

    /// One process per test, as three partitions: the same judgement as
    /// the unsharded run; one partition alone calls no rule stale.
    #[test]
    fn partitions_together_are_the_whole_run_and_one_alone_judges_no_rule() {
        let shard = |k: u32, binary: &str, checked: &[&str], matched: bool| {
            let mut l = ledger(
                &format!("cargo-nextest nextest run --partition hash:{k}/3"),
                binary,
                checked,
            );
            l.rules.push(file_rule(matched));
            l
        };
        let mut a = shard(1, "client", &["a"], false);
        a.leaked.insert(("a".into(), "s:1".into()), 2);
        let mut b = shard(2, "client", &["b"], false);
        b.known.insert(("b".into(), "s:2".into(), "s:2".into()), 1);
        let c = shard(3, "client", &["m::c"], false);
        let all = judge(&run(vec![a.clone(), b.clone(), c.clone()]), &baselines());
        assert_eq!(all.coverage, Some(Coverage::Whole));
        assert_eq!(all.stale.len(), 1, "{all:?}");
        assert_eq!(all.checked, 3);
        let states: Vec<(State, &str, usize)> = all
            .entries
            .iter()
            .map(|e| (e.state, e.site.as_str(), e.count))
            .collect();
        assert!(states.contains(&(State::Leaked, "s:1", 2)), "{states:?}");
        assert!(states.contains(&(State::Known, "s:2", 1)), "{states:?}");
        assert!(states.contains(&(State::Fewer, "s:2", 1)), "{states:?}");
        assert!(states.contains(&(State::Fixed, "s:3", 0)), "{states:?}");
        assert!(all.new_leaks());
        // `m::d` ran with no check.
        assert_eq!(all.unchecked.len(), 1);
        assert_eq!(all.unchecked[0].tests, ["m::d"]);
        assert_eq!(all.unchecked[0].binary, "p::client");

        let one = judge(&run(vec![c]), &baselines());
        assert!(matches!(one.coverage, Some(Coverage::Part(_))));
        assert!(one.stale.is_empty());
        assert!(one.unchecked.is_empty() && one.uncounted == ["p::client"]);
        // What ran here is still judged: `m::c` no longer leaks.
        assert!(one.entries.iter().any(|e| e.state == State::Fixed));
        // A rule matched on any shard is used.
        let used = judge(
            &run(vec![a, b, shard(3, "client", &[], true)]),
            &baselines(),
        );
        assert!(used.stale.is_empty());
    }

    /// A run under `TASKLEAK=record` wrote its leaks to the baseline: the
    /// report counts them as known, not as new leaks that fail it.
    #[test]
    fn a_recording_runs_leaks_are_known_not_new() {
        let mut l = ledger("cargo test --workspace", "client", &["a"]);
        l.record = true;
        l.leaked.insert(("a".into(), "s:9".into()), 2);
        let v = judge(&run(vec![l]), &BTreeMap::new());
        assert!(!v.new_leaks(), "{v:?}");
        let known: Vec<(State, usize)> = v.entries.iter().map(|e| (e.state, e.count)).collect();
        assert_eq!(known, [(State::Known, 2)]);
    }

    #[test]
    fn a_run_without_spawn_sites_judges_no_rule_and_no_entry() {
        let mut l = ledger("cargo test --workspace", "client", &["a", "m::c"]);
        l.sites = false;
        l.rules.push(file_rule(false));
        let v = judge(&run(vec![l]), &baselines());
        assert!(v.stale.is_empty() && v.rules_not_judged.is_some());
        assert!(!v.entries.iter().any(|e| e.state == State::Fixed));
    }

    #[test]
    fn a_known_leak_that_grew_fails_the_run() {
        let mut l = ledger("cargo test --workspace", "client", &["a"]);
        l.leaked.insert(("a".into(), "s:1".into()), 40);
        l.grown.insert(("a".into(), "s:1".into()), (1, 40));
        let v = judge(&run(vec![l]), &baselines());
        assert!(v.new_leaks());
        let grown: Vec<&Entry> = v
            .entries
            .iter()
            .filter(|e| e.state == State::Grown)
            .collect();
        assert_eq!(grown.len(), 1);
        assert_eq!((grown[0].count, grown[0].recorded), (40, Some(1)));
        assert!(!v.entries.iter().any(|e| e.state == State::Fixed));
    }
}
