//! Judging: a pure function from a snapshot of what survived a check (the
//! records, their activity, counts the fallback saw), the rules, the mode
//! and the baseline, to a [`Judgement`]: what leaked, what the baseline
//! already knew, and what each rule learnt. No I/O and no global state:
//! the caller took the snapshot, and `outputs` turns the judgement into
//! everything the user sees (goleak's pure `Find` and the thin wrappers
//! around it).

mod build;
pub(crate) mod growth;
pub(crate) mod rules;
pub(crate) mod site;
pub(crate) mod symbols;
pub(crate) mod symcache;
pub(crate) mod test_end;

use std::time::Duration;

pub(crate) use crate::capture::survivors::Survivor;
use crate::capture::threads::LeakedThread;
use crate::config::ignore::Use;
use crate::config::{Backtraces, Mode, Rules};
use crate::report::Leaks;
use crate::suite::baseline::{Baseline, Binary, Grown};
use symbols::Symbols;

/// Where a snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum At {
    /// A test's check (or a guard's, outside any test).
    Check,
    /// The suite gate, at the end of the binary: no test to file it under.
    SuiteEnd,
    /// The test's runtime shut down while its check waited: the survivors
    /// were cancelled, and no dump can be taken.
    Shutdown,
}

/// What a check saw when its wait ended.
pub(crate) struct Snapshot {
    pub(crate) test: Option<String>,
    /// How long the check waited.
    pub(crate) waited: Duration,
    pub(crate) survivors: Vec<Survivor>,
    /// Tasks known only by number (the counting fallback).
    pub(crate) counted: usize,
    /// `spawn_blocking` closures still running, known only by number.
    pub(crate) blocking: usize,
    pub(crate) threads: Vec<LeakedThread>,
    /// The check blocked a runtime thread while it waited.
    pub(crate) blocked_runtime: bool,
    pub(crate) at: At,
}

/// Everything else a judgement depends on.
pub(crate) struct Inputs<'a> {
    pub(crate) rules: &'a Rules,
    pub(crate) mode: Mode,
    pub(crate) backtraces: Backtraces,
    /// The baseline of known leaks and this binary in it; `None`
    /// when there is none to apply (recording, or not a test's check).
    pub(crate) baseline: Option<(&'a Baseline, &'a Binary)>,
    pub(crate) symbols: &'a dyn Symbols,
}

/// A leak the baseline lists: where it is filed, and the entry it matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Known {
    pub(crate) site: String,
    pub(crate) entry: String,
}

/// The verdict of one check, as a value.
#[derive(Clone)]
pub(crate) struct Judgement {
    pub(crate) mode: Mode,
    /// What leaked beyond the rules and the baseline; `None` when nothing.
    pub(crate) leaks: Option<Leaks>,
    /// Where each of `leaks`'s tasks is filed, in order.
    pub(crate) sites: Vec<String>,
    /// Leaks the baseline lists: they pass.
    pub(crate) known: Vec<Known>,
    /// Baseline entries of the test that now have more tasks than they
    /// record: those tasks are in `leaks`.
    pub(crate) grown: Vec<Grown>,
    /// What each rule learnt, in `Rules::iter` order.
    pub(crate) uses: Vec<Use>,
    /// The test it was made for, when it is a test's (summary, baseline).
    pub(crate) test: Option<String>,
}

impl Judgement {
    /// Did anything leak, whatever the mode and the baseline say?
    pub(crate) fn leaked(&self) -> bool {
        self.leaks.is_some() || !self.known.is_empty()
    }

    /// The judgement of a check that found nothing.
    pub(crate) fn clean(mode: Mode, uses: Vec<Use>) -> Judgement {
        Judgement {
            mode,
            leaks: None,
            sites: Vec::new(),
            known: Vec::new(),
            grown: Vec::new(),
            uses,
            test: None,
        }
    }
}

/// The verdict on `snapshot`.
pub(crate) fn judge(snapshot: Snapshot, inputs: &Inputs<'_>) -> Judgement {
    let mut uses = vec![Use::default(); inputs.rules.iter().count()];
    let tasks = build::leaked_tasks(&snapshot.survivors, inputs, &mut uses);
    let mut leaks = Leaks::new(snapshot.test, snapshot.waited);
    // Blocking tasks recorded by taskleak::spawn_blocking are listed with
    // their spawn sites; only the rest are a bare count.
    let listed = tasks.iter().filter(|t| t.is_blocking()).count();
    leaks.blocking = snapshot.blocking.saturating_sub(listed);
    leaks.tasks = tasks;
    leaks.counted = snapshot.counted;
    leaks.threads = snapshot.threads;
    leaks.blocked_runtime = snapshot.blocked_runtime;
    leaks.suite_end = snapshot.at == At::SuiteEnd;
    if snapshot.at == At::Shutdown {
        leaks.dumped = cfg!(taskleak_taskdump);
        for task in &mut leaks.tasks {
            task.cancelled();
        }
    }
    // A test's leaks are filed for the summary and the baseline; the suite
    // gate's, and a check outside any test (an example's `main`), are not.
    let test = leaks.test.clone().filter(|_| snapshot.at != At::SuiteEnd);
    // A leak outside any test cannot be recorded, nor one without a spawn
    // site (a build without `--cfg tokio_unstable`): it fails instead.
    let mode = match inputs.mode {
        Mode::Record if test.is_none() || !crate::capture::TRACKING => Mode::Fail,
        mode => mode,
    };
    let mut judgement = Judgement::clean(mode, uses);
    judgement.test = test.clone();
    if leaks.is_empty() {
        return judgement;
    }
    let mut sites: Vec<String> = leaks.tasks.iter().map(site::of).collect();
    if let (Some(test), Some((baseline, binary))) = (&test, inputs.baseline) {
        let (entries, grown) = baseline.classify(binary, test, &sites);
        judgement.grown = grown;
        let tasks = std::mem::take(&mut leaks.tasks);
        let mut kept_sites = Vec::new();
        for ((task, site), entry) in tasks.into_iter().zip(sites).zip(entries) {
            match entry {
                Some(entry) => judgement.known.push(Known { site, entry }),
                None => {
                    leaks.tasks.push(task);
                    kept_sites.push(site);
                }
            }
        }
        sites = kept_sites;
    }
    if !leaks.is_empty() {
        if !judgement.grown.is_empty() {
            leaks.extra_mut().grown = judgement.grown.clone();
        }
        judgement.sites = sites;
        judgement.leaks = Some(leaks);
    }
    judgement
}

#[cfg(test)]
mod tests {
    use super::symbols::Cached;
    use super::*;
    use crate::BuilderExt;
    use crate::capture::{registry, scope::Scope, survivors};
    use crate::config::{Ignore, Layer, Origin, Settings};

    /// The same snapshot judged twice gives the same judgement, and which
    /// rules it used comes back as data: judging marks nothing.
    #[test]
    fn judging_is_pure_and_returns_what_each_rule_learnt() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .track_tasks()
            .build()
            .unwrap();
        let scope = Scope::open();
        let task = rt.spawn(std::future::pending::<()>());
        scope.close();
        let rule = |p| Ignore::parse(p, Origin::Configure("here:1")).unwrap();
        let own = Layer {
            ignore: vec![rule("no_such_crate::x"), rule("src/judge/mod.rs")],
            ..Layer::default()
        };
        let settings = Settings::resolve(own, Box::leak(Box::default()));
        let judged = || {
            let snapshot = Snapshot {
                test: Some("t".into()),
                waited: Duration::ZERO,
                survivors: survivors::now(registry::survivors(&scope)),
                counted: 0,
                blocking: 0,
                threads: Vec::new(),
                blocked_runtime: false,
                at: At::Check,
            };
            let inputs = Inputs {
                rules: &settings.rules,
                mode: Mode::Fail,
                backtraces: Backtraces::Short,
                baseline: None,
                symbols: &Cached,
            };
            judge(snapshot, &inputs)
        };
        let (first, second) = (judged(), judged());
        if crate::capture::TRACKING {
            // Ignored by its spawn site: the file rule matched, the path
            // rule never had to.
            assert!(first.leaks.is_none() && !first.leaked());
            assert!(first.uses[1].matched && !first.uses[0].matched);
        }
        assert_eq!(first.uses, second.uses);
        assert_eq!(first.leaks.is_some(), second.leaks.is_some());
        task.abort();
    }
}
