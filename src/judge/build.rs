//! The report's tasks, built from the survivors the rules did not hide.

use std::collections::HashMap;

use super::rules::{ByFrames, BySites, by_frames, by_sites};
use super::symbols;
use super::{Inputs, Survivor};
use crate::capture::registry::TaskRecord;
use crate::config::Backtraces;
use crate::config::ignore::Use;
use crate::report::{LeakedTask, SpawnSite};
use crate::task::Kind;
use crate::task::frame::{Frame, in_workspace, user_frames};

/// Drops the ignored survivors and builds the report of the others,
/// resolving symbols only where a rule or the report needs them.
pub(super) fn leaked_tasks(
    survivors: &[Survivor],
    inputs: &Inputs<'_>,
    uses: &mut [Use],
) -> Vec<LeakedTask> {
    let show_chain = inputs.backtraces != Backtraces::Off;
    // Frames may be captured for path rules alone (TASKLEAK_BACKTRACE=short
    // with a path rule in force): shown only when asked for.
    let show_frames = inputs.backtraces == Backtraces::Full;
    // Tasks from one place share their stack of return addresses: what the
    // frame rules say of a stack, and its frames, are worked out once per
    // distinct stack (a leak of 10^6 tasks from one site resolves one).
    let mut judged: HashMap<&[usize], Judged> = HashMap::new();
    let mut resolved: HashMap<&[usize], Vec<Frame>> = HashMap::new();
    survivors
        .iter()
        .filter_map(|s| {
            let r = &*s.record;
            let stack = &r.frames[..];
            let yours = match by_sites(r, inputs.rules, show_chain, uses) {
                BySites::Ignored => return None,
                BySites::Undecided => match judged.entry(stack).or_insert_with(|| {
                    match by_frames(r, inputs.rules, inputs.symbols, uses) {
                        ByFrames::Ignored => Judged::Ignored,
                        ByFrames::Reported(all) => Judged::Reported(user_frames(&all)),
                        ByFrames::Unknown => Judged::Unknown,
                    }
                }) {
                    Judged::Ignored => return None,
                    Judged::Reported(yours) => Some(&*yours),
                    Judged::Unknown => None,
                },
                BySites::Reported => None,
            };
            // A report resolves frames only to show them, or to point from
            // a dependency's spawn site back into the workspace.
            let needed = show_frames || !in_workspace(r.location.file());
            let yours: &[Frame] = match yours {
                Some(yours) => yours,
                None if needed => resolved
                    .entry(stack)
                    .or_insert_with(|| user_frames(&symbols::resolve(inputs.symbols, stack))),
                None => &[],
            };
            let mut task = LeakedTask::new(r.id, r.kind, r.location);
            task.parent = r.parent_id;
            task.age = s.age;
            task.chain = if show_chain { chain(r) } else { Vec::new() };
            task.chain_cut = show_chain && r.parent_id.is_some() && r.parent.is_none();
            task.reached_from = reached_from(r.location.file(), yours);
            task.backtrace = if show_frames {
                yours.to_vec()
            } else {
                Vec::new()
            };
            task.running = r
                .running
                .as_deref()
                .map(<[String]>::to_vec)
                .unwrap_or_default();
            task.after_check = r.adrift_from().map(|a| {
                let closed = a.parent.as_deref().and_then(|p| p.scope());
                let name = closed.and_then(|s| s.name.clone());
                name.unwrap_or_else(|| "<unnamed thread>".into())
            });
            task.unchecked_test = r
                .scope()
                .filter(|s| !s.claimed())
                .map(|s| s.name.clone().unwrap_or_else(|| "<unnamed thread>".into()));
            task.activity = s.activity;
            task.activity_lost =
                s.activity.is_none() && r.kind == Kind::Task && crate::capture::TRACKING;
            Some(task)
        })
        .collect()
}

/// What the frame rules said of one stack of return addresses.
enum Judged {
    Ignored,
    /// Not hidden: the user's frames of it.
    Reported(Vec<Frame>),
    /// A frame is not known to the symbols given.
    Unknown,
}

/// For a spawn site in a dependency (a library spawning for the user):
/// the innermost of the user's frames that lies in the workspace.
pub(super) fn reached_from(spawn_site: &str, yours: &[Frame]) -> Option<Frame> {
    if in_workspace(spawn_site) {
        return None;
    }
    yours.iter().find(|f| f.in_workspace()).cloned()
}

/// The ancestors' spawn sites, parent first; where the chain was cut,
/// the nearest ones the cut kept.
fn chain(record: &TaskRecord) -> Vec<SpawnSite> {
    let mut out = Vec::new();
    let mut last = record;
    while let Some(p) = last.parent.as_deref() {
        out.push(SpawnSite {
            task: p.id,
            location: p.location,
        });
        last = p;
    }
    out.extend(
        last.cut_ancestors
            .iter()
            .map(|&(task, location)| SpawnSite { task, location }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::one_leak;
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// Counts the addresses it is asked for.
    struct Counting(AtomicUsize);

    impl symbols::Symbols for Counting {
        fn frames(&self, ip: usize) -> Option<Arc<[Frame]>> {
            self.0.fetch_add(1, Relaxed);
            symbols::Resolving.frames(ip)
        }
    }

    /// A thousand tasks from one place share one stack: its frames are
    /// looked up once, not once per task (10^6 leaks, one site, stay
    /// seconds of work).
    #[test]
    fn one_stack_is_resolved_once_however_many_tasks_share_it() {
        use crate::BuilderExt;
        use crate::capture::{registry, scope::Scope, survivors};
        let rt = tokio::runtime::Builder::new_current_thread()
            .track_tasks()
            .build()
            .unwrap();
        let scope = Scope::open();
        let tasks: Vec<_> = (0..1000)
            .map(|_| rt.spawn(std::future::pending::<()>()))
            .collect();
        scope.close();
        let survivors = survivors::now(registry::survivors(&scope));
        if crate::capture::TRACKING {
            assert_eq!(survivors.len(), 1000);
            let stack = survivors[0].record.frames.len();
            assert!(stack > 0);
            let counting = Counting(AtomicUsize::new(0));
            let inputs = Inputs {
                rules: &crate::config::Rules::default(),
                mode: crate::config::Mode::Fail,
                backtraces: Backtraces::Full,
                baseline: None,
                symbols: &counting,
            };
            let built = leaked_tasks(&survivors, &inputs, &mut []);
            assert_eq!(built.len(), 1000);
            assert_eq!(counting.0.load(Relaxed), stack);
            assert_eq!(built[0].backtrace, built[999].backtrace);
        }
        for t in tasks {
            t.abort();
        }
    }

    #[test]
    fn a_spawn_in_a_dependency_is_reached_from_the_first_workspace_frame() {
        let pool = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/\
                    hyper-util-0.1.10/src/client/legacy/pool.rs";
        let yours = [
            Frame::new(
                "hyper_util::rt::tokio::TokioExecutor::execute".into(),
                Some(Path::new(pool)),
                Some(127),
            ),
            Frame::new(
                "reqwest::Client::get".into(),
                Some(Path::new(
                    "/home/u/.cargo/registry/src/x/reqwest-0.12.0/src/client.rs",
                )),
                Some(9),
            ),
            Frame::new(
                "client::fetch".into(),
                Some(Path::new("tests/client.rs")),
                Some(42),
            ),
            Frame::new(
                "client::main".into(),
                Some(Path::new("tests/client.rs")),
                Some(50),
            ),
        ];
        let at = reached_from(pool, &yours).unwrap();
        assert_eq!((at.file(), at.line()), (Some("tests/client.rs"), Some(42)));
        // The report leads with it, right under the spawn site.
        let mut leaks = one_leak();
        leaks.tasks[0].reached_from = Some(at);
        let report = leaks.to_string();
        let site = report.find("spawned at ").unwrap();
        let reached = report
            .find("reached from tests/client.rs:42 (client::fetch)")
            .unwrap_or_else(|| panic!("{report}"));
        assert!(
            site < reached && !report[site..reached].contains("activity"),
            "{report}"
        );
        // A spawn site in the workspace needs no pointer.
        assert!(reached_from("tests/client.rs", &yours).is_none());
    }
}
