//! The report's tasks, built from the survivors the rules did not hide.

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
    survivors
        .iter()
        .filter_map(|s| {
            let r = &*s.record;
            let all = match by_sites(r, inputs.rules, show_chain, uses) {
                BySites::Ignored => return None,
                BySites::Undecided => match by_frames(r, inputs.rules, inputs.symbols, uses) {
                    ByFrames::Ignored => return None,
                    ByFrames::Reported(all) => Some(all),
                    ByFrames::Unknown => None,
                },
                BySites::Reported => None,
            };
            // A report resolves frames only to show them, or to point from
            // a dependency's spawn site back into the workspace.
            let needed = show_frames || !in_workspace(r.location.file());
            let all = match all {
                Some(all) => all,
                None if needed => symbols::resolve(inputs.symbols, &r.frames),
                None => Vec::new(),
            };
            let yours = user_frames(&all);
            let mut task = LeakedTask::new(r.id, r.kind, r.location);
            task.parent = r.parent_id;
            task.age = s.age;
            task.chain = if show_chain { chain(r) } else { Vec::new() };
            task.chain_cut = show_chain && r.parent_id.is_some() && r.parent.is_none();
            task.reached_from = reached_from(r.location.file(), &yours);
            task.backtrace = if show_frames { yours } else { Vec::new() };
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
            task.activity = s.activity;
            task.activity_lost =
                s.activity.is_none() && r.kind == Kind::Task && crate::capture::TRACKING;
            Some(task)
        })
        .collect()
}

/// For a spawn site in a dependency (a library spawning for the user):
/// the innermost of the user's frames that lies in the workspace.
pub(super) fn reached_from(spawn_site: &str, yours: &[Frame]) -> Option<Frame> {
    if in_workspace(spawn_site) {
        return None;
    }
    yours.iter().find(|f| f.in_workspace()).cloned()
}

fn chain(record: &TaskRecord) -> Vec<SpawnSite> {
    let mut out = Vec::new();
    let mut next = record.parent.as_deref();
    while let Some(p) = next {
        out.push(SpawnSite {
            task: p.id,
            location: p.location,
        });
        next = p.parent.as_deref();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::one_leak;
    use std::path::Path;

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
